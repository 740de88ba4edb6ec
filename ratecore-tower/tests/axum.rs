//! The layer under axum, over real sockets on 127.0.0.1.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::routing::get;
use common::{Refusals, Reply, UNIX_MS, clocks, plans, request, serve_app};
use ratecore_tower::{
    ApiKeyHeader, Counters, ForwardedIp, Key, KeyExtractorExt, Metrics, PlanId, Plans,
    RateLimitLayer,
};

fn keys(
    free: PlanId,
    pro: PlanId,
) -> impl Fn(&str) -> Option<(Key, PlanId)> + Send + Sync + 'static {
    move |key| match key {
        "k-free" => Some((Key::Name(Arc::from("alice")), free)),
        "k-free-2" => Some((Key::Name(Arc::from("bob")), free)),
        "k-pro" => Some((Key::Name(Arc::from("carol")), pro)),
        _ => None,
    }
}

fn app(layer: RateLimitLayer) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { "ok" }).post(|body: String| async move { body.len().to_string() }),
        )
        .layer(layer)
}

/// Every header of a 200 and of the 429 that follows, computed here from
/// the plan: free is 5 per minute (one unit per 60,000 / 5 = 12,000 ms,
/// burst 5) and 100 per day (one per 86,400,000 / 100 = 864,000 ms, burst 100).
#[tokio::test]
async fn exact_headers_on_200_and_429() {
    let (plans, free, pro) = plans();
    let (_mono, clock, wall) = clocks();
    let layer = RateLimitLayer::builder(plans, ApiKeyHeader::new("x-api-key", keys(free, pro)))
        .clocks(clock, wall)
        .legacy_headers(true)
        .build()
        .unwrap();
    let addr = serve_app(app(layer)).await;
    let key = [("x-api-key", "k-free")];
    let policy = r#""free-minute";q=5;w=60, "free-day";q=100;w=86400"#;

    for n in 1..=5u64 {
        let r = request(addr, "GET", "/", &key, "").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "ok");
        assert_eq!(r.header("ratelimit-policy"), Some(policy));
        // After n units at t = 0: minute full again after n * 12 s, day after n * 864 s.
        let expected = format!(
            r#""free-minute";r={};t={}, "free-day";r={};t={}"#,
            5 - n,
            n * 12,
            100 - n,
            n * 864
        );
        assert_eq!(r.header("ratelimit"), Some(expected.as_str()));
        // The minute binds (fewest left).
        assert_eq!(r.header("x-ratelimit-limit"), Some("5"));
        assert_eq!(
            r.header("x-ratelimit-remaining"),
            Some((5 - n).to_string().as_str())
        );
        let reset = UNIX_MS / 1_000 + n * 12;
        assert_eq!(
            r.header("x-ratelimit-reset"),
            Some(reset.to_string().as_str())
        );
        assert_eq!(r.header("retry-after"), None);
    }
    let r = request(addr, "GET", "/", &key, "").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    // The next minute unit is 12,000 ms away: 12 s, and `t` is the same.
    assert_eq!(r.header("retry-after"), Some("12"));
    assert_eq!(r.header("ratelimit"), Some(r#""free-minute";r=0;t=12"#));
    assert_eq!(r.header("ratelimit-policy"), Some(policy));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(r.header("x-ratelimit-reset"), Some("1700000060"));
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["status"], 429);
    assert_eq!(body["violated-policies"][0], "free-minute");
    assert_eq!(body["limit"], 5);
    assert_eq!(body["remaining"], 0);
    assert_eq!(body["retry_after"], 12);
    // Full again 60 s after 2023-11-14T22:13:20Z.
    assert_eq!(body["reset_at_unix"], 1_700_000_060u64);
    assert_eq!(body["reset_at"], "2023-11-14T22:14:20Z");
    // The refusal charged nothing: the day still has 95.
    let r = request(addr, "GET", "/", &[("x-api-key", "k-free-2")], "").await;
    assert_eq!(r.status, 200, "another key has its own limits");
}

#[tokio::test]
async fn missing_malformed_and_unknown_keys_are_401_and_too_large_is_413() {
    let counters = Arc::new(Counters::default());
    let addr = serve_plans(false, counters.clone()).await;
    assert_eq!(request(addr, "GET", "/", &[], "").await.status, 401);
    assert_eq!(
        request(addr, "GET", "/", &[("x-api-key", "nope")], "")
            .await
            .status,
        401
    );
    assert_eq!(
        request(addr, "GET", "/", &[("x-api-key", "")], "")
            .await
            .status,
        401
    );
    let long = "k".repeat(5_000);
    assert_eq!(
        request(addr, "GET", "/", &[("x-api-key", &long)], "")
            .await
            .status,
        401
    );
    assert_eq!(counters.no_key.load(Ordering::Relaxed), 4);
    // 10,001 characters on free: over the per-request cap; 10,000 fit.
    let r = post(addr, "k-free", &"x".repeat(10_001)).await;
    assert_eq!(r.status, 413);
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        (body["limit"].as_u64(), body["requested"].as_u64()),
        (Some(10_000), Some(10_001))
    );
    let r = post(addr, "k-free", &"x".repeat(10_000)).await;
    assert_eq!((r.status, r.body.as_str()), (200, "10000"));
    let r = post(addr, "k-pro", &"x".repeat(20_000)).await;
    assert_eq!(r.status, 200);
}

/// 40 concurrent requests against 5 per minute: exactly 5 succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_load_never_exceeds_the_plan() {
    let (plans, free, pro) = plans();
    let (_mono, clock, wall) = clocks();
    let layer = RateLimitLayer::builder(plans, ApiKeyHeader::new("x-api-key", keys(free, pro)))
        .clocks(clock, wall)
        .build()
        .unwrap();
    let addr = serve_app(app(layer)).await;
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            tokio::spawn(async move {
                request(addr, "GET", "/", &[("x-api-key", "k-free")], "")
                    .await
                    .status
            })
        })
        .collect();
    let mut ok = 0;
    let mut limited = 0;
    for task in tasks {
        match task.await.unwrap() {
            200 => ok += 1,
            429 => limited += 1,
            other => panic!("status {other}"),
        }
    }
    assert_eq!((ok, limited), (5, 35));
}

fn ip_plans() -> (Plans, PlanId) {
    let mut plans = Plans::new();
    let per_ip = plans
        .add(
            ratecore_tower::Plan::new("ip")
                .limit("ip-minute", ratecore_tower::Quota::per_minute(2)),
        )
        .unwrap();
    (plans, per_ip)
}

/// The peer 127.0.0.1 is not a trusted proxy: whatever it sends in
/// `X-Forwarded-For`, its requests are its own.
#[tokio::test]
async fn spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let addr = serve_behind("10.0.0.0/8").await;
    let statuses = get_xffs(addr, &["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"]).await;
    assert_eq!(statuses, [200, 200, 429, 429]);

    // Behind a trusted proxy (127.0.0.1 trusted), the rightmost entry is
    // the client: different clients, different keys; the client cannot
    // hide behind a spoofed left entry.
    let addr = serve_behind("127.0.0.1").await;
    let xffs = [
        "9.9.9.9, 5.5.5.5",
        "8.8.8.8, 5.5.5.5",
        "7.7.7.7, 5.5.5.5",
        "6.6.6.6",
    ];
    let statuses = get_xffs(addr, &xffs).await;
    assert_eq!(statuses, [200, 200, 429, 200]);
}

/// A `POST /` with the API key `key` and `body`.
async fn post(addr: SocketAddr, key: &str, body: &str) -> Reply {
    request(addr, "POST", "/", &[("x-api-key", key)], body).await
}

/// A server of 2 per minute per client, behind the proxies in `trusted`.
async fn serve_behind(trusted: &str) -> SocketAddr {
    let (plans, per_ip) = ip_plans();
    let (_mono, clock, wall) = clocks();
    let extractor = ForwardedIp::new(per_ip, [trusted.parse().unwrap()]);
    let layer = RateLimitLayer::builder(plans, extractor)
        .clocks(clock, wall)
        .build()
        .unwrap();
    serve_app(app(layer)).await
}

/// The statuses of one request per `X-Forwarded-For` value, in order.
async fn get_xffs(addr: SocketAddr, xffs: &[&str]) -> Vec<u16> {
    let mut statuses = Vec::new();
    for xff in xffs {
        let headers = [("x-forwarded-for", *xff)];
        statuses.push(request(addr, "GET", "/", &headers, "").await.status);
    }
    statuses
}

/// A panicking handler gives its concurrency place back.
#[tokio::test]
async fn a_panicking_handler_releases_its_permit() {
    let mut plans = Plans::new();
    let one = plans
        .add(
            ratecore_tower::Plan::new("one")
                .limit("one-second", ratecore_tower::Quota::per_second(1_000))
                .concurrency(1),
        )
        .unwrap();
    let layer = RateLimitLayer::builder(plans, ratecore_tower::GlobalKey(one))
        .build()
        .unwrap();
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .route("/panic", get(boom))
        .layer(layer)
        .layer(tower_http::catch_panic::CatchPanicLayer::new());
    let addr = serve_app(app).await;
    for _ in 0..3 {
        assert_eq!(request(addr, "GET", "/panic", &[], "").await.status, 500);
        assert_eq!(request(addr, "GET", "/", &[], "").await.status, 200);
    }
}

/// Dry run refuses nothing and reports what it would have refused.
#[tokio::test]
async fn dry_run_refuses_nothing_and_reports() {
    let counters = Arc::new(Counters::default());
    let addr = serve_plans(true, counters.clone()).await;
    for _ in 0..8 {
        let r = request(addr, "GET", "/", &[("x-api-key", "k-free")], "").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("retry-after"), None);
    }
    // [admitted, refused, dry_run_refused, near_limit, ...]: 5 admitted,
    // 3 would have been refused; near 80 % at the 4th and 5th.
    let [admitted, refused, dry, near, _, _] = counters.snapshot();
    assert_eq!((admitted, refused, dry, near), (5, 0, 3, 2));
}

/// Dry run decides the per-request cap too: a body over free's cap of
/// 10,000 characters is reported as refused by `free-request`, goes
/// through, and charges nothing (the next request finds the minute's five
/// units all there, as after a real 413).
#[tokio::test]
async fn dry_run_reports_a_request_over_the_cap_and_lets_it_through() {
    let refusals = Arc::new(Refusals::default());
    let addr = serve_plans(true, refusals.clone()).await;
    let r = post(addr, "k-free", &"x".repeat(10_001)).await;
    assert_eq!((r.status, r.body.as_str()), (200, "10001"));
    assert_eq!(r.header("retry-after"), None);
    assert_eq!(refusals.take(), [("free-request".to_owned(), true)]);
    let r = post(addr, "k-free", "hi").await;
    assert_eq!((r.status, r.body.as_str()), (200, "2"));
    // One unit of each limit used at t = 0: 12 s and 864 s to full again.
    assert_eq!(
        r.header("ratelimit"),
        Some(r#""free-minute";r=4;t=12, "free-day";r=99;t=864"#)
    );
    assert_eq!(refusals.take(), []);
    // Without dry run the same body is refused, reported as not dry.
    let addr = serve_plans(false, refusals.clone()).await;
    assert_eq!(post(addr, "k-free", &"x".repeat(10_001)).await.status, 413);
    assert_eq!(refusals.take(), [("free-request".to_owned(), false)]);
}

/// A server on the test plans (manual clocks), the body's length as the
/// cost, in dry-run mode or not, reporting to `metrics`.
async fn serve_plans(dry_run: bool, metrics: impl Metrics) -> SocketAddr {
    let (plans, free, pro) = plans();
    let (_mono, clock, wall) = clocks();
    let extractor = ApiKeyHeader::new("x-api-key", keys(free, pro)).with_body_len_cost();
    let layer = RateLimitLayer::builder(plans, extractor)
        .clocks(clock, wall)
        .dry_run(dry_run)
        .metrics(metrics)
        .build()
        .unwrap();
    serve_app(app(layer)).await
}

async fn boom() -> &'static str {
    let fail = std::hint::black_box(true);
    if fail {
        panic!("handler failed");
    }
    "unreachable"
}
