//! Tiers on a real redis-server: several limits of one key in one value.
//! Random sequences of (instant, n, key) give exactly the answers of
//! ratecore's in-memory `Tiers` over the same limiters (the test's clock
//! injected as the server's, keys expired in it), and one value holds all
//! tiers.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestCaseError, TestRunner};
use ratecore::{Gcra, Instant, Quota, Tiers, compose::Tier};
use ratecore_redis::{Config, RedisTiers, TieredAnswer};
use support::{RedisServer, TestClock};

const HZ: u64 = 1_000;

/// The last tier repeats the tightest one, so ties between tiers are frequent
/// (and must go to the lower position, as in ratecore).
fn tiers() -> [Gcra<HZ>; 4] {
    [
        Gcra::new(Quota::per_second(10).burst(4)).unwrap(),
        Gcra::new(Quota::per_minute(30).burst(12)).unwrap(),
        Gcra::new(Quota::with_period(
            3,
            ratecore::Duration::<1_000>::from_ticks(700),
        ))
        .unwrap(),
        Gcra::new(Quota::with_period(
            3,
            ratecore::Duration::<1_000>::from_ticks(700),
        ))
        .unwrap(),
    ]
}

const NAMES: [&str; 4] = ["second", "minute", "odd", "again"];

#[test]
fn tiers_match_ratecore_tiers() {
    let server = RedisServer::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let clock = {
        let _guard = rt.enter();
        TestClock::new(support::store(&server))
    };
    let case = AtomicU64::new(0);
    let mut runner = TestRunner::new(PropConfig {
        cases: 48,
        failure_persistence: None,
        ..PropConfig::default()
    });
    let dt = prop_oneof![Just(0u64), 0..80u64, 0..2_000u64, 0..30_000u64];
    let steps = prop::collection::vec((dt, 0..=5u32, 0..2usize), 1..50);
    let result = runner.run(&steps, |steps| {
        let prefix = format!("tiers{}", case.fetch_add(1, Ordering::Relaxed));
        let config = Config::new(prefix).time_budget(Duration::from_secs(5));
        let [a, b, c, d] = tiers();
        let redis = RedisTiers::new(
            [(NAMES[0], a), (NAMES[1], b), (NAMES[2], c), (NAMES[3], d)],
            clock.clone(),
            config,
        );
        let memory: Vec<[Gcra<HZ>; 4]> = (0..2).map(|_| tiers()).collect();
        let sets: Vec<Tiers<'_, HZ, 4>> = memory
            .iter()
            .map(|m| {
                Tiers::new([
                    Tier::new(NAMES[0], &m[0]),
                    Tier::new(NAMES[1], &m[1]),
                    Tier::new(NAMES[2], &m[2]),
                    Tier::new(NAMES[3], &m[3]),
                ])
            })
            .collect();
        let mut t = 1_700_000_000_000u64;
        rt.block_on(async {
            for (dt, n, k) in steps {
                t += dt;
                clock.set_ns(t * 1_000_000);
                let now = Instant::<HZ>::from_ticks(t);
                let expected = sets[k].check_tiered_n_at(n, now);
                match redis.check_n(["a", "b"][k], n).await {
                    TieredAnswer::Decided { decision, at } => {
                        prop_assert_eq!(at, now);
                        match (decision, expected) {
                            (Ok(got), Ok(want)) => {
                                prop_assert_eq!(
                                    (got.tier, got.name, got.answer),
                                    (want.tier, want.name, want.answer)
                                );
                            }
                            (Err(got), Err(want)) => {
                                prop_assert_eq!(
                                    (got.tier, got.name, got.answer),
                                    (want.tier, want.name, want.answer)
                                );
                            }
                            (got, want) => {
                                return Err(TestCaseError::fail(format!("{got:?} vs {want:?}")));
                            }
                        }
                    }
                    other => return Err(TestCaseError::fail(format!("{other:?}"))),
                }
                let statuses = redis.status(["a", "b"][k]).await.unwrap();
                prop_assert_eq!(&statuses[..], &sets[k].snapshot_all_at(now)[..]);
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// As above, with a different cost per tier ("1 request and 4,000
/// characters"): `check_costs` answers as ratecore's `Tiers::check_costs_at`.
#[test]
fn tiers_with_costs_match_ratecore_check_costs() {
    let server = RedisServer::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let clock = {
        let _guard = rt.enter();
        TestClock::new(support::store(&server))
    };
    let case = AtomicU64::new(0);
    let mut runner = TestRunner::new(PropConfig {
        cases: 32,
        failure_persistence: None,
        ..PropConfig::default()
    });
    let dt = prop_oneof![Just(0u64), 0..80u64, 0..2_000u64, 0..30_000u64];
    let steps = prop::collection::vec((dt, prop::array::uniform4(0..=5u32), 0..2usize), 1..50);
    let result = runner.run(&steps, |steps| {
        let prefix = format!("costs{}", case.fetch_add(1, Ordering::Relaxed));
        let config = Config::new(prefix).time_budget(Duration::from_secs(5));
        let [a, b, c, d] = tiers();
        let redis = RedisTiers::new(
            [(NAMES[0], a), (NAMES[1], b), (NAMES[2], c), (NAMES[3], d)],
            clock.clone(),
            config,
        );
        let memory: Vec<[Gcra<HZ>; 4]> = (0..2).map(|_| tiers()).collect();
        let sets: Vec<Tiers<'_, HZ, 4>> = memory
            .iter()
            .map(|m| {
                Tiers::new([
                    Tier::new(NAMES[0], &m[0]),
                    Tier::new(NAMES[1], &m[1]),
                    Tier::new(NAMES[2], &m[2]),
                    Tier::new(NAMES[3], &m[3]),
                ])
            })
            .collect();
        let mut t = 1_700_000_000_000u64;
        rt.block_on(async {
            for (dt, n, k) in steps {
                t += dt;
                clock.set_ns(t * 1_000_000);
                let now = Instant::<HZ>::from_ticks(t);
                let expected = sets[k].check_costs_at(n, now);
                let check = redis.check_costs(["a", "b"][k], n).await;
                // The statuses that come with the answer are the tiers' after it.
                prop_assert_eq!(&check.statuses[..], &sets[k].snapshot_all_at(now)[..]);
                match check.answer {
                    TieredAnswer::Decided { decision, at } => {
                        prop_assert_eq!(at, now);
                        match (decision, expected) {
                            (Ok(got), Ok(want)) => {
                                prop_assert_eq!(
                                    (got.tier, got.name, got.answer),
                                    (want.tier, want.name, want.answer)
                                );
                            }
                            (Err(got), Err(want)) => {
                                prop_assert_eq!(
                                    (got.tier, got.name, got.answer),
                                    (want.tier, want.name, want.answer)
                                );
                            }
                            (got, want) => {
                                return Err(TestCaseError::fail(format!("{got:?} vs {want:?}")));
                            }
                        }
                    }
                    other => return Err(TestCaseError::fail(format!("{other:?}"))),
                }
                let statuses = redis.status(["a", "b"][k]).await.unwrap();
                prop_assert_eq!(&statuses[..], &sets[k].snapshot_all_at(now)[..]);
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn all_tiers_live_in_one_value() {
    let server = RedisServer::start();
    let [a, b, c, d] = tiers();
    let redis = RedisTiers::new(
        [(NAMES[0], a), (NAMES[1], b), (NAMES[2], c), (NAMES[3], d)],
        support::store(&server),
        Config::new("one").time_budget(Duration::from_secs(5)),
    );
    assert!(redis.check_n("k", 2).await.is_admitted());
    let reply = server.command(&["GET", &redis.key("k")]).unwrap();
    let value = reply.lines().nth(1).unwrap();
    assert_eq!(value.split(',').count(), 4, "{value}");
    assert!(redis.key("k").starts_with("one:{k}:tiers-gcra-4:"));
    let reply = server.command(&["PTTL", &redis.key("k")]).unwrap();
    let ttl: i64 = reply.trim().trim_start_matches(':').parse().unwrap();
    // The slowest tier: 2 units of 30/min are idle after 4 s.
    assert!((3_900..=4_000).contains(&ttl), "{ttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tasks_charge_every_tier_exactly_once() {
    // Two counters (1 per hour, bursts 50 and 80): 16 tasks race on one key
    // through the compare-and-set loop; exactly 50 checks pass, and both
    // tiers are charged for exactly those.
    let server = RedisServer::start();
    let counter = |burst| Gcra::<HZ>::new(Quota::per_hour(1).burst(burst)).unwrap();
    let redis = std::sync::Arc::new(RedisTiers::new(
        [("small", counter(50)), ("large", counter(80))],
        support::store(&server),
        Config::new("race").time_budget(Duration::from_secs(5)),
    ));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let redis = std::sync::Arc::clone(&redis);
            tokio::spawn(async move {
                let mut admitted = 0;
                for _ in 0..10 {
                    match redis.check_n("hot", 1).await {
                        TieredAnswer::Decided { decision, .. } => {
                            admitted += u32::from(decision.is_ok())
                        }
                        other => panic!("{other:?}"),
                    }
                }
                admitted
            })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        admitted += t.await.unwrap();
    }
    assert_eq!(admitted, 50);
    let statuses = redis.status("hot").await.unwrap();
    assert_eq!((statuses[0].remaining(), statuses[1].remaining()), (0, 30));
    assert_eq!(redis.failed(), 0);
}
