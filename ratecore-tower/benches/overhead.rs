//! The layer's overhead per request, against the same service with no layer
//! and with tower-governor, in one run: the tower `Service` is called
//! in-process (no sockets), with 1,000 peer addresses in rotation and
//! quotas large enough that nothing is refused.
//!
//! ratecore-tower runs twice: with keys that stay active between their
//! requests (a day's quota: the usual case of an API key or a client
//! address under "n per minute"), and with keys that are idle again before
//! their next request (a million per second: each request takes a slot
//! afresh, the keyed table's slower path).
//!
//! `cargo bench --bench overhead` (`OVERHEAD_ITERATIONS=n` for fewer
//! requests, under a profiler).

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{Request, Response};
use ratecore_tower::{PeerIp, Plan, Plans, Quota, RateLimitLayer};
use tower::{Layer, Service};

/// Requests per stack and round, unless `OVERHEAD_ITERATIONS` says otherwise.
const ITERATIONS: u32 = 300_000;
const KEYS: u32 = 1_000;

fn inner(_: Request<Body>) -> std::future::Ready<Result<Response<Body>, Infallible>> {
    std::future::ready(Ok(Response::new(Body::empty())))
}

fn request(i: u32) -> Request<Body> {
    let ip = IpAddr::from((0x0a00_0000 + i % KEYS).to_be_bytes());
    let addr = SocketAddr::new(ip, 4_000);
    let mut request = Request::new(Body::empty());
    request.extensions_mut().insert(ConnectInfo(addr));
    request.extensions_mut().insert(addr);
    request
}

/// Calls `service` `ITERATIONS` times; every future must be ready at once.
fn run<S, B>(name: &str, iterations: u32, mut service: S) -> f64
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    let mut ok = 0u32;
    let start = Instant::now();
    for i in 0..iterations {
        assert!(service.poll_ready(&mut cx).is_ready());
        let future = pin!(service.call(request(i)));
        let Poll::Ready(Ok(response)) = future.poll(&mut cx) else {
            panic!("not ready")
        };
        ok += u32::from(response.status().is_success());
        black_box(response);
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(iterations);
    assert_eq!(ok, iterations, "{name}: nothing may be refused");
    println!("{name:<36} {ns:>8.0} ns/request");
    ns
}

/// The layer with one limit per peer address of `quota`.
fn layer(quota: Quota) -> RateLimitLayer {
    let mut plans = Plans::new();
    let ip = plans.add(Plan::new("ip").limit("ip", quota)).unwrap();
    RateLimitLayer::builder(plans, PeerIp::new(ip))
        .capacity(4_096)
        .build()
        .unwrap()
}

fn main() {
    let iterations = std::env::var("OVERHEAD_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(ITERATIONS);
    let service = tower::service_fn(inner);
    let active = layer(Quota::per_day(1_000_000));
    let idle = layer(Quota::per_second(1_000_000));
    let governor = tower_governor::governor::GovernorConfigBuilder::default()
        .per_millisecond(1)
        .burst_size(1_000_000)
        .finish()
        .unwrap();
    let governor = tower_governor::GovernorLayer::new(governor);
    // tower-governor writes no rate-limit headers unless asked to; with
    // them it is closer to what ratecore-tower does on every response.
    let with_headers = tower_governor::governor::GovernorConfigBuilder::default()
        .per_millisecond(1)
        .burst_size(1_000_000)
        .use_headers()
        .finish()
        .unwrap();
    let with_headers = tower_governor::GovernorLayer::new(with_headers);

    for round in 1..=2 {
        println!("round {round}, {iterations} requests over {KEYS} peers");
        let bare = run("no layer", iterations, service);
        let ours = run(
            "ratecore-tower (active keys)",
            iterations,
            active.layer(service),
        );
        let fresh = run(
            "ratecore-tower (idle keys)",
            iterations,
            idle.layer(service),
        );
        let theirs = run("tower-governor 0.8", iterations, governor.layer(service));
        let headed = run(
            "tower-governor 0.8 (headers)",
            iterations,
            with_headers.layer(service),
        );
        println!(
            "overhead: ratecore-tower {:.0} ns (idle keys {:.0} ns), \
             tower-governor {:.0} ns (with headers {:.0} ns)\n",
            ours - bare,
            fresh - bare,
            theirs - bare,
            headed - bare
        );
    }
}
