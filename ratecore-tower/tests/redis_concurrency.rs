//! The concurrency cap on Redis: one count per key for every server on the
//! same Redis, held for the life of the response, given back by a
//! panicking handler, freed by the lease when its holder crashed, the
//! layer's store-error policy when Redis is down, and what a request over
//! the cap carries in dry-run mode (beside the in-memory store). Two axum
//! servers on 127.0.0.1 (each its own store and connection, as two
//! processes would be) and a real redis-server started by the test kit.
#![cfg(feature = "redis")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use ratecore_testkit::redis_server::RedisServer;
use ratecore_tower::redis_store::{Acquired, Config, RedisConcurrency, RedisPlanStore, RedisStore};
use ratecore_tower::{GlobalKey, OnStoreError, Plan, PlanId, Plans, Quota, RateLimitLayer};
use tokio::sync::Semaphore;

mod common;
use common::{Refusals, request, serve_app};

const CAP: u32 = 3;
const PREFIX: &str = "tower-conc";

fn plans() -> (Plans, PlanId) {
    let mut plans = Plans::new();
    let plan = Plan::new("capped")
        .limit("minute", Quota::per_minute(100_000))
        .concurrency(CAP);
    let id = plans.add(plan).unwrap();
    (plans, id)
}

fn redis(server: &RedisServer) -> RedisStore {
    RedisStore::open(&server.url(), Duration::from_millis(200)).unwrap()
}

fn config() -> Config {
    Config::new(PREFIX).time_budget(Duration::from_millis(300))
}

/// The requests in the handler now, the most at once, and a gate that
/// holds them until the test adds permits.
#[derive(Clone)]
struct Handler {
    in_flight: Arc<AtomicU32>,
    most: Arc<AtomicU32>,
    gate: Arc<Semaphore>,
}

impl Default for Handler {
    fn default() -> Self {
        Self {
            in_flight: Arc::default(),
            most: Arc::default(),
            gate: Arc::new(Semaphore::new(0)),
        }
    }
}

impl Handler {
    async fn handle(self) -> &'static str {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        let pass = self.gate.acquire().await.unwrap();
        pass.forget();
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        "ok"
    }
}

/// A server on its own Redis connection, its handler behind `handler`'s gate.
async fn serve(
    server: &RedisServer,
    handler: &Handler,
    lease: Duration,
    on_error: OnStoreError,
) -> SocketAddr {
    let (plans, id) = plans();
    let store = RedisPlanStore::with_lease(&plans, redis(server), config(), lease);
    let layer = RateLimitLayer::builder(plans, GlobalKey(id))
        .on_store_error(on_error)
        .build_with_store(store)
        .unwrap();
    let handler = handler.clone();
    let app = Router::new()
        .route("/", get(move || handler.clone().handle()))
        .route("/panic", get(boom))
        .layer(layer)
        .layer(tower_http::catch_panic::CatchPanicLayer::new());
    serve_app(app).await
}

async fn boom() -> &'static str {
    if std::hint::black_box(true) {
        panic!("handler failed while holding its place");
    }
    "unreachable"
}

/// A redis-server, and an app on it whose handler never waits.
async fn serve_open(lease: Duration) -> (RedisServer, SocketAddr) {
    let server = RedisServer::start();
    let handler = Handler::default();
    handler.gate.add_permits(1_000);
    let addr = serve(&server, &handler, lease, OnStoreError::Refuse).await;
    (server, addr)
}

/// The count the servers share, read with the same configuration.
fn observer(server: &RedisServer, lease: Duration) -> RedisConcurrency {
    RedisConcurrency::new(CAP, lease, redis(server), config()).unwrap()
}

/// Waits (boundedly) until `check` holds.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..500 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_share_one_cap_held_until_the_response_ends() {
    let server = RedisServer::start();
    let handler = Handler::default();
    let lease = Duration::from_secs(60);
    let a = serve(&server, &handler, lease, OnStoreError::Refuse).await;
    let b = serve(&server, &handler, lease, OnStoreError::Refuse).await;
    let count = observer(&server, lease);

    // CAP requests held in the handlers, on both servers.
    let held: Vec<_> = (0..CAP)
        .map(|i| {
            let addr = if i % 2 == 0 { a } else { b };
            tokio::spawn(async move { request(addr, "GET", "/", &[], "").await.status })
        })
        .collect();
    let in_flight = Arc::clone(&handler.in_flight);
    eventually("the cap in flight", async || {
        in_flight.load(Ordering::SeqCst) == CAP
    })
    .await;
    assert_eq!(count.active("global").await.unwrap(), CAP);
    // Neither server admits another while they run.
    for addr in [a, b] {
        let refused = request(addr, "GET", "/", &[], "").await;
        assert_eq!(refused.status, 429);
        let body: serde_json::Value = serde_json::from_str(&refused.body).unwrap();
        assert_eq!(body["limit"].as_u64(), Some(u64::from(CAP)));
    }
    handler.gate.add_permits(CAP as usize);
    for task in held {
        assert_eq!(task.await.unwrap(), 200);
    }
    eventually("the places released", async || {
        count.active("global").await.unwrap() == 0
    })
    .await;

    // Under load across both servers, never more than CAP in the handlers
    // at once, and every request answered 200 or 429.
    handler.gate.add_permits(1_000);
    handler.most.store(0, Ordering::SeqCst);
    let load: Vec<_> = (0..40)
        .map(|i| {
            let addr = if i % 2 == 0 { a } else { b };
            tokio::spawn(async move { request(addr, "GET", "/", &[], "").await.status })
        })
        .collect();
    for task in load {
        let status = task.await.unwrap();
        assert!(status == 200 || status == 429, "status {status}");
    }
    let most = handler.most.load(Ordering::SeqCst);
    assert!(most <= CAP, "{most} in flight at once, cap {CAP}");
    eventually("the places released", async || {
        count.active("global").await.unwrap() == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_releases_its_place() {
    let lease = Duration::from_secs(60);
    let (server, addr) = serve_open(lease).await;
    let count = observer(&server, lease);
    // More panics than places: each place comes back (released as the
    // handler unwinds; the release is a spawned round trip, awaited here),
    // or the later calls would be 429s.
    for _ in 0..(CAP + 2) {
        assert_eq!(request(addr, "GET", "/panic", &[], "").await.status, 500);
        eventually("the place released", async || {
            count.active("global").await.unwrap() == 0
        })
        .await;
    }
    assert_eq!(request(addr, "GET", "/", &[], "").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_holders_places_come_back_when_the_lease_ends() {
    let lease = Duration::from_millis(300);
    let (server, addr) = serve_open(lease).await;
    // Another process takes every place and dies without releasing them.
    let crashed = observer(&server, lease);
    let permit = match crashed.acquire("global", CAP).await {
        Acquired::Held(permit) => permit,
        other => panic!("{other:?}"),
    };
    std::mem::forget(permit);
    assert_eq!(request(addr, "GET", "/", &[], "").await.status, 429);
    let key = crashed.limiter().key("global");
    eventually("the lease ended", async || {
        server.command(&["EXISTS", &key]).unwrap().starts_with(":0")
    })
    .await;
    assert_eq!(request(addr, "GET", "/", &[], "").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_the_layers_policy_answers() {
    let mut server = RedisServer::start();
    let handler = Handler::default();
    handler.gate.add_permits(1_000);
    let lease = Duration::from_secs(60);
    let refuse = serve(&server, &handler, lease, OnStoreError::Refuse).await;
    let admit = serve(&server, &handler, lease, OnStoreError::Admit).await;
    assert_eq!(request(refuse, "GET", "/", &[], "").await.status, 200);
    server.stop();
    let refused = request(refuse, "GET", "/", &[], "").await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("retry-after"), Some("1"));
    let admitted = request(admit, "GET", "/", &[], "").await;
    assert_eq!(admitted.status, 200);
    assert_eq!(admitted.header("ratelimit"), None);
}

/// A server whose layer is in dry-run mode, on Redis (`redis`) or on the
/// in-memory store, its handler behind `handler`'s gate, its refusals
/// reported to `refusals`. A store error is refused (`503`), so that a
/// request let through was decided by the store.
async fn serve_dry_run(
    redis_server: Option<&RedisServer>,
    handler: &Handler,
    refusals: Arc<Refusals>,
) -> SocketAddr {
    let (plans, id) = plans();
    let builder = RateLimitLayer::builder(plans.clone(), GlobalKey(id))
        .dry_run(true)
        .on_store_error(OnStoreError::Refuse)
        .metrics(refusals);
    let handler = handler.clone();
    let app = Router::new().route("/", get(move || handler.clone().handle()));
    let app = match redis_server {
        Some(server) => {
            let store = RedisPlanStore::new(&plans, redis(server), config());
            app.layer(builder.build_with_store(store).unwrap())
        }
        None => app.layer(builder.build().unwrap()),
    };
    serve_app(app).await
}

/// In dry run, `CAP` requests held in the handler and one more: the one
/// more is over the concurrency cap, reported refused by it (and nothing
/// else refused), and goes through anyway. Returns the `RateLimit` header
/// of a request within the cap and of the one over it.
async fn dry_run_over_the_cap(redis_server: Option<&RedisServer>) -> [Option<String>; 2] {
    let handler = Handler::default();
    let refusals = Arc::new(Refusals::default());
    let addr = serve_dry_run(redis_server, &handler, Arc::clone(&refusals)).await;
    let get = move || tokio::spawn(async move { request(addr, "GET", "/", &[], "").await });
    let within: Vec<_> = (0..CAP).map(|_| get()).collect();
    eventually("the cap's requests in the handler", async || {
        handler.in_flight.load(Ordering::SeqCst) == CAP
    })
    .await;
    let over = get();
    eventually("the request over the cap in the handler too", async || {
        handler.in_flight.load(Ordering::SeqCst) == CAP + 1
    })
    .await;
    handler.gate.add_permits(CAP as usize + 1);
    let mut replies = Vec::new();
    for task in within.into_iter().chain([over]) {
        replies.push(task.await.unwrap());
    }
    for reply in &replies {
        assert_eq!(reply.status, 200, "dry run refuses nothing: {reply:?}");
    }
    assert_eq!(refusals.take(), [("concurrency".to_owned(), true)]);
    let header = |i: usize| replies[i].header("ratelimit").map(str::to_owned);
    [header(0), header(CAP as usize)]
}

/// What the dry-run docs say of the two stores: over the concurrency cap,
/// the in-memory store reports the rate limits' states (the request goes
/// through with its `RateLimit` header), the Redis store reports none
/// (it does not read the rates for a request the cap refuses).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_dry_run_over_the_cap_only_the_in_memory_store_reports_the_rates() {
    let [within, over] = dry_run_over_the_cap(None).await;
    assert!(within.is_some(), "in memory, within the cap");
    assert!(over.is_some(), "in memory, over the cap: the rates' states");

    let server = RedisServer::start();
    let [within, over] = dry_run_over_the_cap(Some(&server)).await;
    assert!(within.is_some(), "on Redis, within the cap");
    assert_eq!(over, None, "on Redis, over the cap: no rate state read");
}
