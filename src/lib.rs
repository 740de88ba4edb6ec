#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
// No input may panic the library: every fallible operation is checked or
// saturating. Scoped here rather than in Cargo.toml because `[lints]` would
// reach tests, examples and benches, which may unwrap.
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing
    )
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "std")]
extern crate std;

mod macros;

mod vocabulary;
pub use vocabulary::{answer, quota, time};

mod kernel;

mod algorithms;

mod compose;

mod keyed;

pub mod client;
pub mod clock;
pub mod http;

pub use answer::{
    AtCapacity, Decision, Denied, ExceedsBurst, ExceedsRequestCap, RateLimited, Status, TableFull,
};
pub use kernel::algorithm::Algorithm;
pub use kernel::charge::{Charge, Receipt};
pub use kernel::limiter::{Limiter, Refund};
pub use kernel::reservation::Reservation;
pub use quota::{Quota, QuotaError};
pub use time::{Clock, Duration, Instant, MICROS, MILLIS, NANOS};

pub use algorithms::concurrency::{ConcurrencyLimit, Permit};
pub use algorithms::fixed_window::FixedWindow;
pub use algorithms::gcra::Gcra;
#[cfg(feature = "critical-section")]
pub use algorithms::sliding_log::SharedSlidingLog;
pub use algorithms::sliding_log::SlidingLog;
pub use algorithms::sliding_window::SlidingWindow;
pub use algorithms::token_bucket::{RefillMode, TokenBucket};

pub use compose::capped::Capped;
pub use compose::tiers::{Tier, TierAnswer, TierDecision, Tiers};
pub use compose::toggle::Toggle;
pub use compose::unlimited::Unlimited;

pub use keyed::{Admitted, KeyedDecision, KeyedLimiter, Plan, PlanError, WhenFull};
