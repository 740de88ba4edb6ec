//! The server in this process on an ephemeral port of 127.0.0.1, answering
//! a real HTTP client, with manual clocks so every header value is exactly
//! predictable. Each test sends a bounded number of requests, each with a
//! timeout, to 127.0.0.1 only.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use ratecore_http_server::{STREAM_CHUNK, app, builder, plans};
use ratecore_tower::{Duration, MS, ManualClock};
use reqwest::StatusCode;
use tokio::net::TcpListener;

/// The wall clock when the test starts: 2023-11-14T22:13:20Z, in Unix ms.
const WALL_ORIGIN_MS: u64 = 1_700_000_000_000;
const TIMEOUT: StdDuration = StdDuration::from_secs(10);

// The plans, as the policies and waits follow from them: free is 5 per
// minute (a burst of 5, one unit every 60,000 / 5 = 12,000 ms) and 100 per
// day (one unit every 86,400,000 / 100 = 864,000 ms); pro is 60 per minute
// (one every 1,000 ms) and 1,000 per day (one every 86,400 ms).
const FREE_MINUTE: u64 = 5;
const FREE_MINUTE_T_MS: u64 = 60_000 / FREE_MINUTE;
const FREE_DAY: u64 = 100;
const FREE_DAY_T_MS: u64 = 86_400_000 / FREE_DAY;
const FREE_POLICY: &str = r#""free-minute";q=5;w=60, "free-day";q=100;w=86400"#;

struct Server {
    addr: SocketAddr,
    clock: Arc<ManualClock<MS>>,
    wall: Arc<ManualClock<MS>>,
    client: reqwest::Client,
}

impl Server {
    /// Starts the app with in-memory limits on an ephemeral 127.0.0.1 port.
    async fn start() -> Self {
        let clock = Arc::new(ManualClock::<MS>::new(0));
        let wall = Arc::new(ManualClock::<MS>::new(WALL_ORIGIN_MS));
        let layer = builder(&plans().unwrap())
            .clocks(clock.clone(), wall.clone())
            .build()
            .unwrap();
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app(layer)).await.unwrap() });
        Self {
            addr,
            clock,
            wall,
            client: reqwest::Client::builder().timeout(TIMEOUT).build().unwrap(),
        }
    }

    fn advance(&self, ms: u64) {
        self.clock.advance(Duration::<MS>::from_ticks(ms));
        self.wall.advance(Duration::<MS>::from_ticks(ms));
    }

    async fn post(&self, path: &str, key: Option<&str>, body: String) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("http://{}{path}", self.addr))
            .body(body);
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        request.send().await.unwrap()
    }
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn exact_headers_on_200_and_429() {
    let server = Server::start().await;
    let key = Some("demo-free-key");
    for n in 1..=FREE_MINUTE {
        let response = server.post("/", key, "héllo".into()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "ratelimit-policy"), Some(FREE_POLICY));
        // After n requests at t = 0, each limit is full again n units later.
        let expected = format!(
            r#""free-minute";r={};t={}, "free-day";r={};t={}"#,
            FREE_MINUTE - n,
            n * FREE_MINUTE_T_MS / 1_000,
            FREE_DAY - n,
            n * FREE_DAY_T_MS / 1_000
        );
        assert_eq!(header(&response, "ratelimit"), Some(expected.as_str()));
        // The legacy headers describe the binding limit: the minute.
        assert_eq!(header(&response, "x-ratelimit-limit"), Some("5"));
        let remaining = (FREE_MINUTE - n).to_string();
        assert_eq!(
            header(&response, "x-ratelimit-remaining"),
            Some(remaining.as_str())
        );
        let reset = (WALL_ORIGIN_MS + n * FREE_MINUTE_T_MS)
            .div_ceil(1_000)
            .to_string();
        assert_eq!(header(&response, "x-ratelimit-reset"), Some(reset.as_str()));
        assert_eq!(header(&response, "retry-after"), None);
        assert_eq!(response.text().await.unwrap(), "5 characters\n");
    }

    // 2.5 s later: the next minute unit comes at 12 s, a wait of 9.5 s,
    // rounded up to whole seconds.
    server.advance(2_500);
    let refused = server.post("/", key, "hello".into()).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait_ms = FREE_MINUTE_T_MS - 2_500;
    let wait = wait_ms.div_ceil(1_000).to_string();
    assert_eq!(header(&refused, "retry-after"), Some(wait.as_str()));
    assert_eq!(header(&refused, "ratelimit-policy"), Some(FREE_POLICY));
    assert_eq!(
        header(&refused, "ratelimit"),
        Some(format!(r#""free-minute";r=0;t={wait}"#).as_str())
    );
    assert_eq!(header(&refused, "x-ratelimit-remaining"), Some("0"));
    // Full again 5 units (60 s) after the start.
    let full = ((WALL_ORIGIN_MS + FREE_MINUTE * FREE_MINUTE_T_MS) / 1_000).to_string();
    assert_eq!(header(&refused, "x-ratelimit-reset"), Some(full.as_str()));
    assert_eq!(
        header(&refused, "content-type"),
        Some("application/problem+json")
    );
    let body: serde_json::Value = serde_json::from_str(&refused.text().await.unwrap()).unwrap();
    assert_eq!(body["status"], 429);
    assert_eq!(
        body["violated-policies"],
        serde_json::json!(["free-minute"])
    );
    assert_eq!(body["limit"], 5);
    assert_eq!(body["remaining"], 0);
    assert_eq!(body["retry_after"], 10);
    assert_eq!(body["reset_at"], "2023-11-14T22:14:20Z");

    // Another free key has its own limits.
    let other = server
        .post("/", Some("demo-free-key-2"), String::new())
        .await;
    assert_eq!(other.status(), StatusCode::OK);
    assert_eq!(header(&other, "x-ratelimit-remaining"), Some("4"));

    // 1 ms before the unit: refused; at 12 s: served, and the refusal
    // charged nothing (the day has 100 - 6 left, not fewer).
    server.advance(wait_ms - 1);
    let early = server.post("/", key, String::new()).await;
    assert_eq!(early.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&early, "retry-after"), Some("1"));
    server.advance(1);
    let served = server.post("/", key, String::new()).await;
    assert_eq!(served.status(), StatusCode::OK);
    // Six units charged by t = 12 s: each limit is full again six units
    // after the start, so 6 * T - 12 s from now.
    let now_s = FREE_MINUTE_T_MS / 1_000;
    let expected = format!(
        r#""free-minute";r=0;t={}, "free-day";r={};t={}"#,
        6 * FREE_MINUTE_T_MS / 1_000 - now_s,
        FREE_DAY - 6,
        6 * FREE_DAY_T_MS / 1_000 - now_s
    );
    assert_eq!(header(&served, "ratelimit"), Some(expected.as_str()));
}

#[tokio::test]
async fn the_per_request_cap_refuses_with_413_and_charges_nothing() {
    let server = Server::start().await;
    for (key, cap, name) in [
        ("demo-free-key", 10_000, "free-characters"),
        ("demo-pro-key", 20_000, "pro-characters"),
    ] {
        let at_cap = server.post("/", Some(key), "a".repeat(cap)).await;
        assert_eq!(at_cap.status(), StatusCode::OK, "{key}");
        assert_eq!(at_cap.text().await.unwrap(), format!("{cap} characters\n"));

        let over = server.post("/", Some(key), "a".repeat(cap + 1)).await;
        assert_eq!(over.status(), StatusCode::PAYLOAD_TOO_LARGE, "{key}");
        let body: serde_json::Value = serde_json::from_str(&over.text().await.unwrap()).unwrap();
        assert_eq!(body["violated-policies"], serde_json::json!([name]));
        assert_eq!(body["limit"], cap);
        assert_eq!(body["requested"], cap + 1);

        // The refusal charged no limit: the next request is the second.
        let next = server.post("/", Some(key), String::new()).await;
        assert_eq!(next.status(), StatusCode::OK);
        let limit: u32 = header(&next, "x-ratelimit-limit").unwrap().parse().unwrap();
        let remaining = (limit - 2).to_string();
        assert_eq!(
            header(&next, "x-ratelimit-remaining"),
            Some(remaining.as_str())
        );
    }
}

#[tokio::test]
async fn five_in_flight_per_key_then_429_until_one_finishes() {
    let server = Server::start().await;
    let key = Some("demo-pro-key");
    // Five slow streams (600 chunks: a minute), their headers received: each
    // holds its place until its body ends or is dropped.
    let long = "x".repeat(600 * STREAM_CHUNK);
    let mut held = Vec::new();
    for _ in 0..5 {
        let response = server.post("/stream", key, long.clone()).await;
        assert_eq!(response.status(), StatusCode::OK);
        held.push(response);
    }
    let refused = server.post("/", key, String::new()).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&refused, "retry-after"), Some("1"));
    let body: serde_json::Value = serde_json::from_str(&refused.text().await.unwrap()).unwrap();
    assert_eq!(
        body["violated-policies"],
        serde_json::json!(["concurrency"])
    );
    assert_eq!(body["limit"], 5);

    // Other keys have their own places.
    let other = server.post("/", Some("demo-free-key"), String::new()).await;
    assert_eq!(other.status(), StatusCode::OK);

    // A stream the client drops gives its place back: the server notices
    // the closed connection at its next write (one chunk every 100 ms) and
    // drops the body. Poll, boundedly, for the place to come back.
    drop(held.pop());
    let mut admitted = None;
    for attempt in 0..100 {
        let response = server.post("/stream", key, "y".repeat(STREAM_CHUNK)).await;
        if response.status() == StatusCode::OK {
            admitted = Some((attempt, response.text().await.unwrap()));
            break;
        }
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    let (_, text) = admitted.expect("a place comes back after a stream is dropped");
    assert_eq!(text, "y".repeat(STREAM_CHUNK));
    // That short stream was read to its end: the server drops the permit
    // when the body ends, before the client sees the end, so the place is
    // free again at once; the four long streams still hold theirs.
    let again = server.post("/", key, String::new()).await;
    assert_eq!(again.status(), StatusCode::OK);
    let full = server.post("/stream", key, long.clone()).await;
    assert_eq!(full.status(), StatusCode::OK);
    let refused = server.post("/", key, String::new()).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    drop((held, full));
}

#[tokio::test]
async fn missing_or_unknown_keys_get_401_and_touch_no_limit() {
    let server = Server::start().await;
    for key in [None, Some("no-such-key"), Some("demo-free-key-")] {
        let response = server.post("/", key, String::new()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{key:?}");
        assert_eq!(header(&response, "ratelimit"), None);
    }
    let response = server.post("/", Some("demo-free-key"), String::new()).await;
    assert_eq!(header(&response, "x-ratelimit-remaining"), Some("4"));
}
