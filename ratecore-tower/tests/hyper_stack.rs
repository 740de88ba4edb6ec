//! The layer on a plain hyper server with `tower::ServiceBuilder`, and
//! in-process checks (flood, IPv6 grouping, permits held by the body).

mod common;

use std::convert::Infallible;
use std::future::Ready;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use common::{clocks, request};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use ratecore_tower::{
    Builder, Duration, GlobalKey, MS, ManualClock, PeerAddr, PeerIp, Plan, PlanId, Plans, Quota,
    RateLimit, RateLimitLayer, WhenFull,
};
use tower::util::ServiceFn;
use tower::{Service, ServiceBuilder, ServiceExt};

async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"hello"))))
}

#[tokio::test]
async fn hyper_with_service_builder() {
    let (plans, all) = one_plan(Plan::new("all").limit("all-minute", Quota::per_minute(3)));
    let (_mono, clock, wall) = clocks();
    let layer = RateLimitLayer::builder(plans, GlobalKey(all))
        .clocks(clock, wall)
        .build()
        .unwrap();
    let service = ServiceBuilder::new()
        .layer(layer)
        .service(tower::service_fn(hello));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    // 3 per minute: one unit per 20 s, burst 3.
    for n in 1..=3u64 {
        let r = request(addr, "GET", "/", &[], "").await;
        assert_eq!((r.status, r.body.as_str()), (200, "hello"));
        let expected = format!(r#""all-minute";r={};t={}"#, 3 - n, 20 * n);
        assert_eq!(r.header("ratelimit"), Some(expected.as_str()));
        assert_eq!(
            r.header("ratelimit-policy"),
            Some(r#""all-minute";q=3;w=60"#)
        );
    }
    let r = request(addr, "GET", "/", &[], "").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("20"));
    assert_eq!(r.header("ratelimit"), Some(r#""all-minute";r=0;t=20"#));
}

/// Plans of one plan, and its id.
fn one_plan(plan: Plan) -> (Plans, PlanId) {
    let mut plans = Plans::new();
    let id = plans.add(plan).unwrap();
    (plans, id)
}

/// A builder for one plan `ip` (its limit `ip-minute` of `quota`) per peer
/// address, on manual clocks; the monotonic one is returned to advance.
fn per_ip(quota: Quota) -> (Arc<ManualClock<MS>>, Builder) {
    let (plans, ip) = one_plan(Plan::new("ip").limit("ip-minute", quota));
    let (mono, clock, wall) = clocks();
    let builder = RateLimitLayer::builder(plans, PeerIp::new(ip)).clocks(clock, wall);
    (mono, builder)
}

/// The `ok` service behind a layer.
type OkStack = RateLimit<
    ServiceFn<fn(Request<Full<Bytes>>) -> Ready<Result<Response<Full<Bytes>>, Infallible>>>,
>;

/// The `ok` service behind `layer`, stacked by `tower::ServiceBuilder`.
fn over_ok(layer: RateLimitLayer) -> OkStack {
    ServiceBuilder::new()
        .layer(layer)
        .service(tower::service_fn(ok as fn(_) -> _))
}

fn ok(_: Request<Full<Bytes>>) -> std::future::Ready<Result<Response<Full<Bytes>>, Infallible>> {
    std::future::ready(Ok(Response::new(Full::new(Bytes::from_static(b"ok")))))
}

fn from(ip: &str) -> Request<Full<Bytes>> {
    let ip: IpAddr = ip.parse().unwrap();
    let mut request = Request::new(Full::new(Bytes::new()));
    request
        .extensions_mut()
        .insert(PeerAddr(SocketAddr::new(ip, 4_000)));
    request
}

/// The layer's response to a request from `ip`.
type Reply = Response<ratecore_tower::RateLimitBody<Full<Bytes>, ratecore_tower::InMemoryPermit>>;

/// Calls `service` with a request from `ip`.
async fn call<S>(service: &mut S, ip: &str) -> Reply
where
    S: Service<Request<Full<Bytes>>, Response = Reply, Error = Infallible>,
{
    service.ready().await.unwrap().call(from(ip)).await.unwrap()
}

async fn status<S>(service: &mut S, ip: &str) -> u16
where
    S: Service<Request<Full<Bytes>>, Response = Reply, Error = Infallible>,
{
    call(service, ip).await.status().as_u16()
}

/// Addresses in one /64 share a key; another /64 has its own.
#[tokio::test]
async fn ipv6_peers_are_grouped_by_prefix() {
    let (_mono, builder) = per_ip(Quota::per_minute(2));
    let mut service = over_ok(builder.build().unwrap());
    assert_eq!(status(&mut service, "2001:db8:0:1::1").await, 200);
    assert_eq!(status(&mut service, "2001:db8:0:1:ffff::9").await, 200);
    assert_eq!(status(&mut service, "2001:db8:0:1::2").await, 429);
    assert_eq!(status(&mut service, "2001:db8:0:2::1").await, 200);
    // IPv4 addresses are single keys; a mapped address is its IPv4 address.
    assert_eq!(status(&mut service, "192.0.2.1").await, 200);
    assert_eq!(status(&mut service, "::ffff:192.0.2.1").await, 200);
    assert_eq!(status(&mut service, "192.0.2.1").await, 429);
    assert_eq!(status(&mut service, "192.0.2.2").await, 200);
}

/// 100,000 distinct keys against a table of 1,024 slots: memory is fixed,
/// the active key keeps its exact state, and the table serves new keys
/// again once the flood's keys are idle.
#[tokio::test]
async fn a_flood_of_distinct_keys_keeps_memory_constant_and_active_keys_exact() {
    let (mono, builder) = per_ip(Quota::per_minute(5));
    let layer = builder
        .capacity(1_024)
        .when_full(WhenFull::Deny)
        .build()
        .unwrap();
    let store = layer.store().clone();
    let bytes = store.memory_bytes();
    let mut service = over_ok(layer);
    for _ in 0..5 {
        assert_eq!(status(&mut service, "198.51.100.7").await, 200);
    }
    let (mut admitted, mut no_room) = (0u32, 0u32);
    for i in 0..100_000u32 {
        let addr = IpAddr::from(u32::to_be_bytes(0x0a00_0000 + i)).to_string();
        match status(&mut service, &addr).await {
            200 => admitted += 1,
            503 => no_room += 1,
            other => panic!("status {other}"),
        }
    }
    assert_eq!(store.memory_bytes(), bytes, "fixed at construction");
    assert!(store.active_keys(0) <= store.capacity());
    // Most of the table filled (its probe windows fill from about 88 %).
    assert!((900..1_024).contains(&admitted), "admitted {admitted}");
    assert_eq!(admitted + no_room, 100_000);
    // The active key was never evicted: still refused, by exactly 12 s.
    let response = call(&mut service, "198.51.100.7").await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "12");
    // A minute later every key is idle: new keys find room.
    mono.advance(Duration::from_ticks(60_000));
    assert_eq!(status(&mut service, "203.0.113.1").await, 200);
    assert_eq!(status(&mut service, "198.51.100.7").await, 200);
}

/// The concurrency place is held until the response body is dropped.
#[tokio::test]
async fn the_permit_lives_as_long_as_the_body() {
    let one = Plan::new("one")
        .limit("one-second", Quota::per_second(1_000))
        .concurrency(1);
    let (plans, one) = one_plan(one);
    let layer = RateLimitLayer::builder(plans, GlobalKey(one));
    let mut service = over_ok(layer.build().unwrap());
    let first = call(&mut service, "192.0.2.1").await;
    assert_eq!(first.status(), 200);
    assert!(first.body().holds_permit());
    let second = call(&mut service, "192.0.2.1").await;
    assert_eq!(second.status(), 429);
    assert_eq!(second.headers()["retry-after"], "1");
    let body = second.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["violated-policies"][0], "concurrency");
    // Reading the first body to its end frees the place.
    let bytes = first.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&bytes[..], b"ok");
    assert_eq!(status(&mut service, "192.0.2.1").await, 200);
}
