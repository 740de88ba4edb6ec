//! `SlidingWindow` against its reference model, plus its invariants.
//!
//! Ticks are seconds (`HZ = 1`), so a quota's period is its window in ticks
//! and horizons are within reach of the generated clocks.

use proptest::prelude::*;
use ratecore::{Duration, Instant, Limiter, Quota, QuotaError, SlidingWindow, kernel::Algorithm};
use ratecore_testkit::model::sliding_window::SlidingWindowModel;
use ratecore_testkit::window::{
    Step, densest_span, epochs, limits, shaped, sliding as run, widths,
};
use ratecore_testkit::{at, window_quota as quota};

type Sw = SlidingWindow<1>;

fn max_limit(width: u64) -> u32 {
    Sw::max_limit(quota(1, width)).unwrap()
}

/// A width and a limit it supports.
fn shapes() -> impl Strategy<Value = (u32, u64)> {
    widths().prop_flat_map(|w| (limits(max_limit(w)), Just(w)))
}

/// The documented bound on units admitted in any span of `width` ticks.
fn span_bound(limit: u32, width: u64) -> u64 {
    let limit = u64::from(limit);
    if width == 1 {
        limit
    } else {
        2 * limit - (2 * limit).div_ceil(width)
    }
}

/// Units admitted per effective instant: `now` (or the horizon, if later),
/// or for a stale `now` the start of the latest window admitted into.
fn admitted_history(sw: &Sw, epoch: u64, script: &[Step]) -> Vec<(u64, u64)> {
    let horizon = sw.horizon().as_ticks();
    let grid = SlidingWindowModel::new(sw.limit(), sw.window().as_ticks(), epoch, horizon);
    let mut history = Vec::new();
    let mut latest = 0u128;
    let mut now = 0u64;
    for &step in script {
        match step {
            Step::Check(n) => {
                let admitted = sw.check_n_at(n, at(now)).is_ok();
                if admitted && n > 0 {
                    let t = u128::from(now.min(horizon));
                    let effective = if grid.index(t) < latest {
                        grid.start(latest)
                    } else {
                        t
                    };
                    latest = grid.index(effective);
                    history.push((effective as u64, u64::from(n)));
                }
            }
            Step::Move(m) => now = m.apply(now, horizon),
            _ => {}
        }
    }
    history
}

ratecore_testkit::window_props!(Sw, run, shapes());

proptest! {
    #![proptest_config(ratecore_testkit::config(256))]

    /// In every aligned window at most `limit`, and in any span of `width`
    /// ticks at most the documented bound (below `2 * limit`).
    #[test]
    fn admitted_within_the_bounds(
        (limit, width, script) in shaped(limits(40), 1..=30u64, false),
        epoch in epochs(),
    ) {
        let sw = Sw::with_epoch(quota(limit, width), at(epoch)).unwrap();
        let history = admitted_history(&sw, epoch, &script);
        let grid = SlidingWindowModel::new(limit, width, epoch, sw.horizon().as_ticks());
        let mut per_window = std::collections::BTreeMap::<u128, u64>::new();
        for &(t, n) in &history {
            *per_window.entry(grid.index(u128::from(t))).or_default() += n;
        }
        for (window, units) in per_window {
            prop_assert!(units <= u64::from(limit), "window {window}: {units} > {limit}");
        }
        let densest = densest_span(&history, width);
        prop_assert!(densest <= span_bound(limit, width), "{densest} in a span");
    }

    /// Dense single-unit traffic on a monotone clock: the span bound holds
    /// where it is hardest to meet.
    #[test]
    fn dense_traffic_within_the_span_bound(
        limit in 1..=20u32,
        width in 1..=25u64,
        epoch in 0..30u64,
        demand in proptest::collection::vec(0..=4u32, 1..150),
    ) {
        let sw = Sw::with_epoch(quota(limit, width), at(epoch)).unwrap();
        let mut history = Vec::new();
        for (tick, &requests) in demand.iter().enumerate() {
            for _ in 0..requests {
                if sw.check_at(at(tick as u64)).is_ok() {
                    history.push((tick as u64, 1));
                }
            }
        }
        prop_assert!(densest_span(&history, width) <= span_bound(limit, width));
    }
}

#[test]
fn the_span_bound_is_reached() {
    // `limit` units on the last tick of window 0, then on every tick of
    // window 1 as many single units as pass.
    for (limit, width) in [
        (10u32, 10u64),
        (3, 7),
        (100, 10_000),
        (5, 2),
        (1, 1),
        (7, 3),
    ] {
        let sw = Sw::new(quota(limit, width)).unwrap();
        let mut history = vec![(width - 1, u64::from(limit))];
        assert!(sw.check_n_at(limit, at(width - 1)).is_ok());
        for t in width..2 * width {
            while sw.check_at(at(t)).is_ok() {
                history.push((t, 1));
            }
        }
        assert_eq!(
            densest_span(&history, width),
            span_bound(limit, width),
            "{limit} per {width}"
        );
    }
}

#[test]
fn estimate_weighs_the_previous_window() {
    let sw = Sw::new(quota(10, 100)).unwrap();
    assert!(sw.check_n_at(10, at(50)).is_ok());
    // At 130, 70 of the previous window's 100 ticks are still trailing:
    // estimate = ceil(10 * 70 / 100) = 7.
    assert_eq!(sw.snapshot_at(at(130)).remaining(), 3);
    // Rounding is up: at 131, ceil(6.9) = 7 still.
    assert_eq!(sw.snapshot_at(at(131)).remaining(), 3);
    assert_eq!(sw.snapshot_at(at(140)).remaining(), 4);
    // 5 units fit once ceil(10 * left / 100) <= 5: left <= 50, at 150.
    let denied = sw.check_n_at(5, at(130)).unwrap_err();
    assert_eq!(denied.retry_after().unwrap().as_ticks(), 20);
    // Full again when the previous window no longer weighs: at 200.
    assert_eq!(sw.snapshot_at(at(130)).reset_after().as_ticks(), 70);
}

#[test]
fn a_stale_instant_is_evaluated_at_the_start_of_the_latest_window() {
    let sw = Sw::new(quota(4, 10)).unwrap();
    assert!(sw.check_n_at(4, at(9)).is_ok());
    assert!(sw.check_at(at(19)).is_ok()); // at 19: ceil(4 * 1 / 10) + 0 = 1, so 3 fit
    // A stale reading in window 0 sees window 1 at its start: 4 + 1 = 5 > 4.
    let denied = sw.check_at(at(3)).unwrap_err();
    // Fresh, one more unit fits once ceil(4 * left / 10) <= 2: left <= 5, at 15.
    assert_eq!(denied.retry_after().unwrap().as_ticks(), 15 - 3);
    assert_eq!(sw.snapshot_at(at(3)).remaining(), 0);
}

#[test]
fn largest_limits() {
    const NS: u64 = ratecore::time::NANOS;
    let per = |ms: u64| Quota::with_period(1, Duration::<1_000>::from_ticks(ms));
    let table = [
        (1, 2_047),
        (100, 16_383),
        (1_000, 65_535),
        (60_000, 262_143),
        (3_600_000, 2_097_151),
        (86_400_000, 16_777_215),
    ];
    for (ms, max) in table {
        // The largest limit depends on the window length, not the clock rate.
        assert_eq!(
            SlidingWindow::<NS>::max_limit(per(ms)),
            Ok(max),
            "{ms} ms at 1 GHz"
        );
        assert_eq!(
            SlidingWindow::<1_000>::max_limit(per(ms)),
            Ok(max),
            "{ms} ms at 1 kHz"
        );
        let q = |count| Quota::with_period(count, Duration::<1_000>::from_ticks(ms));
        assert!(SlidingWindow::<NS>::new(q(max)).is_ok());
        assert_eq!(
            SlidingWindow::<NS>::new(q(max + 1)).unwrap_err(),
            QuotaError::LimitTooLarge
        );
    }
    // No count fits a one-tick window at a clock faster than 2^32 Hz.
    assert_eq!(
        SlidingWindow::<{ 1 << 33 }>::max_limit(Quota::with_period(
            1,
            Duration::<{ 1 << 33 }>::from_ticks(1)
        )),
        Err(QuotaError::LimitTooLarge)
    );
    assert_eq!(
        Sw::new(Quota::per_second(5).burst(6)).unwrap_err(),
        QuotaError::BurstUnsupported
    );
    assert_eq!(
        Sw::max_limit(Quota::per_second(0)),
        Err(QuotaError::ZeroCount)
    );
}

#[test]
fn horizon_is_at_least_136_years_less_two_windows() {
    const NS: u64 = ratecore::time::NANOS;
    let h = (1u64 << 32) * NS;
    for ms in [1u64, 100, 1_000, 60_000, 3_600_000, 86_400_000] {
        let max = SlidingWindow::<NS>::max_limit(Quota::with_period(
            1,
            Duration::<1_000>::from_ticks(ms),
        ))
        .unwrap();
        for count in [1, max] {
            let q = Quota::with_period(count, Duration::<1_000>::from_ticks(ms));
            let sw = SlidingWindow::<NS>::with_epoch(q, Instant::<NS>::from_ticks(12_345)).unwrap();
            let w = sw.window().as_ticks();
            assert!(sw.horizon().as_ticks() >= h - 2 * w, "{count} per {ms} ms");
        }
    }
}

#[test]
fn is_idle_means_fresh() {
    let sw = Sw::new(quota(3, 10)).unwrap();
    let word = sw.decide(0, 2, at(5)).split().1.unwrap();
    assert!(!sw.is_idle(word, at(9)));
    assert!(!sw.is_idle(word, at(10))); // the previous window still weighs
    assert!(sw.is_idle(word, at(20)));
    assert!(sw.is_idle(0, at(0)));
}
