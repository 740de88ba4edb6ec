//! The circuit breaker against its reference model (`tests/model/breaker.rs`,
//! written from the spec before the implementation): identical answers and
//! states on random sequences of calls, outcomes and clock moves (forwards,
//! backwards, and huge jumps near the end of the 62-bit open-until range).

use ratecore_testkit::model::breaker as breaker_model;

use breaker_model::{Admit, State, observe as as_model};
use proptest::prelude::*;
use ratecore::client::{Admission, BreakerConfig, BreakerError, BreakerState, CircuitBreaker};
use ratecore::{Duration, Instant};

const HZ: u64 = 1_000;

#[derive(Clone, Copy, Debug)]
enum Op {
    Acquire,
    Success,
    Failure,
}

#[derive(Clone, Copy, Debug)]
enum Move {
    Stay,
    Forward(u64),
    Back(u64),
    Set(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![3 => Just(Op::Acquire), 2 => Just(Op::Success), 3 => Just(Op::Failure)]
}

fn time_move() -> impl Strategy<Value = Move> {
    prop_oneof![
        4 => Just(Move::Stay),
        6 => (1u64..=60).prop_map(Move::Forward),
        1 => (1u64..=1_000).prop_map(Move::Forward),
        1 => (1u64..=60).prop_map(Move::Back),
        1 => prop_oneof![
            Just((1u64 << 62) - 100),
            Just((1u64 << 62) - 1),
            Just(1u64 << 62),
            Just(u64::MAX - 10),
            any::<u64>(),
            0u64..=1_000,
        ]
        .prop_map(Move::Set),
    ]
}

fn config() -> impl Strategy<Value = breaker_model::Config> {
    (
        prop_oneof![4 => 1u32..=5, 1 => Just(1_048_575u32)],
        prop_oneof![4 => 1u64..=100, 1 => Just(u64::MAX), 1 => Just(1u64 << 62)],
        prop_oneof![3 => 1u32..=4, 1 => Just(u32::MAX)],
        proptest::option::of((1u32..=8, 1u32..=8, 1u32..=8).prop_map(|(w, a, b)| {
            let (num, den) = (a.min(b), a.max(b));
            (w, num, den)
        })),
    )
        .prop_map(
            |(failures, timeout, probes, window)| breaker_model::Config {
                failures,
                timeout,
                probes,
                window,
            },
        )
}

fn build(config: &breaker_model::Config) -> CircuitBreaker<HZ> {
    CircuitBreaker::new(breaker_model::config(config)).unwrap()
}

proptest! {
    #![proptest_config(ratecore_testkit::config(512))]

    #[test]
    fn transitions_equal_the_model(
        config in config(),
        start in prop_oneof![Just(0u64), any::<u64>()],
        steps in proptest::collection::vec((time_move(), op()), 1..200),
    ) {
        let breaker = build(&config);
        let mut model = breaker_model::Breaker::new(config);
        let mut now = start;
        for (step, (time, op)) in steps.into_iter().enumerate() {
            now = match time {
                Move::Stay => now,
                Move::Forward(d) => now.saturating_add(d),
                Move::Back(d) => now.saturating_sub(d),
                Move::Set(t) => t,
            };
            let at = Instant::<HZ>::from_ticks(now);
            match op {
                Op::Acquire => {
                    let got = breaker_model::admit(breaker.try_acquire_at(at));
                    let want = model.acquire(now);
                    prop_assert_eq!(got, want, "step {} at {}", step, now);
                    if let Admit::RejectOpen { retry_after } = want {
                        prop_assert!(retry_after > 0);
                    }
                }
                Op::Success => {
                    breaker.record_success_at(at);
                    model.success(now);
                }
                Op::Failure => {
                    breaker.record_failure_at(at);
                    model.failure(now);
                }
            }
            prop_assert_eq!(as_model(breaker.state()), model.state, "step {} at {}", step, now);
            prop_assert_eq!(as_model(breaker.state_at(at)), model.state_at(now));
            // Invariants of the spec, independent of the model.
            match model.state {
                State::HalfOpen { probes } => prop_assert!(probes >= 1 && probes <= config.probes),
                State::Closed { consecutive, calls, failures } => {
                    prop_assert!(consecutive < config.failures);
                    prop_assert!(failures <= calls);
                    match config.window {
                        Some((w, _, _)) => prop_assert!(calls < w),
                        None => prop_assert_eq!(calls, 0),
                    }
                }
                State::Open { until } => prop_assert!(until <= breaker_model::MAX_UNTIL),
            }
        }
    }
}

#[test]
fn bad_configurations_are_refused() {
    let ms = Duration::<HZ>::from_ticks;
    let new = |c: BreakerConfig<HZ>| CircuitBreaker::new(c).map(|_| ()).unwrap_err();
    assert_eq!(
        new(BreakerConfig::new(0, ms(1))),
        BreakerError::ZeroFailures
    );
    assert_eq!(
        new(BreakerConfig::new(1 << 20, ms(1))),
        BreakerError::TooManyFailures
    );
    assert_eq!(new(BreakerConfig::new(1, ms(0))), BreakerError::ZeroTimeout);
    assert_eq!(
        new(BreakerConfig::new(1, ms(1)).probes(0)),
        BreakerError::ZeroProbes
    );
    let ratio = |w, n, d| new(BreakerConfig::new(1, ms(1)).failure_ratio(w, n, d));
    assert_eq!(ratio(0, 1, 2), BreakerError::ZeroWindow);
    assert_eq!(ratio(1 << 21, 1, 2), BreakerError::WindowTooLarge);
    assert_eq!(ratio(10, 0, 2), BreakerError::BadRatio);
    assert_eq!(ratio(10, 3, 2), BreakerError::BadRatio);
    assert_eq!(ratio(10, 1, 0), BreakerError::BadRatio);
    assert!(
        CircuitBreaker::new(BreakerConfig::new((1 << 20) - 1, ms(1)).failure_ratio(
            (1 << 21) - 1,
            1,
            1
        ))
        .is_ok()
    );
    assert!(!BreakerError::BadRatio.to_string().is_empty());
}

#[test]
fn failure_ratio_opens_at_the_end_of_a_window() {
    // 10 consecutive failures or half of a 4-call window.
    let breaker = CircuitBreaker::<HZ>::new(
        BreakerConfig::new(10, Duration::from_ticks(100)).failure_ratio(4, 1, 2),
    )
    .unwrap();
    let t = Instant::<HZ>::from_ticks(7);
    breaker.record_failure_at(t);
    breaker.record_success_at(t);
    breaker.record_failure_at(t);
    assert!(matches!(
        breaker.state(),
        BreakerState::Closed {
            window_calls: 3,
            window_failures: 2,
            consecutive_failures: 1
        }
    ));
    breaker.record_success_at(t); // 2 of 4 failed: opens
    assert_eq!(
        breaker.state(),
        BreakerState::Open {
            until: Instant::from_ticks(107)
        }
    );
}

#[test]
fn an_open_until_past_62_bits_is_clamped() {
    let breaker =
        CircuitBreaker::<HZ>::new(BreakerConfig::new(1, Duration::from_ticks(u64::MAX))).unwrap();
    breaker.record_failure_at(Instant::from_ticks(5));
    let until = (1u64 << 62) - 1;
    assert_eq!(
        breaker.state(),
        BreakerState::Open {
            until: Instant::from_ticks(until)
        }
    );
    assert!(
        breaker
            .try_acquire_at(Instant::from_ticks(until - 1))
            .is_err()
    );
    assert_eq!(
        breaker.try_acquire_at(Instant::from_ticks(until)),
        Ok(Admission::Probe)
    );
}
