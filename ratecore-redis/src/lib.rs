#![doc = include_str!("../README.md")]
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

mod batch;
mod concurrency;
mod deny_cache;
mod limiter;
mod plans;
mod redis_store;
mod server_gcra;
mod store;
mod tie_break;
mod tiers;

pub use concurrency::{Acquired, LeaseMetrics, RedisConcurrency, RedisPermit};
pub use limiter::{Answer, Config, Error, FailPolicy, Metrics, RedisLimiter, ServerDecide};
pub use plans::RedisPlans;
pub use redis_store::{CAS_SCRIPT, READ_SCRIPT, RedisStore};
pub use server_gcra::{GCRA_SCRIPT, GcraBatch, GcraOutcome};
pub use store::{CasOutcome, Read, ReadWords, Store, StoreError, WordsOutcome, WordsStore};
pub use tiers::{RedisTiers, Tiered, TieredAnswer, TieredCheck, TieredDecision};
