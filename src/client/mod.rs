//! The client side: how a well-behaved client reacts to `429` and failures.
//!
//! - [`Backoff`] and its [`BackoffSchedule`] iterator: exponential backoff
//!   with full, equal or decorrelated [`Jitter`], capped, honouring a
//!   server's `Retry-After`, with randomness from the caller ([`RandomSource`],
//!   [`SplitMix64`]); no global state, no allocation.
//!
//! Like the limiters, they take the time as an argument (`*_at(now)`) and
//! never read a clock on their own.

mod backoff;
mod random;
mod schedule;

pub use backoff::{Backoff, BackoffError, Jitter, Multiplier};
pub use random::{RandomSource, SplitMix64};
pub use schedule::BackoffSchedule;
