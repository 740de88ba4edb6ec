//! The server on 127.0.0.1 answering real HTTP requests from a real client,
//! with manual clocks so every header value is exactly predictable.
//!
//! Traffic stays on the loopback interface; each test sends a bounded number
//! of requests, each with a timeout.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration as StdDuration;

use ratecore::Duration;
use ratecore::clock::ManualClock;
use ratecore_http_server::{AppState, MS, app};
use reqwest::StatusCode;
use tokio::net::TcpListener;

/// The wall clock at the limiters' tick 0: 2023-11-14T22:13:20Z, in Unix ms.
const WALL_ORIGIN_MS: u64 = 1_700_000_000_000;
const TIMEOUT: StdDuration = StdDuration::from_secs(10);

struct Server {
    base: String,
    clock: Arc<ManualClock<MS>>,
    wall: Arc<ManualClock<MS>>,
    client: reqwest::Client,
}

impl Server {
    /// Starts the app on an ephemeral 127.0.0.1 port, in this runtime.
    async fn start() -> Self {
        let clock = Arc::new(ManualClock::<MS>::new(0));
        let wall = Arc::new(ManualClock::<MS>::new(WALL_ORIGIN_MS));
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = AppState::new(clock.clone(), wall.clone());
        tokio::spawn(async move { axum::serve(listener, app(state)).await.unwrap() });
        Self {
            base: format!("http://{addr}/"),
            clock,
            wall,
            client: reqwest::Client::builder().timeout(TIMEOUT).build().unwrap(),
        }
    }

    /// Moves both clocks forward by `ms`.
    fn advance(&self, ms: u64) {
        self.clock.advance(Duration::<MS>::from_ticks(ms));
        self.wall.advance(Duration::<MS>::from_ticks(ms));
    }

    async fn get(&self, key: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(&self.base);
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        request.send().await.unwrap()
    }
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

/// The rate-limit headers of a response, in a fixed order.
fn rate_headers(response: &reqwest::Response) -> Vec<(&'static str, Option<&str>)> {
    [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "ratelimit-policy",
        "ratelimit",
        "retry-after",
    ]
    .into_iter()
    .map(|name| (name, header(response, name)))
    .collect()
}

#[tokio::test]
async fn exhausted_key_gets_exact_retry_after_and_others_are_unaffected() {
    let server = Server::start().await;
    const FREE_1: &str = "demo-free-key-1";

    // First request at 0: 4 of 5 left, full again after 12 s.
    let first = server.get(Some(FREE_1)).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(
        rate_headers(&first),
        [
            ("x-ratelimit-limit", Some("5")),
            ("x-ratelimit-remaining", Some("4")),
            ("x-ratelimit-reset", Some("1700000012")),
            ("ratelimit-policy", Some(r#""free";q=5;w=60"#)),
            ("ratelimit", Some(r#""free";r=4;t=12"#)),
            ("retry-after", None),
        ]
    );
    assert_eq!(
        first.text().await.unwrap(),
        r#"{"plan":"free","remaining":4}"#
    );

    for remaining in (0..4).rev() {
        let response = server.get(Some(FREE_1)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, "x-ratelimit-remaining"),
            Some(remaining.to_string().as_str())
        );
    }

    // 2.5 s later the key is exhausted: the next unit comes at 12 s, so the
    // exact wait is 9.5 s -> Retry-After: 10. Full again at 60 s.
    server.advance(2_500);
    let refused = server.get(Some(FREE_1)).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        rate_headers(&refused),
        [
            ("x-ratelimit-limit", Some("5")),
            ("x-ratelimit-remaining", Some("0")),
            ("x-ratelimit-reset", Some("1700000060")),
            ("ratelimit-policy", Some(r#""free";q=5;w=60"#)),
            ("ratelimit", Some(r#""free";r=0;t=10"#)),
            ("retry-after", Some("10")),
        ]
    );
    assert_eq!(
        header(&refused, "content-type"),
        Some("application/problem+json")
    );
    let body: serde_json::Value = serde_json::from_str(&refused.text().await.unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "type": "https://iana.org/assignments/http-problem-types#quota-exceeded",
            "title": "Quota Exceeded",
            "status": 429,
            "violated-policies": ["free"],
            "limit": 5,
            "remaining": 0,
            "retry_after": 10,
            "reset_at_unix": 1_700_000_060_u64,
            "reset_at": "2023-11-14T22:14:20Z",
        })
    );

    // Another free key and the pro key are unaffected.
    let other = server.get(Some("demo-free-key-2")).await;
    assert_eq!(other.status(), StatusCode::OK);
    assert_eq!(header(&other, "x-ratelimit-remaining"), Some("4"));
    let pro = server.get(Some("demo-pro-key-1")).await;
    assert_eq!(pro.status(), StatusCode::OK);
    assert_eq!(
        rate_headers(&pro),
        [
            ("x-ratelimit-limit", Some("120")),
            ("x-ratelimit-remaining", Some("119")),
            // One unit per 600 ms: full again 600 ms after 2.5 s -> 3.1 s, up to 4.
            ("x-ratelimit-reset", Some("1700000004")),
            ("ratelimit-policy", Some(r#""pro";q=100;w=60"#)),
            ("ratelimit", Some(r#""pro";r=119;t=1"#)),
            ("retry-after", None),
        ]
    );

    // One millisecond before the exact wait is over: still refused, and
    // Retry-After rounds the remaining 1 ms up to a whole second.
    server.advance(9_499);
    let early = server.get(Some(FREE_1)).await;
    assert_eq!(early.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&early, "retry-after"), Some("1"));
    assert_eq!(header(&early, "ratelimit"), Some(r#""free";r=0;t=1"#));

    // Exactly at 12 s the client that honoured Retry-After is served.
    server.advance(1);
    let served = server.get(Some(FREE_1)).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(header(&served, "x-ratelimit-remaining"), Some("0"));
}

#[tokio::test]
async fn missing_or_unknown_keys_are_refused_without_touching_a_limiter() {
    let server = Server::start().await;
    for key in [
        None,
        Some("no-such-key"),
        Some("demo-free-key-"),
        Some("demo-free-key-10"),
    ] {
        let response = server.get(key).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{key:?}");
        assert_eq!(header(&response, "x-ratelimit-limit"), None);
    }
    let response = server.get(Some("demo-free-key-1")).await;
    assert_eq!(header(&response, "x-ratelimit-remaining"), Some("4"));
}

/// Kills the child process when the test ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_binds_loopback_and_prints_its_address() {
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_http-server"))
            .env("RATECORE_PORT", "0")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = receiver
        .recv_timeout(TIMEOUT)
        .expect("the server prints its address");
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");

    let client = reqwest::Client::builder().timeout(TIMEOUT).build().unwrap();
    let response = client
        .get(format!("http://{addr}/"))
        .header("x-api-key", "demo-pro-key-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-ratelimit-limit"), Some("120"));
    assert_eq!(header(&response, "x-ratelimit-remaining"), Some("119"));
    assert_eq!(header(&response, "ratelimit"), Some(r#""pro";r=119;t=1"#));
    // The real wall clock: a Unix time (after 2023-11-14), not ticks since start.
    let reset: u64 = header(&response, "x-ratelimit-reset")
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > 1_700_000_000, "reset {reset}");
    drop(child);
}
