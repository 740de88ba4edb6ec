#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod body;
mod grpc;
mod headers;
mod key;
mod layer;
mod metrics;
mod plan;
mod plan_headers;
mod problem;
mod rc;
#[cfg(feature = "redis")]
pub mod redis_store;
mod store;
pub mod wait;

pub use body::RateLimitBody;
pub use headers::{HeaderOptions, write_headers};
pub use key::{
    ApiKeyHeader, Cidr, CidrError, Extracted, ForwardedHeader, ForwardedIp, GlobalKey, Key,
    KeyExtractor, NoKey, PeerAddr, PeerIp, Prefixes, RequestInfo, WithCost,
};
pub use key::{KeyExtractorExt, OrAnonymous};
pub use layer::{Builder, OnStoreError, RateLimit, RateLimitLayer, ResponseFuture, SharedClock};
pub use metrics::{Counters, Event, Metrics};
pub use plan::{ConfigError, Limit, MAX_LIMITS, Meter, Plan, PlanId, Plans};
pub use rc::{Clock, Duration, Instant, MAX_PLANS, MS, ManualClock, Quota, WhenFull};
pub use store::{
    InMemoryPermit, InMemoryStore, LimitState, LimitStates, Outcome, Store, StoreRequest, Verdict,
};
