//! Per-key plans: random sequences of (instant, key, plan, operation)
//! through a `RedisPlans` (on a real redis-server, the test's clock
//! injected as the server's, as in `differential.rs`) and through
//! ratecore's in-memory `KeyedLimiter` with the same plans give identical
//! answers.
//!
//! Two of the three plans have the very same configuration: in memory they
//! are still independent states, so a Redis key that named only the
//! configuration (and not the plan) would share them and fail here.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use ratecore::kernel::Algorithm;
use ratecore::keyed::{Plan, WhenFull};
use ratecore::{Gcra, Instant, KeyedLimiter, Quota, RefillMode, TokenBucket};
use ratecore_redis::{Answer, Config, RedisPlans, RedisStore, ServerDecide};
use support::{Op, RedisServer, TestClock, decided, dt, op, tick_ns};

const PLANS: usize = 3;
const KEYS: [&str; 3] = ["alice", "bob", "{odd}:key"];

/// Steps: (ticks to advance, key index, plan index, operation).
fn steps(max_n: u32, period: u64) -> impl Strategy<Value = Vec<(u64, usize, usize, Op)>> {
    let step = (dt(period, 1), 0..KEYS.len(), 0..PLANS, op(max_n));
    prop::collection::vec(step, 1..60)
}

static CASE: AtomicU64 = AtomicU64::new(0);

/// One case through a `RedisPlans` in `mode` and a fresh `KeyedLimiter`.
async fn run_case<A, const HZ: u64>(
    clock: &TestClock,
    plans: &(dyn Fn() -> [A; PLANS] + Sync),
    mode: ServerDecide,
    steps: &[(u64, usize, usize, Op)],
) -> Result<ratecore_redis::Metrics, TestCaseError>
where
    A: Algorithm<HZ> + Send + Sync + 'static,
{
    let config = Config::new(format!("plans{}", CASE.fetch_add(1, Ordering::Relaxed)))
        .deny_cache(None)
        .optimistic(None)
        .server_decide(mode)
        .time_budget(Duration::from_secs(5));
    let redis = RedisPlans::<A, HZ, PLANS, TestClock>::new(plans(), clock.clone(), config);
    // 16 slots hold every (key, plan) of the case: never full.
    let memory = KeyedLimiter::<A, HZ, 16, PLANS>::new(plans(), [7, 11], WhenFull::Deny);
    let mut t: u64 = 1_700_000_000u64.saturating_mul(HZ);
    let mut checks = 0;
    for &(dt, k, p, op) in steps {
        t += dt;
        clock.set_ns(tick_ns::<HZ>(t));
        let now = Instant::<HZ>::from_ticks(t);
        let (key, plan) = (KEYS[k], Plan::<PLANS>::new(p).unwrap());
        match op {
            Op::Check(n) => {
                checks += 1;
                let expected = memory
                    .check_n_at(key, plan, n, now)
                    .map(|admitted| admitted.status().expect("never full"));
                match redis.check_n(key, plan, n).await {
                    Answer::Decided { decision, at } => {
                        prop_assert_eq!(decision, expected, "check {} of {:?} at {}", n, plan, t);
                        prop_assert_eq!(at, now);
                    }
                    other => return Err(TestCaseError::fail(format!("{other:?}"))),
                }
            }
            Op::Peek(n) => {
                let got = decided(redis.peek_n(key, plan, n).await)?;
                let expected = memory.peek_n_at(key, plan, n, now);
                prop_assert_eq!(got, expected, "peek {} of {:?} at {}", n, plan, t);
            }
            Op::Refund(n) => {
                let got = decided(redis.refund(key, plan, n).await)?;
                let expected = memory.refund_n_at(key, plan, n, now);
                prop_assert_eq!(got, expected, "refund {} of {:?} at {}", n, plan, t);
            }
            Op::Status => {
                let got = decided(redis.status(key, plan).await)?;
                let expected = memory.snapshot_at(key, plan, now);
                prop_assert_eq!(got, expected, "status of {:?} at {}", plan, t);
            }
        }
    }
    let m = redis.metrics();
    prop_assert_eq!(m.failed_open + m.failed_closed + m.store_errors, 0);
    // The plans count in one set of counters.
    prop_assert_eq!(m.checks, checks);
    Ok(m)
}

/// Runs the property for `plans` in each of `modes`; the metrics of every
/// case and mode.
fn differential<A, const HZ: u64>(
    plans: impl Fn() -> [A; PLANS] + Sync,
    max_n: u32,
    period: u64,
    modes: &[ServerDecide],
) -> Vec<ratecore_redis::Metrics>
where
    A: Algorithm<HZ> + Send + Sync + 'static,
{
    let server = RedisServer::start();
    let (rt, clock) = support::clocked(&server);
    let mut runner = support::runner();
    let metrics = std::sync::Mutex::new(Vec::new());
    let result = runner.run(&steps(max_n, period), |steps| {
        for &mode in modes {
            let m = rt.block_on(run_case::<A, HZ>(&clock, &plans, mode, &steps))?;
            metrics.lock().unwrap().push(m);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    metrics.into_inner().unwrap()
}

#[test]
fn gcra_plans_match_keyed_limiter_on_both_paths() {
    let free = || Gcra::<1_000>::new(Quota::per_second(10).burst(5)).unwrap();
    let pro = || Gcra::<1_000>::new(Quota::per_second(2).burst(3)).unwrap();
    let modes = [ServerDecide::Never, ServerDecide::Always];
    let metrics = differential(|| [free(), free(), pro()], 6, 500, &modes);
    // Modes alternate: the script decided batches on its path only.
    let (never, always): (Vec<_>, Vec<_>) = metrics.chunks(2).map(|m| (m[0], m[1])).unzip();
    assert!(never.iter().all(|m| m.server_batches == 0));
    assert!(always.iter().filter(|m| m.server_batches > 0).count() * 2 > always.len());
}

#[test]
fn token_bucket_plans_match_keyed_limiter() {
    let bucket = |per_second, burst| {
        TokenBucket::<1_000>::new(
            Quota::per_second(per_second).burst(burst),
            RefillMode::Greedy,
        )
        .unwrap()
    };
    differential(
        || [bucket(3, 5), bucket(3, 5), bucket(7, 2)],
        6,
        1_700,
        &[ServerDecide::WhenContended],
    );
}

/// Runs `test` on a store of a fresh server, on the server's own clock.
fn on_server<F: std::future::Future<Output = ()>>(test: impl FnOnce(RedisStore) -> F) {
    let server = RedisServer::start();
    let (rt, clock) = support::clocked(&server);
    rt.block_on(test(clock.inner));
}

#[test]
fn each_key_and_plan_has_its_own_store_key() {
    on_server(|store| async move {
        let gcra = || Gcra::<1_000>::new(Quota::per_second(1).burst(2)).unwrap();
        let plans = RedisPlans::new([gcra(), gcra()], store, Config::new("k"));
        let (first, second) = (Plan::<2>::new(0).unwrap(), Plan::<2>::new(1).unwrap());
        let fingerprint = format!("{:016x}", gcra().fingerprint());
        assert_eq!(
            plans.key("alice", second),
            format!("k:{{alice}}:plan1:gcra:{fingerprint}")
        );
        // The burst of 2, under each plan on its own, on the real server's clock.
        for plan in [first, second] {
            for admitted in [true, true, false] {
                assert_eq!(plans.check("alice", plan).await.is_admitted(), admitted);
            }
        }
        let m = plans.metrics();
        assert_eq!((m.checks, m.admitted, m.denied), (6, 4, 2));
    });
}

#[test]
fn concurrent_checks_of_a_key_and_plan_are_batched() {
    on_server(|store| async move {
        // Bursts of 5 and 3 refilled once a minute: within the test's few
        // milliseconds, exactly the burst of each plan is admitted.
        let plans = RedisPlans::new(
            [
                Gcra::<1_000>::new(Quota::per_minute(1).burst(5)).unwrap(),
                Gcra::<1_000>::new(Quota::per_minute(1).burst(3)).unwrap(),
            ],
            store,
            Config::new("b").deny_cache(None),
        );
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let (plans, plan) = (plans.clone(), Plan::<2>::new(i % 2).unwrap());
                tokio::spawn(async move { (plan, plans.check("alice", plan).await) })
            })
            .collect();
        let mut admitted = [0, 0];
        for (plan, answer) in support::join_in_order(tasks).await {
            assert!(answer.decision().is_some(), "{answer:?}");
            admitted[plan.index()] += usize::from(answer.is_admitted());
        }
        assert_eq!(admitted, [5, 3]);
        // Each (key, plan) decided its first check alone and folded the
        // checks queued behind it into batches: far fewer than 40.
        let m = plans.metrics();
        assert_eq!((m.checks, m.batched_ops), (40, 40));
        assert!(m.batches <= 6, "{m:?}");
    });
}
