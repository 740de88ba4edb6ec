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
use ratecore_redis::{Config, RedisTiers, TieredAnswer, WordsStore};
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

/// The four tiers on a store, as one `RedisTiers`.
fn redis_tiers<S: WordsStore>(store: S, config: Config) -> RedisTiers<Gcra<HZ>, HZ, 4, S> {
    let [a, b, c, d] = tiers();
    RedisTiers::new(
        [(NAMES[0], a), (NAMES[1], b), (NAMES[2], c), (NAMES[3], d)],
        store,
        config,
    )
}

/// ratecore's in-memory `Tiers` over `limiters`, named as [`redis_tiers`]'s.
fn in_memory(limiters: &[Gcra<HZ>; 4]) -> Tiers<'_, HZ, 4> {
    let tier = |i: usize| Tier::new(NAMES[i], &limiters[i]);
    Tiers::new([tier(0), tier(1), tier(2), tier(3)])
}

/// What one step charges: `n` of every tier, or a cost per tier.
#[derive(Clone, Debug)]
enum Charge {
    N(u32),
    Costs([u32; 4]),
}

/// One step on both sides: the same decision at the same instant, and the
/// same statuses after it (with `check_costs`, also those it answers with).
async fn step(
    redis: &RedisTiers<Gcra<HZ>, HZ, 4, TestClock>,
    set: &Tiers<'_, HZ, 4>,
    key: &str,
    charge: Charge,
    now: Instant<HZ>,
) -> Result<(), TestCaseError> {
    let (answer, expected) = match charge {
        Charge::N(n) => {
            let expected = set.check_tiered_n_at(n, now);
            (redis.check_n(key, n).await, expected)
        }
        Charge::Costs(costs) => {
            let expected = set.check_costs_at(costs, now);
            let check = redis.check_costs(key, costs).await;
            // The statuses that come with the answer are the tiers' after it.
            prop_assert_eq!(&check.statuses[..], &set.snapshot_all_at(now)[..]);
            (check.answer, expected)
        }
    };
    match answer {
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
    let statuses = redis.status(key).await.unwrap();
    prop_assert_eq!(&statuses[..], &set.snapshot_all_at(now)[..]);
    Ok(())
}

/// `cases` random sequences of (instant, charge, key) on Redis and on
/// ratecore's in-memory `Tiers` (one per key), keys prefixed `prefix`.
fn differential(prefix: &str, cases: u32, charge: impl Strategy<Value = Charge>) {
    let server = RedisServer::start();
    let (rt, clock) = support::clocked(&server);
    let case = AtomicU64::new(0);
    let mut runner = TestRunner::new(PropConfig {
        cases,
        failure_persistence: None,
        ..PropConfig::default()
    });
    let dt = prop_oneof![Just(0u64), 0..80u64, 0..2_000u64, 0..30_000u64];
    let steps = prop::collection::vec((dt, charge, 0..2usize), 1..50);
    let result = runner.run(&steps, |steps| {
        let prefix = format!("{prefix}{}", case.fetch_add(1, Ordering::Relaxed));
        // The deny cache estimates instants on the local clock, not the
        // injected one: it has a test of its own below.
        let config = Config::new(prefix)
            .time_budget(Duration::from_secs(5))
            .deny_cache(None);
        let redis = redis_tiers(clock.clone(), config);
        let memory: Vec<[Gcra<HZ>; 4]> = (0..2).map(|_| tiers()).collect();
        let sets: Vec<Tiers<'_, HZ, 4>> = memory.iter().map(in_memory).collect();
        let mut t = 1_700_000_000_000u64;
        rt.block_on(async {
            for (dt, charge, k) in steps {
                t += dt;
                clock.set_ns(t * 1_000_000);
                let now = Instant::<HZ>::from_ticks(t);
                step(&redis, &sets[k], ["a", "b"][k], charge, now).await?;
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn tiers_match_ratecore_tiers() {
    differential("tiers", 48, (0..=5u32).prop_map(Charge::N));
}

/// As above, with a different cost per tier ("1 request and 4,000
/// characters"): `check_costs` answers as ratecore's `Tiers::check_costs_at`.
#[test]
fn tiers_with_costs_match_ratecore_check_costs() {
    differential(
        "costs",
        32,
        prop::array::uniform4(0..=5u32).prop_map(Charge::Costs),
    );
}

#[tokio::test(flavor = "current_thread")]
async fn all_tiers_live_in_one_value() {
    let server = RedisServer::start();
    let redis = redis_tiers(
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

/// On the server's real clock: once the burst is spent, denials come from
/// the deny cache, without the store, and every answer (local or not),
/// replayed in ratecore's in-memory `Tiers` at the instant it reports, is
/// that `Tiers`'s answer.
#[tokio::test(flavor = "current_thread")]
async fn denied_keys_are_answered_locally_as_memory_would() {
    let server = RedisServer::start();
    let config = Config::new("deny").time_budget(Duration::from_secs(5));
    let redis = redis_tiers(support::store(&server), config);
    let memory = tiers();
    let set = in_memory(&memory);
    let mut denied = 0;
    for _ in 0..40 {
        let check = redis.check_costs("k", [1; 4]).await;
        let TieredAnswer::Decided { decision, at } = check.answer else {
            panic!("{:?}", check.answer)
        };
        assert_eq!(decision, set.check_costs_at([1; 4], at));
        assert_eq!(&check.statuses[..], &set.snapshot_all_at(at)[..]);
        denied += u64::from(decision.is_err());
    }
    // Tier "second" (burst 4, one per 100 ms) denies most of them, and
    // every denial but the ones that renew the entry is local.
    assert!(denied >= 20, "{denied} denied");
    assert!(
        redis.denied_locally() >= denied / 2,
        "{}",
        redis.denied_locally()
    );
}

/// Concurrent checks of one key in one process are batched as a
/// `RedisLimiter`'s are (one read and one compare-and-set per batch), and
/// a batch decides exactly as the same checks one after another at its
/// instant: answers and statuses in submission order are `Tiers`'s.
#[test]
fn concurrent_checks_are_batched_as_in_sequence() {
    let server = RedisServer::start();
    let (rt, clock) = support::clocked(&server);
    let t = 1_700_000_000_000u64;
    clock.set_ns(t * 1_000_000);
    let config = Config::new("batch")
        .time_budget(Duration::from_secs(5))
        .deny_cache(None);
    let redis = redis_tiers(clock, config);
    let costs: Vec<[u32; 4]> = (0..40u32)
        .map(|i| [i % 3, (i * 7) % 4, i % 2, (i * 5) % 3])
        .collect();
    let answers = rt.block_on(async {
        let spawn = |&c: &[u32; 4]| {
            let redis = redis.clone();
            tokio::spawn(async move { redis.check_costs("k", c).await })
        };
        support::join_in_order(costs.iter().map(spawn).collect()).await
    });
    let memory = tiers();
    let set = in_memory(&memory);
    let now = Instant::<HZ>::from_ticks(t);
    for (check, &c) in answers.iter().zip(&costs) {
        let TieredAnswer::Decided { decision, at } = &check.answer else {
            panic!("{:?}", check.answer)
        };
        assert_eq!((decision, *at), (&set.check_costs_at(c, now), now));
        assert_eq!(&check.statuses[..], &set.snapshot_all_at(now)[..]);
    }
    // Both outcomes occur, so the order within a batch matters.
    assert!(answers.iter().any(|a| a.answer.is_admitted()));
    assert!(answers.iter().any(|a| !a.answer.is_admitted()));
    // The first check went alone; the 39 queued behind it, one batch.
    assert!(redis.batches() <= 3, "{} batches", redis.batches());
}
