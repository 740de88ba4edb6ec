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
//! - [`strategy`] (feature `proptest`): proptest strategies, and [`config`],
//!   the one proptest configuration.
//!
//! With the feature `redis-server`, [`redis_server`] starts a real
//! `redis-server` for the tests of ratecore-redis and the HTTP server example.
//!
//! With the feature `arbitrary`, the fuzz targets decode the same operation
//! types from bytes.

pub mod keyed_tiers;
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
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}
