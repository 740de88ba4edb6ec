//! `SlidingLog` (and `SharedSlidingLog`) against its reference model, plus
//! its invariants. Ticks are seconds (`HZ = 1`).

use proptest::prelude::*;
use ratecore::{Quota, QuotaError, SlidingLog};
use ratecore_testkit::window::{densest_span, log as run, shaped, steps, widths};
use ratecore_testkit::{at, config, window_quota as quota};

const N: usize = 8;
type Log = SlidingLog<1, N>;

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn decides_as_the_model_and_exactly(
        (limit, width, script) in shaped(1..=N as u32, widths(), false),
    ) {
        let history = run::<N>(limit, width, &script);
        prop_assert!(densest_span(&history, width) <= u64::from(limit));
    }

    /// A full ring: `N = limit`, single units, small windows.
    #[test]
    fn a_ring_of_exactly_limit_entries(
        (width, script) in (1..=6u64).prop_flat_map(|w| (Just(w), steps(3, w, false))),
    ) {
        let history = run::<3>(3, width, &script);
        prop_assert!(densest_span(&history, width) <= 3);
    }

    /// Dense traffic on a monotone clock: exactly `limit` per span, and no
    /// more than that ever.
    #[test]
    fn dense_traffic_within_the_limit(
        limit in 1..=N as u32,
        width in 1..=25u64,
        demand in proptest::collection::vec(0..=4u32, 1..150),
    ) {
        let mut log = Log::new(quota(limit, width)).unwrap();
        let mut history = Vec::new();
        for (tick, &requests) in demand.iter().enumerate() {
            for _ in 0..requests {
                if log.check_at(at(tick as u64)).is_ok() {
                    history.push((tick as u64, 1));
                }
            }
        }
        prop_assert!(densest_span(&history, width) <= u64::from(limit));
    }
}

#[test]
fn retry_after_counts_the_units_that_must_expire() {
    let mut log = SlidingLog::<1, 5>::new(quota(5, 10)).unwrap();
    assert!(log.check_n_at(2, at(1)).is_ok());
    assert!(log.check_n_at(1, at(4)).is_ok());
    assert!(log.check_n_at(2, at(6)).is_ok());
    // 4 units need 4 - 0 = 4 to expire: those of 1 (2), 4 (1) and 6 (2): at 16.
    let denied = log.check_n_at(4, at(8)).unwrap_err();
    assert_eq!(denied.retry_after().unwrap().as_ticks(), 8);
    // 2 units need those of 1: at 11.
    assert_eq!(
        log.check_n_at(2, at(8))
            .unwrap_err()
            .retry_after()
            .unwrap()
            .as_ticks(),
        3
    );
    assert_eq!(log.snapshot_at(at(8)).reset_after().as_ticks(), 8);
    assert!(log.check_n_at(2, at(11)).is_ok());
    // A stale reading is evaluated at the latest admitted instant, 11.
    assert_eq!(log.snapshot_at(at(0)).remaining(), 0);
    assert_eq!(
        log.check_at(at(0))
            .unwrap_err()
            .retry_after()
            .unwrap()
            .as_ticks(),
        14
    );
}

#[test]
fn quota_errors_and_memory() {
    assert_eq!(
        SlidingLog::<1, 4>::new(quota(5, 10)).unwrap_err(),
        QuotaError::LimitTooLarge
    );
    assert!(SlidingLog::<1, 5>::new(quota(5, 10)).is_ok());
    assert_eq!(
        Log::new(Quota::per_second(3).burst(2)).unwrap_err(),
        QuotaError::BurstUnsupported
    );
    assert_eq!(Log::new(quota(0, 10)).unwrap_err(), QuotaError::ZeroCount);
    assert_eq!(Log::new(quota(1, 0)).unwrap_err(), QuotaError::ZeroPeriod);
    // The documented memory: 16 bytes per entry plus 56 on 64-bit targets.
    let size = core::mem::size_of::<SlidingLog<1, 100>>();
    assert!((16 * 100..=16 * 100 + 56).contains(&size), "{size} bytes");
    #[cfg(target_pointer_width = "64")]
    assert_eq!(size, 16 * 100 + 56);
}

#[test]
fn checks_at_one_instant_share_an_entry() {
    // A ring of one entry holds a limit of one, and many checks of one
    // instant merge: limit 1 needs N >= 1 only.
    let mut log = SlidingLog::<1, 1>::new(quota(1, 3)).unwrap();
    assert!(log.check_at(at(0)).is_ok());
    assert!(log.check_at(at(2)).is_err());
    assert!(log.check_at(at(3)).is_ok());
    let mut log = SlidingLog::<1, 2>::new(quota(2, 3)).unwrap();
    assert!(log.check_at(at(5)).is_ok());
    assert!(log.check_at(at(5)).is_ok());
    assert!(log.check_at(at(7)).is_err());
    assert!(log.check_n_at(2, at(8)).is_ok());
}

#[cfg(feature = "critical-section")]
mod shared {
    use super::*;
    use ratecore::{Duration, Limiter, algorithms::SharedSlidingLog};
    use ratecore_testkit::window::Step;

    static SHARED: SharedSlidingLog<1, 4> = ratecore::const_unwrap!(SharedSlidingLog::new(
        Quota::with_period(4, Duration::<1>::from_ticks(10))
    ));

    #[test]
    fn a_static_shared_log_decides_as_the_log() {
        let mut plain = SlidingLog::<1, 4>::new(quota(4, 10)).unwrap();
        let mut now = 0u64;
        for i in 0..60u64 {
            now += (i * 7) % 5;
            let n = (i % 3) as u32;
            assert_eq!(SHARED.check_n_at(n, at(now)), plain.check_n_at(n, at(now)));
            assert_eq!(SHARED.snapshot_at(at(now)), plain.snapshot_at(at(now)));
        }
    }

    proptest! {
        #![proptest_config(config(256))]

        #[test]
        fn shared_decides_as_plain(
            (limit, width, script) in shaped(1..=N as u32, 1..=30u64, false),
        ) {
            let shared = SharedSlidingLog::<1, N>::new(quota(limit, width)).unwrap();
            let mut plain = Log::new(quota(limit, width)).unwrap();
            let mut now = 0u64;
            for step in script {
                match step {
                    Step::Check(n) => prop_assert_eq!(shared.check_n_at(n, at(now)), plain.check_n_at(n, at(now))),
                    Step::Peek => prop_assert_eq!(shared.snapshot_at(at(now)), plain.snapshot_at(at(now))),
                    Step::Refund(_) => {}
                    Step::Move(m) => now = m.apply(now, u64::MAX),
                }
            }
            prop_assert_eq!(shared.into_inner(), plain);
        }
    }
}
