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
// `loom` is a test configuration, not something users choose: no label.
#![cfg_attr(docsrs, doc(auto_cfg(hide(loom))))]

// Every limiter is a compare-and-swap loop. On cores with none (Cortex-M0,
// riscv32imc), 64-bit atomics go through a critical section, which ratecore's
// `critical-section` feature turns on.
#[cfg(all(not(target_has_atomic = "ptr"), not(feature = "critical-section")))]
compile_error!(
    "ratecore: this target has no atomic compare-and-swap (Cortex-M0, riscv32imc, ...): \
     enable ratecore's `critical-section` feature (`ratecore = { version = \"0.1\", \
     features = [\"critical-section\"] }`) and link a critical-section implementation \
     for your platform (e.g. cortex-m's `critical-section-single-core`)"
);

#[cfg(feature = "alloc")]
extern crate alloc;
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
    ConcurrencyLimit, FixedWindow, Gcra, PackedGcra, RefillMode, SlidingLog, SlidingWindow,
    TokenBucket,
};
pub use answer::{Decision, Denied, RateLimited, Status};
pub use compose::Tiers;
pub use kernel::{Limiter, Refund};
pub use keyed::KeyedLimiter;
pub use quota::{Quota, QuotaError};
pub use time::{Clock, Duration, Instant};
