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

pub mod kernel;

pub mod algorithms;

pub mod compose;

pub mod keyed;

pub mod client;
pub mod clock;
pub mod http;

#[doc = include_str!("../ARCHITECTURE.md")]
pub mod architecture {}

pub use algorithms::{
    ConcurrencyLimit, FixedWindow, Gcra, RefillMode, SlidingLog, SlidingWindow, TokenBucket,
};
pub use answer::{Decision, Denied, RateLimited, Status};
pub use compose::Tiers;
pub use kernel::{Limiter, Refund};
pub use keyed::KeyedLimiter;
pub use quota::{Quota, QuotaError};
pub use time::{Clock, Duration, Instant};
