//! `TokenBucket` (greedy and interval refill) against its reference model and
//! the architecture's invariants.

use ratecore_testkit::{limited, model, strategy};

use proptest::prelude::*;
use ratecore::{Denied, Duration, Gcra, Limiter, Quota, RefillMode, TokenBucket};

use model::harness::run_bucket;
use model::spec::QuotaSpec;
use model::trace::Op;
use ratecore_testkit::at;

/// Runs one case; a quota the crate refuses is skipped (quota_props checks
/// that refusals are right).
fn case<const HZ: u64>(
    spec: &QuotaSpec,
    mode: RefillMode,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    strategy::valid_quota(run_bucket::<HZ>(spec, mode, ops, true))
}

fn greedy<const HZ: u64>(spec: &QuotaSpec, ops: &[Op]) -> Result<(), TestCaseError> {
    case::<HZ>(spec, RefillMode::Greedy, ops)
}

fn interval<const HZ: u64>(spec: &QuotaSpec, ops: &[Op]) -> Result<(), TestCaseError> {
    case::<HZ>(spec, RefillMode::Interval, ops)
}

ratecore_testkit::at_three_rates!(
    /// Greedy refill: the model's answers and states, at three clock rates.
    mod greedy_matches_model: 64 => greedy
);

ratecore_testkit::at_three_rates!(
    /// Interval refill: the model's answers and states, at three clock rates.
    mod interval_matches_model: 64 => interval
);

proptest! {
    #![proptest_config(ratecore_testkit::config(64))]

    /// Long runs of non-decreasing time, where the span bound covers the
    /// whole trace.
    #[test]
    fn span_bound_on_monotone_traces(spec in strategy::quota_spec(), ops in strategy::forward_ops(120)) {
        case::<1_000>(&spec, RefillMode::Greedy, &ops)?;
        case::<1_000>(&spec, RefillMode::Interval, &ops)?;
        case::<32_768>(&spec, RefillMode::Interval, &ops)?;
    }
}

ratecore_testkit::at_three_rates!(
    /// Instants up to 2^32 seconds from tick 0, less the time the burst takes
    /// to refill and one tick (see `gcra_props`), are evaluated as
    /// themselves (for an interval bucket, one of at most 2^32 tokens a
    /// second; a faster one's, up to about `2^64 / count` periods).
    fn horizon_is_at_least_136_years_less_the_burst: 64 => horizon
);

fn horizon<const HZ: u64>(spec: &QuotaSpec) -> Result<(), TestCaseError> {
    let span = (u128::from(HZ) << 32).min(u128::from(u64::MAX));
    if let (Ok(bucket), Ok(gcra)) = (
        TokenBucket::<HZ>::new(spec.quota(), RefillMode::Greedy),
        Gcra::<HZ>::new(spec.quota()),
    ) {
        let (units, scale) = gcra.emission_interval();
        let burst_ticks =
            (u128::from(bucket.burst()) * u128::from(units)).div_ceil(u128::from(scale));
        let floor = span.saturating_sub(burst_ticks).saturating_sub(1);
        prop_assert!(
            u128::from(bucket.horizon().as_ticks()) >= floor,
            "greedy horizon below {floor}"
        );
    }
    if let Ok(bucket) = TokenBucket::<HZ>::new(spec.quota(), RefillMode::Interval) {
        let period = u128::from(
            spec.period_whole_ticks(HZ)
                .expect("an accepted period fits"),
        );
        let count = u128::from(spec.count);
        let burst_ticks = u128::from(bucket.burst()).div_ceil(count) * period;
        // The documented range: 2^32 seconds at a rate of at most 2^32
        // tokens a second (`count / period`, the period in whole ticks);
        // a faster bucket's virtual time, `count` a period, runs out after
        // about `2^64 / count` periods.
        let floor = if count * u128::from(HZ) <= (1u128 << 32) * period {
            span
        } else {
            ((1u128 << 64) / count).saturating_sub(2) * period
        }
        .saturating_sub(burst_ticks);
        prop_assert!(
            u128::from(bucket.horizon().as_ticks()) >= floor,
            "interval horizon below {floor}"
        );
    }
    Ok(())
}

/// Greedy refill is GCRA: 100 per minute, burst 120, at 1 kHz is one token
/// per 600 ms.
#[test]
fn greedy_per_minute_100_burst_120_by_hand() {
    let bucket =
        TokenBucket::<1_000>::new(Quota::per_minute(100).burst(120), RefillMode::Greedy).unwrap();
    assert_eq!(bucket.available_at(at(0)), 120);
    for k in 1..=120 {
        assert_eq!(bucket.check_at(at(0)).unwrap().remaining(), 120 - k);
    }
    assert_eq!(
        limited(bucket.check_at(at(0))),
        Some((0, 600, 72_000)),
        "121st admitted"
    );
    // 1,799 ms later two whole tokens have been earned (the third at 1,800).
    assert_eq!(bucket.available_at(at(1_799)), 2);
    assert_eq!(bucket.available_at(at(1_800)), 3);
    // Ten tokens back: 13 at 1,800, and full again 107 tokens * 600 ms later.
    bucket.add_tokens(10);
    let s = bucket.snapshot_at(at(1_800));
    assert_eq!((s.remaining(), s.reset_after().as_ticks()), (13, 64_200));
    // More than fits leaves the bucket full, not fuller.
    bucket.add_tokens(u32::MAX);
    assert_eq!(bucket.available_at(at(1_800)), 120);
    assert_eq!(bucket.snapshot_at(at(1_800)).reset_after().as_ticks(), 0);
}

/// 3 tokens at every whole second, at most 5 (the type's doc example, with
/// the waits worked out).
#[test]
fn interval_3_per_second_burst_5_by_hand() {
    let bucket =
        TokenBucket::<1_000>::new(Quota::per_second(3).burst(5), RefillMode::Interval).unwrap();
    // All 5 at 10 ms; the next lumps come at 1,000 (3) and 2,000 (2 more fit).
    let s = bucket.check_n_at(5, at(10)).unwrap();
    assert_eq!((s.remaining(), s.reset_after().as_ticks()), (0, 1_990));
    assert_eq!(
        limited(bucket.check_at(at(999))),
        Some((0, 1, 1_001)),
        "no token before 1,000"
    );
    assert_eq!(bucket.available_at(at(1_000)), 3);
    // 4 at 1,000: 3 there, the 4th comes with the lump at 2,000.
    assert_eq!(
        limited(bucket.check_n_at(4, at(1_000))),
        Some((3, 1_000, 1_000)),
        "4 of 3 admitted"
    );
    let s = bucket.check_n_at(3, at(1_999)).unwrap();
    assert_eq!((s.remaining(), s.reset_after().as_ticks()), (0, 1_001));
    // Lumps at 2,000 (3) and 3,000 (3, capped at 5).
    assert_eq!(bucket.available_at(at(2_000)), 3);
    assert_eq!(bucket.available_at(at(5_000)), 5);
}

/// The interval period is rounded up to whole ticks: 1.5 ms at 1 kHz is 2 ms.
#[test]
fn interval_period_rounds_up_by_hand() {
    let quota = Quota::with_period(1, Duration::<1_000_000>::from_ticks(1_500));
    let bucket = TokenBucket::<1_000>::new(quota, RefillMode::Interval).unwrap();
    assert!(bucket.check_at(at(1)).is_ok());
    let Err(Denied::RateLimited(r)) = bucket.check_at(at(1)) else {
        panic!("burst is 1")
    };
    assert_eq!(r.retry_after().as_ticks(), 1); // the lump at tick 2
    assert!(bucket.check_at(at(2)).is_ok());
    assert!(bucket.check_at(at(3)).is_err());
    assert!(bucket.check_at(at(4)).is_ok());
}

/// A refund while the bucket is full changes nothing for the present; a stale
/// reading older than the last charge sees fewer tokens.
#[test]
fn stale_reading_by_hand() {
    let bucket =
        TokenBucket::<1_000>::new(Quota::per_second(10).burst(4), RefillMode::Greedy).unwrap();
    assert!(bucket.check_n_at(4, at(1_000)).is_ok()); // empty at 1,000
    assert_eq!(bucket.available_at(at(1_100)), 1);
    // At 950 the bucket is 0.5 tokens in debt: nothing, and full 450 ms later.
    let s = bucket.snapshot_at(at(950));
    assert_eq!((s.remaining(), s.reset_after().as_ticks()), (0, 450));
    let Err(Denied::RateLimited(r)) = bucket.check_at(at(950)) else {
        panic!("stale check admitted")
    };
    assert_eq!(r.retry_after().as_ticks(), 150);
}

/// Regression (as for `Gcra`, see `gcra_props.rs`): with greedy refill, a
/// `retry_after` that would end past the horizon was once capped at the
/// horizon, and was 0 at the horizon.
#[test]
fn greedy_retry_after_past_the_horizon() {
    let bucket = TokenBucket::<1_000>::new(Quota::per_second(1), RefillMode::Greedy).unwrap();
    let h = bucket.horizon().as_ticks();
    assert!(bucket.check_at(at(h)).is_ok()); // empty until h + 1,000
    for (t, want) in [(h - 500, 1_500), (h, 1_000), (u64::MAX, 1_000)] {
        let Err(Denied::RateLimited(r)) = bucket.check_at(at(t)) else {
            panic!("admitted at {t}")
        };
        assert_eq!(r.retry_after().as_ticks(), want, "at {t}");
    }
}

/// 1 token per second at 1 kHz, interval refill, burst 1, emptied at
/// `u64::MAX` (= 18,446,744,073,709,551,615, 615 ticks into its period): the
/// next lump is due at the period boundary 385 ticks later, past the end of
/// the time line. The semantics: `reset_after = ceil(target / c) * P - t'` =
/// 385, the same for a retry; from `u64::MAX - 500`, 885.
const INTERVAL_PAST_THE_END: [(u64, u128); 2] = [(0, 385), (500, 885)];

#[test]
fn model_interval_waits_past_the_end() {
    let mut model = model::token_bucket::TokenBucket::new(
        model::token_bucket::Refill::Interval {
            period: 1_000,
            count: 1,
        },
        1,
        u64::MAX,
    );
    let model::Answer::Admitted(s) = model.check(1, u64::MAX) else {
        panic!("denied")
    };
    assert_eq!(s.reset_after, 385);
    for (before, want) in INTERVAL_PAST_THE_END {
        let answer = model.check(1, u64::MAX - before);
        let model::Answer::RateLimited {
            retry_after,
            reset_after,
            ..
        } = answer
        else {
            panic!("admitted")
        };
        assert_eq!(
            (retry_after, reset_after),
            (want, want),
            "at u64::MAX - {before}"
        );
    }
}

/// Regression: with interval refill (horizon `u64::MAX`), a wait that would end past
/// `u64::MAX` was once capped at `u64::MAX`: after a check that emptied the
/// bucket at `u64::MAX`, `reset_after` was 0 (documented "zero if it is full
/// now", but it was empty), and a denied check there said `retry_after` 0
/// (documented "never zero"); from `u64::MAX - 500`, 500 instead of 885.
#[test]
fn interval_waits_past_the_end() {
    let bucket = TokenBucket::<1_000>::new(Quota::per_second(1), RefillMode::Interval).unwrap();
    let s = bucket.check_at(at(u64::MAX)).unwrap();
    assert_eq!(u128::from(s.reset_after().as_ticks()), 385);
    for (before, want) in INTERVAL_PAST_THE_END {
        let Err(Denied::RateLimited(r)) = bucket.check_at(at(u64::MAX - before)) else {
            panic!("admitted")
        };
        let got = (
            u128::from(r.retry_after().as_ticks()),
            u128::from(r.reset_after().as_ticks()),
        );
        assert_eq!(got, (want, want), "at u64::MAX - {before}");
    }
}
