//! The AIMD pacer: equal to its reference model on random feedback and send
//! sequences (the rate always within `[floor, ceiling]`), and convergence to a
//! server's unknown rate within the band stated in `AimdPacer`'s docs, in a
//! deterministic simulation on a manual clock.

use ratecore_testkit::model::aimd as aimd_model;

use proptest::prelude::*;
use ratecore::client::{AimdConfig, AimdError, AimdPacer, PER_SECOND};
use ratecore::clock::ManualClock;
use ratecore::{Clock, Duration, Gcra, Instant, Limiter, Quota};

const HZ: u64 = 1_000_000;

#[derive(Clone, Copy, Debug)]
enum Op {
    Response(u32, u32),
    Throttled(Option<u64>),
    TryAcquire,
    Reserve,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<u32>(), any::<u32>()).prop_map(|(r, l)| Op::Response(r, l)),
        3 => (0u32..=100).prop_map(|r| Op::Response(r, 100)),
        2 => proptest::option::of(prop_oneof![0u64..=5_000_000, Just(u64::MAX)]).prop_map(Op::Throttled),
        3 => Just(Op::TryAcquire),
        1 => Just(Op::Reserve),
    ]
}

fn time_step() -> impl Strategy<Value = i64> {
    prop_oneof![4 => 0i64..=2_000_000, 1 => -1_000_000i64..=0, 1 => Just(i64::MAX)]
}

fn config() -> impl Strategy<Value = aimd_model::Config> {
    (
        prop_oneof![1u64..=10_000, Just(1), Just(u64::MAX)],
        prop_oneof![0u64..=1_000_000, Just(u64::MAX)],
        0u64..=1_000,
        prop_oneof![1u64..=20_000, Just(u64::MAX)],
        (1u32..=9, 2u32..=10),
        (0u32..=9, 1u32..=10),
    )
        .prop_filter_map("valid", |(floor, span, at, inc, (dn, dd), (hn, hd))| {
            let ceiling = floor.saturating_add(span);
            let start = floor + ((ceiling - floor) as u128 * at as u128 / 1_000) as u64;
            (dn < dd && hn < hd).then_some(aimd_model::Config {
                floor,
                ceiling,
                start,
                inc,
                decrease: (dn, dd),
                headroom: (hn, hd),
            })
        })
}

fn build(c: &aimd_model::Config) -> AimdPacer<HZ> {
    AimdPacer::new(
        AimdConfig::new(c.floor, c.ceiling)
            .start(c.start)
            .increase(c.inc)
            .decrease(c.decrease.0, c.decrease.1)
            .headroom(c.headroom.0, c.headroom.1),
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ratecore_testkit::config(512))]

    #[test]
    fn the_pacer_equals_the_model_and_stays_within_bounds(
        config in config(),
        steps in proptest::collection::vec((time_step(), op()), 1..150),
    ) {
        let pacer = build(&config);
        let mut model = aimd_model::Pacer::new(HZ, config);
        let mut now: u64 = 0;
        let mut last_next = 0;
        for (dt, op) in steps {
            now = if dt >= 0 { now.saturating_add(dt as u64) } else { now.saturating_sub(dt.unsigned_abs()) };
            let at = Instant::<HZ>::from_ticks(now);
            match op {
                Op::Response(r, l) => {
                    pacer.on_response(r, l);
                    model.response(r, l);
                }
                Op::Throttled(ra) => {
                    pacer.on_throttled_at(at, ra.map(Duration::<HZ>::from_ticks));
                    model.throttled(now, ra);
                }
                Op::TryAcquire => {
                    let got = pacer.try_acquire_at(at).map_err(|i| i.as_ticks());
                    prop_assert_eq!(got, model.try_acquire(now));
                }
                Op::Reserve => {
                    prop_assert_eq!(pacer.reserve_at(at).as_ticks(), model.reserve(now));
                }
            }
            prop_assert_eq!(pacer.rate(), model.rate);
            prop_assert_eq!(pacer.next_send_at().as_ticks(), model.next);
            prop_assert_eq!(pacer.interval().as_ticks(), model.interval());
            // Invariants of the spec, independent of the model.
            prop_assert!(config.floor <= pacer.rate() && pacer.rate() <= config.ceiling);
            prop_assert!(pacer.next_send_at().as_ticks() >= last_next, "the next send moved back");
            last_next = pacer.next_send_at().as_ticks();
        }
    }
}

/// What a sequential client saw over the second half of a simulation.
#[derive(Debug)]
struct Run {
    admitted: u64,
    refused: u64,
    seconds: u64,
    min_rate: u64,
    max_rate: u64,
}

/// A client pacing with AIMD (step `step` mHz per response, default factors)
/// against a server admitting `rate` per second with `burst`, for `seconds`
/// of manual-clock time: it sends whenever the pacer allows, one request at
/// a time, and feeds back every answer.
fn simulate(rate: u32, burst: u32, step: u64, seconds: u64) -> Run {
    let server = Gcra::<HZ>::new(Quota::per_second(rate).burst(burst)).unwrap();
    let pacer =
        AimdPacer::<HZ>::new(AimdConfig::new(PER_SECOND / 10, 10_000 * PER_SECOND).increase(step))
            .unwrap();
    let clock = ManualClock::<HZ>::new(0);
    let end = seconds * HZ;
    let half = end / 2;
    let mut run = Run {
        admitted: 0,
        refused: 0,
        seconds: seconds - seconds / 2,
        min_rate: u64::MAX,
        max_rate: 0,
    };
    while clock.now().as_ticks() < end {
        let now = clock.now();
        pacer
            .try_acquire_at(now)
            .expect("the clock is at the next send instant");
        let answer = server.check_at(now);
        pacer.on_decision_at(now, &answer);
        if now.as_ticks() >= half {
            match answer {
                Ok(_) => run.admitted += 1,
                Err(_) => run.refused += 1,
            }
            run.min_rate = run.min_rate.min(pacer.rate());
            run.max_rate = run.max_rate.max(pacer.rate());
        }
        clock.set(pacer.next_send_at());
    }
    run
}

/// The band stated in `AimdPacer`'s docs, for a server of `rate` per second
/// with `burst`, and a step of `step` mHz per response with headroom.
fn check_band(rate: u32, burst: u32, step: u64) -> Result<(), TestCaseError> {
    let run = simulate(rate, burst, step, 120);
    let (r, b, s) = (rate as f64, burst as f64, step as f64 / PER_SECOND as f64);
    let throughput = run.admitted as f64 / run.seconds as f64;
    prop_assert!(
        throughput >= 0.75 * r,
        "throughput {throughput} below 0.75 R: {run:?}"
    );
    prop_assert!(
        run.admitted <= run.seconds * rate as u64 + burst as u64,
        "over the quota: {run:?}"
    );
    let (low, high) = (run.min_rate as f64 / 1_000.0, run.max_rate as f64 / 1_000.0);
    prop_assert!(low >= 0.45 * r, "rate {low} below 0.45 R: {run:?}");
    let peak = r + 2.5 * (b * s * r).sqrt();
    prop_assert!(
        high <= peak,
        "rate {high} above R + 2.5 sqrt(b s R) = {peak}: {run:?}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ratecore_testkit::config(24))]

    #[test]
    fn converges_to_an_unknown_server_rate(
        rate in 2u32..=300,
        burst in 3u32..=20,
        step in prop_oneof![Just(PER_SECOND / 2), Just(PER_SECOND), PER_SECOND / 2..=5 * PER_SECOND],
    ) {
        check_band(rate, burst, step)?;
    }
}

#[test]
fn converges_on_a_fixed_grid() {
    for rate in [2, 7, 50, 300] {
        for burst in [3, 20] {
            for step in [PER_SECOND / 2, 5 * PER_SECOND] {
                check_band(rate, burst, step).unwrap();
            }
        }
    }
}

#[test]
fn without_feedback_the_pacer_keeps_its_rate() {
    // A server with a limit of 1 reports `remaining = 0` after every admitted
    // request: no headroom is ever shown, and the pacer stays at its start.
    let run = simulate(50, 1, PER_SECOND, 20);
    assert_eq!(
        (run.min_rate, run.max_rate),
        (PER_SECOND / 10, PER_SECOND / 10)
    );
    assert_eq!(run.refused, 0);
}

#[test]
fn bad_configurations_are_refused() {
    let new = |c: AimdConfig| AimdPacer::<HZ>::new(c).map(|_| ()).unwrap_err();
    let base = AimdConfig::new(1, 10);
    for (config, error) in [
        (AimdConfig::new(0, 10), AimdError::ZeroFloor),
        (AimdConfig::new(11, 10), AimdError::FloorAboveCeiling),
        (base.start(11), AimdError::StartOutOfRange),
        (AimdConfig::new(2, 10).start(1), AimdError::StartOutOfRange),
        (base.increase(0), AimdError::ZeroIncrease),
        (base.decrease(0, 2), AimdError::BadDecrease),
        (base.decrease(2, 2), AimdError::BadDecrease),
        (base.decrease(1, 0), AimdError::BadDecrease),
        (base.headroom(1, 1), AimdError::BadHeadroom),
        (base.headroom(0, 0), AimdError::BadHeadroom),
    ] {
        assert_eq!(new(config), error, "{config:?}");
    }
    assert!(AimdPacer::<HZ>::new(AimdConfig::new(1, 1).headroom(0, 1)).is_ok());
    assert!(!AimdError::BadHeadroom.to_string().is_empty());
}

#[test]
fn a_retry_after_pushes_the_next_send() {
    let pacer =
        AimdPacer::<HZ>::new(AimdConfig::new(PER_SECOND, 10 * PER_SECOND).start(4 * PER_SECOND))
            .unwrap();
    let t = Instant::<HZ>::from_ticks(1_000);
    assert_eq!(pacer.try_acquire_at(t), Ok(()));
    assert_eq!(pacer.next_send_at().as_ticks(), 251_000);
    pacer.on_throttled_at(t, Some(Duration::<HZ>::from_ticks(3 * HZ)));
    assert_eq!(pacer.rate(), 2 * PER_SECOND);
    assert_eq!(
        pacer.try_acquire_at(Instant::from_ticks(3_000_999)),
        Err(Instant::from_ticks(3_001_000))
    );
    assert_eq!(pacer.reserve_at(t).as_ticks(), 3_001_000);
    assert_eq!(pacer.next_send_at().as_ticks(), 3_501_000);
}
