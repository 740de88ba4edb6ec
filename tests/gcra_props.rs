//! `Gcra` against its reference model and the architecture's invariants.

use ratecore_testkit::{limited, model, rules, strategy};

use proptest::prelude::*;
use ratecore::algorithms::GcraConfig;
use ratecore::kernel::Algorithm;
use ratecore::{Denied, Duration, Gcra, Instant, Limiter, Quota, Refund};

use model::harness::run_gcra;
use model::spec::QuotaSpec;
use ratecore_testkit::at;

/// Runs one case; a quota the crate refuses is skipped (quota_props checks
/// that refusals are right).
fn case<const HZ: u64>(spec: &QuotaSpec, ops: &[model::trace::Op]) -> Result<(), TestCaseError> {
    strategy::valid_quota(run_gcra::<HZ>(spec, ops, true))
}

ratecore_testkit::at_three_rates!(
    /// The model's answers and states, at three clock rates.
    mod matches_model: 96 => case
);

proptest! {
    #![proptest_config(ratecore_testkit::config(96))]

    /// Long runs of non-decreasing time, where the span bound covers the
    /// whole trace.
    #[test]
    fn span_bound_on_monotone_traces(spec in strategy::quota_spec(), ops in strategy::forward_ops(120)) {
        case::<1_000>(&spec, &ops)?;
        case::<1_000_000_000>(&spec, &ops)?;
    }
}

ratecore_testkit::at_three_rates!(
    /// Instants up to 2^32 seconds from tick 0, less the burst's duration
    /// and one tick, are evaluated as themselves.
    fn horizon_is_at_least_136_years_less_the_burst: 96 => horizon
);

fn horizon<const HZ: u64>(spec: &QuotaSpec) -> Result<(), TestCaseError> {
    let Ok(limiter) = Gcra::<HZ>::new(spec.quota()) else {
        return Ok(());
    };
    let (units, scale) = limiter.emission_interval();
    let burst_ticks = (u128::from(limiter.burst()) * u128::from(units)).div_ceil(u128::from(scale));
    let span = (u128::from(HZ) << 32).min(u128::from(u64::MAX));
    // One tick less: the virtual line ends at `u64::MAX = 2^64 - 1`, so
    // where the burst's virtual units divide by the scale, the last tick
    // of the span is one too far (`horizon_can_be_one_tick_short` below).
    let floor = span.saturating_sub(burst_ticks).saturating_sub(1);
    prop_assert!(
        u128::from(limiter.horizon().as_ticks()) >= floor,
        "horizon {} < {floor} for {spec:?} at {HZ} Hz",
        limiter.horizon().as_ticks()
    );
    Ok(())
}

/// The one tick of the documented range: 490 units per 922,284,192,925 ns
/// with a burst of 959,855,456, at 32,768 Hz, has the finest scale
/// (2^32 / 32,768 = 2^17) and a capacity that the scale divides, so the
/// span's last tick, 2^47 less the burst's ticks, would need a virtual
/// time of 2^64. The horizon is the tick before it (worked out apart from
/// the code, from the formulas:
/// cost `ceil(922,284,192,925 * 32,768 * 2^17 / (10^9 * 490))` =
/// 8,084,041,728, and `floor((2^64 - 1 - 959,855,456 * cost) / 2^17)`).
#[test]
fn horizon_can_be_one_tick_short() {
    let limiter = Gcra::<32_768>::new(
        Quota::with_period(490, Duration::<1_000_000_000>::from_ticks(922_284_192_925))
            .burst(959_855_456),
    )
    .unwrap();
    assert_eq!(limiter.emission_interval(), (8_084_041_728, 1 << 17));
    let burst_ticks = 959_855_456 * 8_084_041_728u128 / (1 << 17);
    assert_eq!(
        u128::from(limiter.horizon().as_ticks()),
        (1u128 << 47) - burst_ticks - 1
    );
}

/// 100 per minute with a burst of 120, in milliseconds: T = 60,000 / 100 = 600 ms.
#[test]
fn per_minute_100_burst_120_by_hand() {
    let limiter = Gcra::<1_000>::new(Quota::per_minute(100).burst(120)).unwrap();
    assert_eq!(limiter.emission_interval(), (600, 1));
    // First unit: 119 left, and full again when its 600 ms have passed.
    let first = limiter.check_at(at(0)).unwrap();
    assert_eq!(
        (
            first.limit(),
            first.remaining(),
            first.reset_after().as_ticks()
        ),
        (120, 119, 600)
    );
    for k in 2..=120 {
        let s = limiter.check_at(at(0)).unwrap();
        assert_eq!(s.remaining(), 120 - k);
    }
    // tat = 120 * 600 = 72,000 ms: the 121st waits one interval.
    let Err(Denied::RateLimited(r)) = limiter.check_at(at(0)) else {
        panic!("121st admitted")
    };
    assert_eq!(
        (
            r.limit(),
            r.remaining(),
            r.retry_after().as_ticks(),
            r.reset_after().as_ticks()
        ),
        (120, 0, 600, 72_000)
    );
    assert!(limiter.check_at(at(599)).is_err());
    let s = limiter.check_at(at(600)).unwrap();
    // tat = 72,600; at 600 the backlog is 72,000 = 120 units: none left.
    assert_eq!((s.remaining(), s.reset_after().as_ticks()), (0, 72_000));
    // Five units back: tat = 72,600 - 3,000 = 69,600, 69,000 ahead of 600.
    let s = limiter.refund_n_at(5, at(600));
    assert_eq!((s.remaining(), s.reset_after().as_ticks()), (5, 69_000));
}

/// 3 per second with a burst of 2 at 1 kHz: T = 1000/3 ms, kept exact.
#[test]
fn per_second_3_burst_2_by_hand() {
    let limiter = Gcra::<1_000>::new(Quota::per_second(3).burst(2)).unwrap();
    let (units, scale) = limiter.emission_interval();
    assert_eq!(
        u128::from(units) * 3,
        1_000 * u128::from(scale),
        "T is exactly 1000/3 ms"
    );
    assert!(limiter.check_at(at(0)).is_ok());
    assert!(limiter.check_at(at(0)).is_ok());
    // tat = 2000/3; the third needs tat + T - t <= tau = 2000/3, i.e.
    // t >= 1000/3 = 333.3: retry after 334 ms; full at 666.7: reset after 667.
    assert_eq!(
        limited(limiter.check_at(at(0))),
        Some((0, 334, 667)),
        "third admitted"
    );
    assert!(limiter.check_at(at(333)).is_err());
    // At 334: tat = 1000, 666 ms ahead: 0.67 units spare, rounded down to 0.
    let s = limiter.check_at(at(334)).unwrap();
    assert_eq!((s.remaining(), s.reset_after().as_ticks()), (0, 666));
    // A check above the burst can never pass.
    let Err(Denied::ExceedsBurst(e)) = limiter.check_n_at(3, at(10_000)) else {
        panic!("3 > burst 2")
    };
    assert_eq!((e.requested, e.burst), (3, 2));
}

/// A reading older than the state (a stale clock) only makes decisions stricter.
#[test]
fn stale_reading_by_hand() {
    // 1 per 10 ms, burst 2.
    let limiter = Gcra::<1_000>::new(
        Quota::with_period(1, ratecore::Duration::<1_000>::from_ticks(10)).burst(2),
    )
    .unwrap();
    assert!(limiter.check_n_at(2, at(1_000)).is_ok()); // tat = 1,020
    // At 995 the backlog is 25 ms > tau = 20 ms: even a peek is over-committed.
    let s = limiter.snapshot_at(at(995));
    assert_eq!((s.remaining(), s.reset_after().as_ticks()), (0, 25));
    // A check of 0 units is admitted all the same (issue 11): it reports
    // that state and changes nothing.
    let z = limiter.check_n_at(0, at(995)).unwrap();
    assert_eq!((z.remaining(), z.reset_after().as_ticks()), (0, 25));
    let Err(Denied::RateLimited(r)) = limiter.check_at(at(995)) else {
        panic!("stale check admitted")
    };
    assert_eq!(r.retry_after().as_ticks(), 15);
}

/// 1 per second, burst 1, at 1 kHz, charged at the horizon `h`: `tat = h + 1,000`,
/// so the semantics' `retry_after = ceil(tat + T - tau - t') = h + 1,000 - t'`
/// (with `t' = min(t, h)`): 1,500 at `h - 500`, 1,000 at `h` and after.
const PAST_HORIZON_RETRIES: [(u64, u64); 3] = [(500, 1_500), (0, 1_000), (u64::MAX, 1_000)];

fn past_horizon_instant(h: u64, before: u64) -> u64 {
    if before == u64::MAX {
        u64::MAX
    } else {
        h - before
    }
}

/// The hand-computed values above are what the model answers.
#[test]
fn model_retry_after_past_the_horizon() {
    let limiter = Gcra::<1_000>::new(Quota::per_second(1)).unwrap();
    let h = limiter.horizon().as_ticks();
    let (units, scale) = limiter.emission_interval();
    let mut model = model::gcra::Gcra::new(units, scale, 1, h);
    assert!(model.check(1, h).is_admitted());
    for (before, want) in PAST_HORIZON_RETRIES {
        let t = past_horizon_instant(h, before);
        let model::Answer::RateLimited { retry_after, .. } = model.check(1, t) else {
            panic!("admitted")
        };
        assert_eq!(retry_after, u128::from(want), "at h - {before}");
    }
}

/// Regression: a wait ending past the horizon was once capped at the
/// horizon: 500 (not 1,500) at `h - 500`, and 0 (documented "never zero") at
/// `h` and at `u64::MAX`. A client told "retry after 0" retries at once,
/// forever.
#[test]
fn retry_after_past_the_horizon() {
    let limiter = Gcra::<1_000>::new(Quota::per_second(1)).unwrap();
    let h = limiter.horizon().as_ticks();
    assert!(limiter.check_at(at(h)).is_ok());
    for (before, want) in PAST_HORIZON_RETRIES {
        let t = past_horizon_instant(h, before);
        let Err(Denied::RateLimited(r)) = limiter.check_at(at(t)) else {
            panic!("admitted at {t}")
        };
        assert_eq!(r.retry_after().as_ticks(), want, "at h - {before}");
    }
}

proptest! {
    #![proptest_config(ratecore_testkit::config(96))]

    /// At 1 Hz, the one clock rate whose finest scale (`2^32`) does not fit
    /// a `u32`: the model's answers, and the horizon at least 2^32 seconds
    /// away less the burst.
    #[test]
    fn matches_model_at_1_hz(spec in strategy::quota_spec(), ops in strategy::ops(80)) {
        case::<1>(&spec, &ops)?;
        horizon::<1>(&spec)?;
    }
}

/// 2^31 per 500 ms at 1 Hz: `T` is 2^-32 ticks, exact at the finest scale,
/// 2^32 (one more than a `u32` holds): one unit costs 1. The burst takes
/// half a tick, so the horizon is `floor((2^64 - 1 - 2^31) / 2^32) = 2^32 - 1`.
#[test]
fn finest_scale_at_1_hz() {
    let quota = Quota::with_period(1 << 31, ratecore::Duration::<1_000>::from_ticks(500));
    let limiter = Gcra::<1>::new(quota).unwrap();
    assert_eq!(limiter.emission_interval(), (1, 1 << 32));
    assert_eq!(limiter.burst(), 1 << 31);
    assert_eq!(limiter.horizon().as_ticks(), (1 << 32) - 1);
    assert!(limiter.check_n_at(1 << 31, at(0)).is_ok());
    assert!(limiter.check_at(at(0)).is_err());
    // One tick (a second) later 2^32 units have come back, capped at the
    // burst.
    assert!(limiter.check_n_at(1 << 31, at(1)).is_ok());
}

proptest! {
    #![proptest_config(ratecore_testkit::config(96))]

    /// A check builds its decision before it loads its word
    /// (`Algorithm::decider`, which `Gcra` overrides to read its
    /// configuration first): that decision is `decide`'s, answer included,
    /// for states a limiter reaches (`held` units charged at `at`, or any
    /// word), any count up to past the burst, and instants before, at and
    /// far past `at` (past the horizon too), at three clock rates.
    #[test]
    fn decider_decides_as_decide(
        spec in strategy::quota_spec(),
        held in 0u32..400,
        at in any::<u64>(),
        later in prop_oneof![0u64..1_000, any::<u64>()],
        n in 0u32..400,
        word in prop::option::of(any::<u64>()),
    ) {
        decides_as_decide::<1_000>(&spec, held, at, later, n, word)?;
        decides_as_decide::<32_768>(&spec, held, at, later, n, word)?;
        decides_as_decide::<1_000_000_000>(&spec, held, at, later, n, word)?;
    }
}

fn decides_as_decide<const HZ: u64>(
    spec: &QuotaSpec,
    held: u32,
    at: u64,
    later: u64,
    n: u32,
    word: Option<u64>,
) -> Result<(), TestCaseError> {
    let Ok(config) = GcraConfig::<HZ>::new(spec.quota()) else {
        return Ok(());
    };
    let charged_at = Instant::<HZ>::from_ticks(at);
    // A state a limiter reaches: `held` units charged at `at` (or none, if
    // they do not fit), unless a raw word is given.
    let state = word.unwrap_or_else(|| config.decide(0, held, charged_at).stored().unwrap_or(0));
    for now in [at.saturating_sub(later), at, at.saturating_add(later)] {
        rules::decider(&config, state, n, Instant::<HZ>::from_ticks(now));
        rules::idleness(&config, state, Instant::<HZ>::from_ticks(now));
    }
    // The idleness's edge: the tick before the state is idle, and the tick
    // it is.
    if let Some(wait) = config.idle_after(state, charged_at) {
        let idle_at = at.saturating_add(wait.as_ticks());
        for now in [idle_at.saturating_sub(1), idle_at] {
            rules::idleness(&config, state, Instant::<HZ>::from_ticks(now));
        }
    }
    Ok(())
}
