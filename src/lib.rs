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
mod sync;

mod algorithm;
pub mod clock;
mod decision;
mod gcra;
mod keyed;
mod limiter;
mod quota;
mod schedule;
mod time;
mod token_bucket;

pub use algorithm::Algorithm;
pub use decision::{Decision, Denied, ExceedsBurst, RateLimited, Status};
pub use gcra::Gcra;
pub use keyed::{Admitted, KeyedDecision, KeyedLimiter, Plan, PlanError, TableFull, WhenFull};
pub use limiter::{Limiter, Refund};
pub use quota::{Quota, QuotaError};
pub use time::{Clock, Duration, Instant, MICROS, MILLIS, NANOS};
pub use token_bucket::{RefillMode, TokenBucket};
