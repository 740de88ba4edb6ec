//! A raw HTTP/1.1 client over 127.0.0.1, an axum server on it, a metrics
//! hook that keeps the refusals, and shared plans for the tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use ratecore_tower::{Event, MS, ManualClock, Metrics, Plan, PlanId, Plans, Quota, SharedClock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// 2023-11-14T22:13:20Z in Unix milliseconds.
pub const UNIX_MS: u64 = 1_700_000_000_000;

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request on its own connection; `headers` as `(name, value)`.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (name, value) in headers {
        text += &format!("{name}: {value}\r\n");
    }
    if !body.is_empty() || method == "POST" {
        text += &format!("Content-Length: {}\r\n", body.len());
    }
    text += "\r\n";
    text += body;
    stream.write_all(text.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

pub async fn get(addr: SocketAddr, headers: &[(&str, &str)]) -> Reply {
    request(addr, "GET", "/", headers, "").await
}

/// Serves `app` on a free port of 127.0.0.1 (with each connection's peer
/// address, for the extractors that read it) until the test ends.
pub async fn serve_app(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// The refusals reported to the metrics hook: `(limit, dry_run)`.
#[derive(Default)]
pub struct Refusals(Mutex<Vec<(String, bool)>>);

impl Refusals {
    /// The refusals reported since the last call.
    pub fn take(&self) -> Vec<(String, bool)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Metrics for Refusals {
    fn record(&self, event: &Event<'_>) {
        if let Event::Refused { limit, dry_run, .. } = event {
            self.0.lock().unwrap().push((limit.to_string(), *dry_run));
        }
    }
}

/// Manual clocks: monotonic at 0, wall at `UNIX_MS`.
pub fn clocks() -> (Arc<ManualClock<MS>>, SharedClock, SharedClock) {
    let mono = Arc::new(ManualClock::<MS>::new(0));
    let wall: SharedClock = Arc::new(ManualClock::<MS>::new(UNIX_MS));
    (mono.clone(), mono, wall)
}

/// free: 5/min, 100/day, at most 10,000 per request, 5 at once.
/// pro: 60/min, 1,000/day, at most 20,000 per request, 5 at once.
/// Limits are named `PLAN-minute`, `PLAN-day` and `PLAN-request`.
pub fn plans() -> (Plans, PlanId, PlanId) {
    let mut plans = Plans::new();
    let mut add = |name: &str, [minute, day, request]: [u32; 3]| {
        let plan = Plan::new(name)
            .limit(format!("{name}-minute"), Quota::per_minute(minute))
            .limit(format!("{name}-day"), Quota::per_day(day));
        plans
            .add(
                plan.max_cost(format!("{name}-request"), request)
                    .concurrency(5),
            )
            .unwrap()
    };
    let free = add("free", [5, 100, 10_000]);
    let pro = add("pro", [60, 1_000, 20_000]);
    (plans, free, pro)
}
