//! ratecore's verification kit, shared by the property tests, the fuzz
//! targets and outside algorithm authors:
//!
//! - [`model`]: reference models written from the specification alone, the
//!   one [`Model`](model::Model) trait every limiter and model is driven
//!   through, the [`Subject`](model::Subject) adapter for any
//!   `ratecore::kernel::Algorithm` on a plain state word, traces of
//!   operations and the differential driver that runs them
//!   ([`model::harness`]) with the invariants ([`model::invariants`]);
//! - [`window`]: the window limiters through the same trait and one driver;
//! - [`keyed_tiers`] and [`reconfigure`]: tiers per key and live plan
//!   changes against their models; [`requota`]: quota changes interleaved
//!   with reservations, receipts and resets;
//! - [`rules`]: the kernel's rules as checks for any `Algorithm`;
//! - [`linearizability`]: the sequential orders of concurrent histories, for
//!   the loom models;
//! - [`strategy`] (feature `proptest`): proptest strategies, and [`config`],
//!   the one proptest configuration.
//!
//! With the feature `redis-server`, [`redis_server`] starts a real
//! `redis-server` for the tests of ratecore-redis and the HTTP server example.
//!
//! With the feature `arbitrary`, the fuzz targets decode the same operation
//! types from bytes.

// The list above links every module; without the features that build
// `strategy` and `redis_server`, those links have nothing to point at.
#![cfg_attr(
    not(all(feature = "proptest", feature = "redis-server")),
    allow(rustdoc::broken_intra_doc_links)
)]

pub mod keyed_tiers;
pub mod linearizability;
pub mod model;
pub mod reconfigure;
#[cfg(feature = "redis-server")]
pub mod redis_server;
pub mod requota;
pub mod rules;
#[cfg(feature = "proptest")]
pub mod strategy;
pub mod window;

use ratecore::{Duration, Instant, Quota};

/// The instant `t` ticks after tick 0.
pub fn at<const HZ: u64>(t: u64) -> Instant<HZ> {
    Instant::<HZ>::from_ticks(t)
}

/// A duration of `t` ticks.
pub fn ticks<const HZ: u64>(t: u64) -> Duration<HZ> {
    Duration::<HZ>::from_ticks(t)
}

/// A rate-limited refusal's `(remaining, retry_after, reset_after)` in
/// ticks; `None` for an admission or any other refusal.
pub fn limited<const HZ: u64>(decision: ratecore::Decision<HZ>) -> Option<(u32, u64, u64)> {
    match decision {
        Err(ratecore::Denied::RateLimited(r)) => Some((
            r.remaining(),
            r.retry_after().as_ticks(),
            r.reset_after().as_ticks(),
        )),
        _ => None,
    }
}

/// Asserts that `limiter`, denied one unit at `now`, says to retry at
/// `ready`, is still denied a tick before it and admits the unit at `ready`
/// (which the last check charges).
#[track_caller]
pub fn assert_next_unit_at<const HZ: u64>(
    limiter: &impl ratecore::Limiter<HZ>,
    now: u64,
    ready: u64,
) {
    let denied = limiter.check_at(at(now)).unwrap_err();
    assert_eq!(
        denied.retry_after().map(|d| d.as_ticks()),
        Some(ready - now)
    );
    assert!(
        limiter.check_at(at(ready - 1)).is_err(),
        "admitted before {ready}"
    );
    assert!(limiter.check_at(at(ready)).is_ok(), "denied at {ready}");
}

/// A keyed table of `N` slots with one `Gcra` per plan, on `quotas` (which
/// must be valid), hashing keys with `seed` and denying new keys when full.
pub fn gcra_table<const HZ: u64, const N: usize, const P: usize>(
    quotas: [Quota; P],
    seed: [u64; 2],
) -> ratecore::KeyedLimiter<ratecore::Gcra<HZ>, HZ, N, P> {
    let plans = quotas.map(|quota| ratecore::Gcra::new(quota).expect("a valid quota"));
    ratecore::KeyedLimiter::new(plans, seed, ratecore::keyed::WhenFull::Deny)
}

/// `limit` units per `width` ticks of 1 Hz (a window limiter's quota, where
/// the period is its window in ticks).
pub fn window_quota(limit: u32, width: u64) -> Quota {
    Quota::with_period(limit, Duration::<1>::from_ticks(width))
}

/// The proptest configuration of every property test: `cases` cases unless
/// the environment's `PROPTEST_CASES` says otherwise; failures persist beside
/// the test file (`tests/NAME.proptest-regressions`), to be committed.
#[cfg(feature = "proptest")]
pub fn config(cases: u32) -> proptest::test_runner::Config {
    use proptest::test_runner::{Config, FileFailurePersistence};
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    let default = Config::default();
    Config {
        cases,
        // Inputs a test rejects (a quota the crate refuses, say) are a share
        // of the cases: the default limit of 1,024 rejects a long run
        // (`PROPTEST_CASES=20000`) would exceed, aborting a passing test.
        max_global_rejects: default.max_global_rejects.max(cases),
        // Likewise a strategy's own filter (`prop_filter`): the AIMD
        // configurations reject about two draws per case, past the default
        // 65,536 in a run of 30,000 cases.
        max_local_rejects: default.max_local_rejects.max(cases.saturating_mul(16)),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..default
    }
}

/// The property tests every window limiter `$limiter` (`FixedWindow<1>` or
/// `SlidingWindow<1>`) shares, 256 cases each: against its model,
/// `decides_as_the_model` over `(limit, width)` from `$shapes` and any epoch
/// and script, and `decides_as_the_model_small` over [`window::small`]
/// limiters, scripts and epochs, each run through `$run` ([`window::fixed`]
/// or [`window::sliding`]); and the kernel's rules,
/// `idle_words_decide_as_fresh` ([`rules::idle_decides_as_fresh`]) and
/// `foreign_words_do_not_panic` ([`rules::any_word`]). Needs the feature
/// `proptest`, and proptest as a dependency of the test.
#[cfg(feature = "proptest")]
#[macro_export]
macro_rules! window_props {
    ($limiter:ty, $run:path, $shapes:expr) => {
        ::proptest::proptest! {
            #![proptest_config($crate::config(256))]

            #[test]
            fn decides_as_the_model(
                (limit, width) in $shapes,
                epoch in $crate::window::epochs(),
                script in $crate::window::scripts(),
            ) {
                $run(limit, width, epoch, &script);
            }

            #[test]
            fn decides_as_the_model_small(
                (limit, width, script) in $crate::window::small(),
                epoch in 0..12u64,
            ) {
                $run(limit, width, epoch, &script);
            }

            /// An idle word decides exactly as a fresh one, for any later checks.
            #[test]
            fn idle_words_decide_as_fresh(
                limit in 1..=5u32,
                width in 1..=10u64,
                prefix in ::proptest::collection::vec((0..=6u32, 0..=12u64), 0..12),
                later in ::proptest::collection::vec((0..=6u32, 0..=12u64), 1..12),
            ) {
                let limiter = <$limiter>::new($crate::window_quota(limit, width)).unwrap();
                $crate::rules::idle_decides_as_fresh(&limiter, &prefix, &later);
            }

            /// No input panics, whatever the word (the `Algorithm` functions
            /// are public).
            #[test]
            fn foreign_words_do_not_panic(
                (limit, width) in $shapes,
                epoch in $crate::window::epochs(),
                word in ::proptest::prelude::any::<u64>(),
                n in ::proptest::prelude::any::<u32>(),
                now in ::proptest::prelude::any::<u64>(),
            ) {
                let quota = $crate::window_quota(limit, width);
                let limiter = <$limiter>::with_epoch(quota, $crate::at(epoch)).unwrap();
                $crate::rules::any_word(&limiter, word, n, $crate::at(now));
            }
        }
    };
}
