//! HTTP-facing metadata: header values, 429 body data and usage snapshots,
//! written through `core::fmt` with no allocation.
//!
//! A server turns each answer into a [`ServiceLimit`] (one policy's state in
//! whole seconds, from a [`Policy`] and a core [`Status`](crate::Status) or
//! [`RateLimited`](crate::RateLimited)) and writes its responses from
//! [`Headers`] over one or several of them:
//!
//! | header | value | from |
//! | --- | --- | --- |
//! | `X-RateLimit-Limit` | the burst | [`Headers::x_ratelimit_limit`] |
//! | `X-RateLimit-Remaining` | units left now | [`Headers::x_ratelimit_remaining`] |
//! | `X-RateLimit-Reset` | Unix second the limit is full again, rounded up | [`Headers::x_ratelimit_reset`] |
//! | `Retry-After` | delay-seconds, the exact wait rounded up, never 0; only on a refusal | [`Headers::retry_after`] |
//! | `RateLimit-Policy` | `"name";q=..;w=..` items (`qu`, `pk` if set) | [`Headers::ratelimit_policy`] |
//! | `RateLimit` | `"name";r=..;t=..` items | [`Headers::ratelimit`] |
//!
//! plus the data of a 429 body ([`TooManyRequests`], with an RFC 9457 JSON
//! rendering and an [`Rfc3339`] timestamp) and a [`Usage`] snapshot for
//! monitoring ("alert at 80 %").
//!
//! Each name constant has a lower-case twin (`RATELIMIT_POLICY_LOWER`, ...),
//! the form HTTP/2 and HTTP/3 send and `http::HeaderName::from_static` takes.
//!
//! # The IETF fields
//!
//! `RateLimit-Policy` and `RateLimit` follow
//! **draft-ietf-httpapi-ratelimit-headers-11** (23 May 2026), whose syntax is
//! that of -10 (the revision ARCHITECTURE.md names): both fields are
//! structured-field Lists (RFC 9651) of Items whose value is the policy's
//! name as a String. A policy item carries `q` (quota, required), `qu`
//! (quota unit, a String), `w` (window in seconds) and `pk` (partition key,
//! a Byte Sequence); a service-limit item carries `r` (available quota) and
//! `t` (effective window in seconds) and `pk`. Names are printable ASCII,
//! with `"` and `\` escaped; integers are clamped to the 15 digits a
//! structured-field Integer allows (`t` only ever downwards, see below).
//!
//! # Rounding
//!
//! Every duration becomes whole seconds rounded **up**, exactly for any tick
//! rate ([`ceil_seconds`]): `Retry-After` is at least the exact wait and less
//! than one second more, so a client that honours it is never refused for
//! being early. The draft asks that `Retry-After` never name a time before
//! the end of the effective window `t`; here `t` of a refused policy *is* its
//! `Retry-After` (see [`ServiceLimit`] and [`Headers`]).

mod body;
mod buffer;
mod composed;
mod headers;
mod policy;
mod rfc3339;
mod seconds;
mod service_limit;
mod sf;
mod usage;

pub use body::{Json, PROBLEM_JSON, QUOTA_EXCEEDED_TYPE, TooManyRequests};
pub use buffer::FixedBuf;
pub use headers::{
    HeaderIter, HeaderValue, Headers, PolicyList, RATELIMIT, RATELIMIT_POLICY, RETRY_AFTER,
    RateLimitList, X_RATELIMIT_LIMIT, X_RATELIMIT_REMAINING, X_RATELIMIT_RESET,
};
pub use headers::{
    RATELIMIT_LOWER, RATELIMIT_POLICY_LOWER, RETRY_AFTER_LOWER, X_RATELIMIT_LIMIT_LOWER,
    X_RATELIMIT_REMAINING_LOWER, X_RATELIMIT_RESET_LOWER,
};
pub use policy::{Policy, PolicyError, QuotaUnit};
pub use rfc3339::{CivilTime, RFC3339_MAX_UNIX_SECS, Rfc3339};
pub use seconds::{ceil_seconds, unix_seconds_after};
pub use service_limit::ServiceLimit;
pub use sf::SF_INTEGER_MAX;
pub use usage::Usage;
