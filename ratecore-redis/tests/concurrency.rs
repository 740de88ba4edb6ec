//! A concurrency limit shared on a real redis-server, with a lease: the cap
//! holds across clients (each its own connection, as processes would have),
//! permits come back when released, dropped or unwound, a crashed holder's
//! units come back when the lease ends, and the over-admission after a
//! lease ends is exactly the units of holders that ran past it.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ratecore_redis::{Acquired, Config, FailPolicy, RedisConcurrency, RedisStore};
use support::RedisServer;

fn cap(server: &RedisServer, limit: u32, lease: Duration) -> RedisConcurrency {
    cap_with(server, limit, lease, Config::new("conc"))
}

fn cap_with(server: &RedisServer, limit: u32, lease: Duration, config: Config) -> RedisConcurrency {
    let store = RedisStore::open(&server.url(), Duration::from_millis(500)).unwrap();
    let config = config.time_budget(Duration::from_millis(500));
    RedisConcurrency::new(limit, lease, store, config).unwrap()
}

fn held(acquired: Acquired) -> ratecore_redis::RedisPermit {
    match acquired {
        Acquired::Held(permit) => permit,
        other => panic!("not held: {other:?}"),
    }
}

/// Waits (boundedly) until `key` has `want` units in flight at the store:
/// a dropped permit's release runs in a spawned task.
async fn settles(cap: &RedisConcurrency, key: &str, want: u32) {
    for _ in 0..500 {
        if cap.active(key).await.unwrap() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{key} never reached {want} in flight");
}

/// Waits (boundedly) until the store no longer has `key` (its lease ended).
async fn expires(server: &RedisServer, key: &str) {
    for _ in 0..500 {
        if server.command(&["EXISTS", key]).unwrap().starts_with(":0") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{key} never expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_on_their_own_connections_never_exceed_the_cap_together() {
    const LIMIT: u32 = 3;
    let server = RedisServer::start();
    // Four clients, each its own connection, batcher and metrics, as four
    // processes would be; eight tasks on each.
    let clients: Vec<_> = (0..4)
        .map(|_| cap(&server, LIMIT, Duration::from_secs(60)))
        .collect();
    let in_flight = Arc::new(AtomicU32::new(0));
    let most = Arc::new(AtomicU32::new(0));
    let served = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for client in &clients {
        for task in 0..8u32 {
            let (client, in_flight, most, served) = (
                client.clone(),
                Arc::clone(&in_flight),
                Arc::clone(&most),
                Arc::clone(&served),
            );
            tasks.push(tokio::spawn(async move {
                for round in 0..25u32 {
                    if let Acquired::Held(permit) = client.acquire("hot", 1).await {
                        // Counted in flight only while the store counts the
                        // permit: from its grant to before its release.
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        served.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(1 + u64::from(round % 3))).await;
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        if task % 2 == 0 {
                            permit.release().await.unwrap();
                        } else {
                            // Dropped: released by a spawned task, after
                            // the count above already went down.
                            drop(permit);
                        }
                    }
                    tokio::task::yield_now().await;
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let most = most.load(Ordering::SeqCst);
    assert!(most <= LIMIT, "{most} in flight at once, cap {LIMIT}");
    // The load did fill the cap, so the bound above was tested.
    assert_eq!(most, LIMIT);
    assert!(served.load(Ordering::SeqCst) >= LIMIT);
    settles(&clients[0], "hot", 0).await;
    let failed: u64 = clients.iter().map(|c| c.metrics().releases_failed).sum();
    assert_eq!(failed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permit_is_released_when_dropped_or_unwound() {
    let server = RedisServer::start();
    let cap = cap(&server, 2, Duration::from_secs(60));
    let first = held(cap.acquire("k", 1).await);
    let second = held(cap.acquire("k", 1).await);
    let Acquired::Busy(busy) = cap.acquire("k", 1).await else {
        panic!("a third place under a cap of 2");
    };
    assert_eq!((busy.requested, busy.active, busy.limit), (1, 2, 2));

    // Released explicitly: the status after says so.
    let status = first.release().await.unwrap();
    assert_eq!(status.remaining(), 1);
    // Dropped.
    drop(second);
    settles(&cap, "k", 0).await;

    // Held by a task that panics: released as it unwinds.
    let holder = cap.clone();
    let panicked = tokio::spawn(async move {
        let _permit = held(holder.acquire("k", 2).await);
        panic!("handler failed while holding its permit");
    })
    .await;
    assert!(panicked.unwrap_err().is_panic());
    settles(&cap, "k", 0).await;
    held(cap.acquire("k", 2).await).release().await.unwrap();
    assert_eq!(cap.metrics().releases_failed, 0);
    // A count back at 0 is not kept: the key expires at once.
    expires(&server, &cap.limiter().key("k")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_acquire_sets_the_lease_and_a_crashed_holder_is_freed_by_it() {
    let server = RedisServer::start();
    let lease = Duration::from_millis(300);
    let cap = cap(&server, 2, lease);
    let key = cap.limiter().key("k");
    // A crashed holder: its units are taken and never released.
    std::mem::forget(held(cap.acquire("k", 2).await));
    let pttl: u64 = server.command(&["PTTL", &key]).unwrap()[1..]
        .trim()
        .parse()
        .unwrap();
    assert!(pttl > 0 && pttl <= 300, "expiry {pttl} ms, lease 300 ms");
    assert!(matches!(cap.acquire("k", 1).await, Acquired::Busy(_)));
    // The lease ends: the units are free again.
    expires(&server, &key).await;
    assert_eq!(cap.active("k").await.unwrap(), 0);
    let permit = held(cap.acquire("k", 2).await);
    permit.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_lease_over_admission_is_the_units_of_holders_still_running() {
    const LIMIT: u32 = 2;
    let server = RedisServer::start();
    let cap = cap(&server, LIMIT, Duration::from_millis(200));
    let key = cap.limiter().key("k");
    // A holder that runs longer than the lease, with no other write of the
    // key meanwhile: the count resets while it still runs.
    let slow = held(cap.acquire("k", 1).await);
    expires(&server, &key).await;
    // Forgotten: `LIMIT` more are admitted beside it, and no more.
    let mut fresh: Vec<_> = Vec::new();
    for _ in 0..LIMIT {
        fresh.push(held(cap.acquire("k", 1).await));
    }
    assert!(matches!(cap.acquire("k", 1).await, Acquired::Busy(_)));
    let mut running = 1 + fresh.len() as u32;
    assert_eq!(running, LIMIT + slow.units());
    // Its release lowers a count that no longer held it: one more place,
    // and the total stays at the bound `LIMIT + its units`.
    slow.release().await.unwrap();
    running -= 1;
    fresh.push(held(cap.acquire("k", 1).await));
    running += 1;
    assert!(matches!(cap.acquire("k", 1).await, Acquired::Busy(_)));
    assert_eq!(running, LIMIT + 1);
    // Once the holders drain, the count is exact again (it never went below 0).
    for permit in fresh {
        permit.release().await.unwrap();
    }
    assert_eq!(cap.active("k").await.unwrap(), 0);
    let again: Vec<_> = (0..LIMIT).map(|_| cap.acquire("k", 1)).collect();
    let mut permits = Vec::new();
    for acquire in again {
        permits.push(held(acquire.await));
    }
    assert!(matches!(cap.acquire("k", 1).await, Acquired::Busy(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_store_down_the_fail_policy_answers_and_holds_nothing() {
    let mut server = RedisServer::start();
    let open = cap_with(
        &server,
        1,
        Duration::from_secs(60),
        Config::new("conc").fail_policy(FailPolicy::Open),
    );
    let closed = cap(&server, 1, Duration::from_secs(60));
    let permit = held(closed.acquire("k", 1).await);
    server.stop();
    let answer = open.acquire("k", 1).await;
    assert!(
        matches!(answer, Acquired::Failed { admitted: true, .. }),
        "{answer:?}"
    );
    let answer = closed.acquire("k", 1).await;
    assert!(
        matches!(
            answer,
            Acquired::Failed {
                admitted: false,
                ..
            }
        ),
        "{answer:?}"
    );
    // A release the store cannot take is counted; its units are left to
    // the lease (here the server lost them anyway).
    assert!(permit.release().await.is_err());
    assert_eq!(closed.metrics().releases_failed, 1);
    // The store returns (empty): decided again.
    server.restart();
    let mut answer = closed.acquire("k", 1).await;
    for _ in 0..50 {
        if !matches!(answer, Acquired::Failed { .. }) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        answer = closed.acquire("k", 1).await;
    }
    held(answer).release().await.unwrap();
}
