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
mod one_word;
mod sync;

mod algorithm;
pub mod client;
pub mod clock;
mod decision;
mod fixed_window;
mod gcra;
pub mod http;
mod keyed;
mod limiter;
mod quota;
mod schedule;
mod sliding_log;
mod sliding_window;
mod time;
mod token_bucket;
mod window;

mod capped;
mod charge;
mod concurrency;
mod reservation;
mod tiers;
mod toggle;
mod unlimited;

pub use algorithm::Algorithm;
pub use decision::{Decision, Denied, ExceedsBurst, RateLimited, Status};
pub use fixed_window::FixedWindow;
pub use gcra::Gcra;
pub use keyed::{Admitted, KeyedDecision, KeyedLimiter, Plan, PlanError, TableFull, WhenFull};
pub use limiter::{Limiter, Refund};
pub use quota::{Quota, QuotaError};
#[cfg(feature = "critical-section")]
pub use sliding_log::SharedSlidingLog;
pub use sliding_log::SlidingLog;
pub use sliding_window::SlidingWindow;
pub use time::{Clock, Duration, Instant, MICROS, MILLIS, NANOS};
pub use token_bucket::{RefillMode, TokenBucket};

pub use capped::Capped;
pub use charge::{Charge, Receipt};
pub use concurrency::{ConcurrencyLimit, Permit};
pub use decision::{AtCapacity, ExceedsRequestCap};
pub use reservation::Reservation;
pub use tiers::{Tier, TierAnswer, TierDecision, Tiers};
pub use toggle::Toggle;
pub use unlimited::Unlimited;
