//! The algorithms: each limiter's decision, in its own file, as an
//! [`Algorithm`](crate::kernel::Algorithm) over one state word (the exact
//! sliding log keeps a ring of instants instead).
//!
//! Each one-word limiter is a [`WordLimiter`](crate::kernel::WordLimiter)
//! of its configuration (`Gcra<HZ>` is `WordLimiter<GcraConfig<HZ>>`): the
//! configuration alone is what a keyed table, a `static` word
//! ([`WordRef`](crate::kernel::WordRef)) or a remote store applies.

mod concurrency;
mod divisor;
mod fixed_window;
mod gcra;
mod grid;
mod log_limit;
mod packed_gcra;
mod sliding_log;
mod sliding_window;
mod tat;
mod token_bucket;

pub use concurrency::{ConcurrencyConfig, ConcurrencyLimit, Permit};
pub use fixed_window::{FixedWindow, FixedWindowConfig};
pub use gcra::{Gcra, GcraConfig};
pub use log_limit::{LogLimitConfig, LogLimiter, LogVerdict, MAX_LOG_BURST};
pub use packed_gcra::{PackedGcra, PackedGcraConfig};
#[cfg(feature = "critical-section")]
#[cfg_attr(docsrs, doc(cfg(feature = "critical-section")))]
pub use sliding_log::SharedSlidingLog;
pub use sliding_log::SlidingLog;
pub use sliding_window::{SlidingWindow, SlidingWindowConfig};
pub use token_bucket::{RefillMode, TokenBucket, TokenBucketConfig};
