//! ratecore's own rate-limit algorithms on state shared in Redis or Valkey.
//!
//! With an in-process limiter each server process grants the whole quota.
//! A [`RedisLimiter`] keeps each key's one-word ratecore state in a shared
//! [`Store`] instead and decides with the *same* algorithm code as the
//! in-memory limiter, so its decisions are bit-identical to ratecore's for
//! the same `(instant, n)` sequence, the instants being the store's clock.
//!
//! The protocol, per batch of operations on one key:
//!
//! 1. one script reads the state word and the server's `TIME` (one clock for
//!    every machine);
//! 2. the batch is decided in Rust, one operation after another
//!    ([`SharedAlgorithm::decide`]); a batch of denials writes nothing;
//! 3. one compare-and-set script stores the new word if the key still holds
//!    the word read, with an expiry at the first instant the state is idle
//!    (rounded up to whole milliseconds, at least 1); a refusal returns the
//!    current word and time, and the batch is decided again on them.
//!
//! See the README for the key format, the encoding and the fail policy.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod algorithm_glue;
mod limiter;
mod redis_store;
mod store;

pub use algorithm_glue::{SharedAlgorithm, Step};
pub use limiter::{Answer, Config, Error, FailPolicy, Metrics, RedisLimiter};
pub use redis_store::{CAS_SCRIPT, READ_SCRIPT, RedisStore};
pub use store::{CasOutcome, Read, Store, StoreError};
