//! The layer's overhead per request, against the same service with no layer
//! and with tower-governor, in one run: the tower `Service` is called
//! in-process (no sockets), with 1,000 peer addresses in rotation and
//! quotas large enough that nothing is refused.
//!
//! `cargo bench --bench overhead`

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
fn run<S, B>(name: &str, mut service: S) -> f64
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    let mut ok = 0u32;
    let start = Instant::now();
    for i in 0..ITERATIONS {
        assert!(service.poll_ready(&mut cx).is_ready());
        let future = pin!(service.call(request(i)));
        let Poll::Ready(Ok(response)) = future.poll(&mut cx) else {
            panic!("not ready")
        };
        ok += u32::from(response.status().is_success());
        black_box(response);
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(ITERATIONS);
    assert_eq!(ok, ITERATIONS, "{name}: nothing may be refused");
    println!("{name:<28} {ns:>8.0} ns/request");
    ns
}

fn main() {
    let service = tower::service_fn(inner);

    let mut plans = Plans::new();
    let ip = plans
        .add(Plan::new("ip").limit("ip-second", Quota::per_second(1_000_000)))
        .unwrap();
    let layer = RateLimitLayer::builder(plans, PeerIp::new(ip))
        .capacity(4_096)
        .build()
        .unwrap();

    let governor = tower_governor::governor::GovernorConfigBuilder::default()
        .per_millisecond(1)
        .burst_size(1_000_000)
        .finish()
        .unwrap();
    let governor = tower_governor::GovernorLayer::new(governor);

    for round in 1..=2 {
        println!("round {round}, {ITERATIONS} requests over {KEYS} peers");
        let bare = run("no layer", service);
        let ours = run("ratecore-tower", layer.layer(service));
        let theirs = run("tower-governor 0.8", governor.layer(service));
        println!(
            "overhead: ratecore-tower {:.0} ns, tower-governor {:.0} ns\n",
            ours - bare,
            theirs - bare
        );
    }
}
