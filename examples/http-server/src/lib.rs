//! An HTTP API with per-API-key plans, on ratecore-tower.
//!
//! - `free`: 5 requests per minute, 100 per day, at most 10,000 characters
//!   per request;
//! - `pro`: 60 requests per minute, 1,000 per day, at most 20,000
//!   characters per request;
//! - both: at most 5 requests of one key in flight at once.
//!
//! A request names its API key in `x-api-key`; the key is looked up in a
//! small in-memory key store ([`API_KEYS`]). The request body's length (in
//! bytes, from `Content-Length`) is the request's cost, checked against the
//! plan's per-request cap. Every answer carries `RateLimit-Policy`,
//! `RateLimit` and `X-RateLimit-*`; a refusal is a `429` with `Retry-After`
//! and an `application/problem+json` body, a body over the cap a `413`, a
//! missing or unknown key a `401`.
//!
//! The limits live in this process's memory by default, or in Redis
//! ([`Limits::Redis`]), where every server process using the same Redis
//! shares them: two processes grant a key its plan once, not twice, and
//! 5 requests in flight at once in all, not 5 each.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::post;
use ratecore_tower::redis_store::{Config, RedisPlanStore, RedisStore};
use ratecore_tower::{
    Builder, ConfigError, Key, KeyExtractorExt, OnStoreError, Plan, Plans, Quota, RateLimitLayer,
};
use tokio::net::TcpListener;

/// The demo API keys: `(API key, account, plan)`. Demo values: real keys
/// come from a secret store, never from source code.
pub const API_KEYS: [(&str, &str, &str); 3] = [
    ("demo-free-key", "alice", "free"),
    ("demo-free-key-2", "carol", "free"),
    ("demo-pro-key", "bob", "pro"),
];

/// `POST /stream` echoes the body back `STREAM_CHUNK` bytes at a time, one
/// chunk every `STREAM_EVERY` (as a model streams its tokens): the request
/// holds its concurrency place until the last chunk is sent.
pub const STREAM_CHUNK: usize = 16;
/// See [`STREAM_CHUNK`].
pub const STREAM_EVERY: Duration = Duration::from_millis(100);

/// On Redis, how long after its last change a key's count of requests in
/// flight expires (so a crashed process's places come back): longer than
/// the longest response, a `pro` stream of 20,000 characters (1,250 chunks,
/// 125 s).
pub const LEASE: Duration = Duration::from_secs(150);

/// The two plans, `free` then `pro`.
///
/// # Errors
///
/// None with these constants; [`ConfigError`] if they are edited into a
/// plan ratecore-tower cannot enforce.
pub fn plans() -> Result<Plans, ConfigError> {
    let mut plans = Plans::new();
    plans.add(plan("free", 5, 100, 10_000))?;
    plans.add(plan("pro", 60, 1_000, 20_000))?;
    Ok(plans)
}

/// The plan `name`: `per_minute` requests per minute and `per_day` per day
/// (`NAME-minute`, `NAME-day`), at most `characters` per request
/// (`NAME-characters`), 5 requests of a key in flight at once.
fn plan(name: &str, per_minute: u32, per_day: u32, characters: u32) -> Plan {
    Plan::new(name)
        .limit(format!("{name}-minute"), Quota::per_minute(per_minute))
        .limit(format!("{name}-day"), Quota::per_day(per_day))
        .max_cost(format!("{name}-characters"), characters)
        .concurrency(5)
}

/// The layer's builder for `plans`: keys from `x-api-key` looked up in
/// [`API_KEYS`], the body's length as the cost, legacy `X-RateLimit-*`
/// headers too. Tests add manual clocks to it.
pub fn builder(plans: &Plans) -> Builder {
    let accounts: HashMap<&'static str, (Key, _)> = API_KEYS
        .iter()
        .filter_map(|&(api_key, account, plan)| {
            let (id, _) = plans.iter().find(|(_, p)| p.name() == plan)?;
            Some((api_key, (Key::Name(Arc::from(account)), id)))
        })
        .collect();
    let keys =
        ratecore_tower::ApiKeyHeader::new("x-api-key", move |key| accounts.get(key).cloned())
            .with_body_len_cost();
    RateLimitLayer::builder(plans.clone(), keys).legacy_headers(true)
}

/// Where the limits live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Limits {
    /// In this process's memory.
    InMemory,
    /// In the Redis at this URL (`redis://127.0.0.1:6379/`), shared by every
    /// process using it. If Redis cannot answer within 50 ms, requests get
    /// `503` with `Retry-After: 1` (fail closed).
    Redis(String),
}

/// The routes, behind `layer`: `POST /` answers the body's length in
/// characters, `POST /stream` echoes the body back slowly.
pub fn app<St: ratecore_tower::Store>(layer: RateLimitLayer<St>) -> Router {
    Router::new()
        .route(
            "/",
            post(|body: String| async move { format!("{} characters\n", body.chars().count()) }),
        )
        .route("/stream", post(stream))
        .layer(layer)
}

async fn stream(body: Bytes) -> Body {
    let chunks = futures_util::stream::unfold(body, |mut rest| async move {
        if rest.is_empty() {
            return None;
        }
        tokio::time::sleep(STREAM_EVERY).await;
        let chunk = rest.split_to(rest.len().min(STREAM_CHUNK));
        Some((Ok::<_, std::convert::Infallible>(chunk), rest))
    });
    Body::from_stream(chunks)
}

/// Serves the API on `listener` with its limits in `limits`, until the
/// listener fails.
///
/// # Errors
///
/// A malformed Redis URL, or the listener's failure.
pub async fn serve(
    listener: TcpListener,
    limits: Limits,
) -> Result<(), Box<dyn std::error::Error>> {
    let plans = plans()?;
    let router = match limits {
        Limits::InMemory => app(builder(&plans).build()?),
        Limits::Redis(url) => {
            let redis = RedisStore::open(&url, Duration::from_millis(100))?;
            let config = Config::new("ratecore-http-server");
            let store = RedisPlanStore::with_lease(&plans, redis, config, LEASE);
            app(builder(&plans)
                .on_store_error(OnStoreError::Refuse)
                .build_with_store(store)?)
        }
    };
    axum::serve(listener, router).await?;
    Ok(())
}
