//! `FixedWindow` against its reference model, plus its invariants.
//!
//! Ticks are seconds (`HZ = 1`), so a quota's period is its window in ticks
//! and horizons are within reach of the generated clocks.

use proptest::prelude::*;
use ratecore::{Duration, FixedWindow, Limiter, Quota, QuotaError, kernel::Algorithm};
use ratecore_testkit::model::fixed_window::FixedWindowModel;
use ratecore_testkit::window::{Step, epochs, fixed as run, limits, shaped, widths};
use ratecore_testkit::{at, rules, window_quota as quota};

type Fw = FixedWindow<1>;

ratecore_testkit::window_props!(Fw, run, (limits(u32::MAX), widths()));

proptest! {
    #![proptest_config(ratecore_testkit::config(256))]

    /// In every aligned window, at most `limit` units are admitted, with
    /// each admitted unit counted in the window it was charged to (its own,
    /// or the latest one admitted into for a stale instant).
    #[test]
    fn at_most_limit_per_window(
        (limit, width, script) in shaped(limits(50), 1..=20u64, false),
        epoch in epochs(),
    ) {
        let fw = Fw::with_epoch(quota(limit, width), at(epoch)).unwrap();
        let horizon = fw.horizon().as_ticks();
        let grid = FixedWindowModel::new(limit, width, epoch, horizon);
        let mut per_window = std::collections::BTreeMap::<u64, u64>::new();
        let mut latest = 0u64;
        let mut now = 0u64;
        for &step in &script {
            match step {
                Step::Check(n) => {
                    let admitted = fw.check_n_at(n, at(now)).is_ok();
                    if admitted && n > 0 {
                        let window = grid.index(now.min(horizon)).max(latest);
                        latest = window;
                        *per_window.entry(window).or_default() += u64::from(n);
                    }
                }
                Step::Move(m) => now = m.apply(now, horizon),
                _ => {}
            }
        }
        for (window, units) in per_window {
            prop_assert!(units <= u64::from(limit), "window {window} admitted {units} > {limit}");
        }
    }

    /// Under saturating single-unit traffic on a monotone clock, every window
    /// admits exactly `min(limit, demand)`: never more, and nothing is lost.
    #[test]
    fn saturating_traffic_gets_exactly_the_limit(
        limit in 1..=12u32,
        width in 1..=15u64,
        epoch in 0..40u64,
        demand in proptest::collection::vec(0..=6u32, 1..200),
    ) {
        let fw = Fw::with_epoch(quota(limit, width), at(epoch)).unwrap();
        let grid = FixedWindowModel::new(limit, width, epoch, u64::MAX);
        let mut admitted = std::collections::BTreeMap::<u64, (u32, u32)>::new();
        for (tick, &requests) in demand.iter().enumerate() {
            let tick = tick as u64;
            for _ in 0..requests {
                let entry = admitted.entry(grid.index(tick)).or_default();
                entry.1 += 1;
                if fw.check_at(at(tick)).is_ok() {
                    entry.0 += 1;
                }
            }
        }
        for (window, (got, asked)) in admitted {
            prop_assert_eq!(got, asked.min(limit), "window {}", window);
        }
    }
}

#[test]
fn boundaries_follow_the_epoch() {
    // Windows of 10 ticks with a boundary at 13: ..., [3, 13), [13, 23), ...
    let fw = Fw::with_epoch(quota(2, 10), at(13)).unwrap();
    assert!(fw.check_n_at(2, at(12)).is_ok());
    let denied = fw.check_at(at(12)).unwrap_err();
    assert_eq!(denied.retry_after().unwrap().as_ticks(), 1);
    let ok = fw.check_n_at(2, at(13)).unwrap();
    assert_eq!((ok.remaining(), ok.reset_after().as_ticks()), (0, 10));
    // The first, partial window [0, 3).
    let fw = Fw::with_epoch(quota(1, 10), at(13)).unwrap();
    assert_eq!(fw.check_at(at(0)).unwrap().reset_after().as_ticks(), 3);
}

#[test]
fn a_stale_instant_counts_in_the_latest_window() {
    let fw = Fw::new(quota(2, 10)).unwrap();
    assert!(fw.check_n_at(2, at(5)).is_ok()); // window 0 full
    assert!(fw.check_at(at(15)).is_ok()); // window 1: 1 of 2
    // A stale reading from window 0 is charged to window 1, not to the
    // (full) window 0, and cannot reopen window 0 either.
    let ok = fw.check_at(at(9)).unwrap();
    assert_eq!((ok.remaining(), ok.reset_after().as_ticks()), (0, 11));
    let denied = fw.check_at(at(9)).unwrap_err();
    assert_eq!(denied.retry_after().unwrap().as_ticks(), 11); // window 2 starts at 20
}

#[test]
fn quota_errors() {
    assert_eq!(
        Fw::new(Quota::per_second(0)).unwrap_err(),
        QuotaError::ZeroCount
    );
    assert_eq!(
        Fw::new(Quota::per_second(5).burst(6)).unwrap_err(),
        QuotaError::BurstUnsupported
    );
    assert_eq!(
        Fw::new(Quota::per_second(5).burst(4)).unwrap_err(),
        QuotaError::BurstUnsupported
    );
    assert!(Fw::new(Quota::per_second(5).burst(5)).is_ok());
    assert_eq!(Fw::new(quota(1, 0)).unwrap_err(), QuotaError::ZeroPeriod);
    // A period too long for 64-bit ticks.
    assert_eq!(
        FixedWindow::<1_000_000_000>::new(Quota::with_period(
            1,
            Duration::<1>::from_ticks(u64::MAX)
        ))
        .unwrap_err(),
        QuotaError::TooLarge
    );
    // More than ~2^32 units per second cannot number 136 years of windows.
    assert_eq!(
        FixedWindow::<1_000_000_000>::new(Quota::with_period(
            u32::MAX,
            Duration::<1_000>::from_ticks(1)
        ))
        .unwrap_err(),
        QuotaError::LimitTooLarge
    );
    assert!(FixedWindow::<1_000_000_000>::new(Quota::per_second(u32::MAX)).is_ok());
    // Every error has a message.
    for e in [QuotaError::LimitTooLarge, QuotaError::BurstUnsupported] {
        assert!(!e.message().is_empty());
        assert_eq!(e.to_string(), e.message());
    }
}

#[test]
fn horizon_is_at_least_136_years_less_two_windows() {
    const NS: u64 = ratecore::time::NANOS;
    let h = 1u64 << 32; // seconds
    for (count, period_ms) in [
        (1u32, 1u64),
        (u32::MAX, 1_000),
        (1_000, 1),
        (u32::MAX, 60_000),
        (7, 86_400_000),
    ] {
        let q = Quota::with_period(count, Duration::<1_000>::from_ticks(period_ms));
        let fw = FixedWindow::<NS>::new(q).unwrap();
        let w = fw.window().as_ticks();
        let horizon = fw.horizon().as_ticks();
        assert!(
            horizon == u64::MAX - (u64::MAX % w) || horizon >= (h * NS).saturating_sub(2 * w),
            "{count} per {period_ms} ms: horizon {horizon}"
        );
    }
    // A one-tick window with a 32-bit count at 1 Hz: the horizon is within reach.
    let fw = Fw::new(quota(u32::MAX, 1)).unwrap();
    assert_eq!(fw.horizon().as_ticks(), (1 << 32) - 1);
    assert!(fw.check_n_at(u32::MAX, at(u64::MAX)).is_ok());
    // Past the horizon the last window never ends: stricter, never looser.
    assert!(fw.check_at(at((1 << 32) + 5)).is_err());
    assert!(fw.check_at(at(u64::MAX)).is_err());
}

#[test]
fn is_idle_means_fresh() {
    let fw = Fw::new(quota(3, 10)).unwrap();
    let (_, word) = fw.decide(0, 2, at(5)).split();
    let word = word.unwrap();
    assert!(!fw.is_idle(word, at(9)));
    assert!(fw.is_idle(word, at(10)));
    assert!(fw.is_idle(0, at(0)));
    // A word from a later window is not idle at an earlier instant.
    let (_, later) = fw.decide(0, 1, at(25)).split();
    let later = fw.refund(later.unwrap(), 1, at(25));
    assert!(fw.is_idle(later, at(25)));
    assert!(!fw.is_idle(later, at(15)));
}

proptest! {
    #![proptest_config(ratecore_testkit::config(256))]

    /// A check builds its decision before it loads its word
    /// (`Algorithm::decider`, which the fixed window overrides to find the
    /// window holding `now` first): that decision is `decide`'s, answer
    /// included, for states a limiter reaches (`held` units charged at `at`,
    /// or any word), counts up to past the limit, and instants before, at
    /// and after `at` (past the horizon too).
    #[test]
    fn decider_decides_as_decide(
        limit in limits(50),
        width in widths(),
        epoch in epochs(),
        held in 0u32..60,
        at_tick in any::<u64>(),
        later in prop_oneof![0u64..100, any::<u64>()],
        n in 0u32..60,
        word in prop::option::of(any::<u64>()),
    ) {
        let Ok(fw) = Fw::with_epoch(quota(limit, width), at(epoch)) else {
            return Ok(());
        };
        let config = fw.algorithm();
        let state = word.unwrap_or_else(|| {
            config.decide(0, held, at(at_tick)).stored().unwrap_or(0)
        });
        for now in [at_tick.saturating_sub(later), at_tick, at_tick.saturating_add(later)] {
            rules::decider(config, state, n, at(now));
        }
    }
}
