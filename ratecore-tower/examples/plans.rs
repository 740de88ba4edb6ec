//! An axum API server with per-API-key plans on ratecore-tower.
//!
//! - free: 5 requests per minute, 100 per day, at most 10,000 characters per request;
//! - pro: 60 per minute, 1,000 per day, at most 20,000 characters per request;
//! - both: at most 5 requests of one key in flight at once.
//!
//! The request body's length is the cost checked against the per-request
//! cap. Run it, then:
//!
//! ```text
//! curl -i -H 'x-api-key: demo-free-key' -d 'hello' http://127.0.0.1:3000/
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::post;
use ratecore_tower::{ApiKeyHeader, Key, KeyExtractorExt, Plan, Plans, Quota, RateLimitLayer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut plans = Plans::new();
    let free = plans.add(
        Plan::new("free")
            .limit("free-minute", Quota::per_minute(5))
            .limit("free-day", Quota::per_day(100))
            .max_cost("free-characters", 10_000)
            .concurrency(5),
    )?;
    let pro = plans.add(
        Plan::new("pro")
            .limit("pro-minute", Quota::per_minute(60))
            .limit("pro-day", Quota::per_day(1_000))
            .max_cost("pro-characters", 20_000)
            .concurrency(5),
    )?;
    // The application's key store. Demo keys: real ones come from a secret store.
    let accounts: HashMap<&'static str, (Key, _)> = HashMap::from([
        ("demo-free-key", (Key::Name(Arc::from("alice")), free)),
        ("demo-pro-key", (Key::Name(Arc::from("bob")), pro)),
    ]);
    let keys =
        ApiKeyHeader::new("x-api-key", move |key| accounts.get(key).cloned()).with_body_len_cost();
    let layer = RateLimitLayer::builder(plans, keys)
        .legacy_headers(true)
        .build()?;

    let app = Router::new()
        .route(
            "/",
            post(|body: String| async move { format!("{} characters\n", body.chars().count()) }),
        )
        .layer(layer);
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
