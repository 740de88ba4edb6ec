//! The client side: how a well-behaved client reacts to `429` and failures.
//!
//! - [`Backoff`] and its [`BackoffSchedule`] iterator: exponential backoff
//!   with full, equal or decorrelated [`Jitter`], capped, honouring a
//!   server's `Retry-After`, with randomness from the caller ([`RandomSource`],
//!   [`SplitMix64`]); no global state, no allocation.
//! - [`AimdPacer`]: a sending rate that rises additively while responses show
//!   headroom and falls multiplicatively on `429`, between a floor and a
//!   ceiling, exposing the next instant a send is allowed.
//! - [`CircuitBreaker`]: closed, open and half-open with a probe limit, in
//!   one atomic word.
//!
//! Like the limiters, they take the time as an argument (`*_at(now)`) and
//! never read a clock on their own.

mod aimd;
mod backoff;
mod breaker;
mod breaker_state;
mod random;
mod schedule;

pub use aimd::{AimdConfig, AimdError, AimdPacer, PER_SECOND};
pub use backoff::{Backoff, BackoffError, Jitter, Multiplier};
pub use breaker::{BreakerConfig, BreakerError, CircuitBreaker};
pub use breaker_state::{Admission, BreakerRejected, BreakerState};
pub use random::{RandomSource, SplitMix64};
pub use schedule::BackoffSchedule;
