//! Differential tests: random sequences of (instant, operation, key) through
//! the Redis-backed limiter (on a real redis-server, with the test's clock
//! injected as the server's) and through ratecore's in-memory limiter give
//! identical answers, for all five one-word algorithms. Keys expire in the
//! injected time exactly when the crate's TTLs say (see `TestClock`), so
//! the expiry path is part of every sequence.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestCaseError, TestRunner};
use ratecore::kernel::Algorithm;
use ratecore::{
    ConcurrencyLimit, FixedWindow, Gcra, Instant, Limiter, Quota, RefillMode, Refund,
    SlidingWindow, TokenBucket, kernel::Charge,
};
use ratecore_redis::{Answer, Config, RedisLimiter};
use support::{RedisServer, TestClock};

#[derive(Clone, Copy, Debug)]
enum Op {
    Check(u32),
    Peek(u32),
    Refund(u32),
    Status,
}

fn op(max_n: u32) -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..=max_n).prop_map(Op::Check),
        1 => (0..=max_n).prop_map(Op::Peek),
        1 => (0..=max_n).prop_map(Op::Refund),
        1 => Just(Op::Status),
    ]
}

/// Steps: (ticks to advance, operation, key index).
fn steps(max_n: u32, period: u64) -> impl Strategy<Value = Vec<(u64, Op, usize)>> {
    let dt = prop_oneof![
        3 => Just(0u64),
        3 => 0..=period / 8,
        2 => 0..=period * 2,
        1 => 0..=period * 20,
    ];
    prop::collection::vec((dt, op(max_n), 0..3usize), 1..40)
}

static CASE: AtomicU64 = AtomicU64::new(0);

async fn run_case<A, const HZ: u64>(
    server_store: &TestClock,
    make: &(dyn Fn() -> A + Sync),
    steps: &[(u64, Op, usize)],
) -> Result<(), TestCaseError>
where
    A: Algorithm<HZ> + Limiter<HZ> + Refund<HZ> + Charge<HZ> + Send + Sync + 'static,
{
    let prefix = format!("diff{}", CASE.fetch_add(1, Ordering::Relaxed));
    let config = Config::new(prefix)
        .deny_cache(None)
        .optimistic(None)
        .time_budget(Duration::from_secs(5));
    let limiter = RedisLimiter::<A, HZ, TestClock>::new(make(), server_store.clone(), config);
    let memory: Vec<A> = (0..3).map(|_| make()).collect();
    let keys = ["alice", "bob", "{odd}:key"];
    // A realistic epoch: 2023-11, in ticks.
    let mut t: u64 = 1_700_000_000u64.saturating_mul(HZ);
    for &(dt, op, k) in steps {
        t += dt;
        // Exact both ways when HZ divides 10^9 (every rate used here).
        server_store.set_ns(t * (1_000_000_000 / HZ));
        let now = Instant::<HZ>::from_ticks(t);
        let mem = &memory[k];
        match op {
            Op::Check(n) => {
                let expected = mem.check_n_at(n, now);
                match limiter.check_n(keys[k], n).await {
                    Answer::Decided { decision, at } => {
                        prop_assert_eq!(decision, expected, "check {} at {}", n, t);
                        prop_assert_eq!(at, now);
                    }
                    other => return Err(TestCaseError::fail(format!("{other:?}"))),
                }
            }
            Op::Peek(n) => {
                let got = limiter
                    .peek_n(keys[k], n)
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(got, mem.peek_n_at(n, now), "peek {} at {}", n, t);
            }
            Op::Refund(n) => {
                let got = limiter
                    .refund(keys[k], n)
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(got, mem.refund_n_at(n, now), "refund {} at {}", n, t);
            }
            Op::Status => {
                let got = limiter
                    .status(keys[k])
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(got, mem.snapshot_at(now), "status at {}", t);
            }
        }
    }
    let m = limiter.metrics();
    prop_assert_eq!(m.failed_open + m.failed_closed + m.store_errors, 0);
    Ok(())
}

fn differential<A, const HZ: u64>(make: impl Fn() -> A + Sync, max_n: u32, period: u64)
where
    A: Algorithm<HZ> + Limiter<HZ> + Refund<HZ> + Charge<HZ> + Send + Sync + 'static,
{
    let server = RedisServer::start();
    let (rt, clock) = support::clocked(&server);
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(48);
    let mut runner = TestRunner::new(PropConfig {
        cases,
        failure_persistence: None,
        ..PropConfig::default()
    });
    let result = runner.run(&steps(max_n, period), |steps| {
        rt.block_on(run_case::<A, HZ>(&clock, &make, &steps))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // Every state this crate wrote had an expiry that it reported.
    assert!(!clock.ttls.lock().unwrap().is_empty());
}

#[test]
fn gcra_matches_memory() {
    differential::<_, 1_000>(
        || Gcra::<1_000>::new(Quota::per_second(10).burst(5)).unwrap(),
        6,
        500,
    );
}

#[test]
fn gcra_matches_memory_above_10k_per_second() {
    // 20,000/s at nanosecond ticks: states idle within microseconds, and
    // TTLs are rounded up to whole milliseconds.
    differential::<_, 1_000_000_000>(
        || Gcra::<1_000_000_000>::new(Quota::per_second(20_000).burst(8)).unwrap(),
        9,
        400_000,
    );
}

#[test]
fn token_bucket_matches_memory() {
    differential::<_, 1_000>(
        || TokenBucket::<1_000>::new(Quota::per_second(3).burst(5), RefillMode::Greedy).unwrap(),
        6,
        1_700,
    );
    differential::<_, 1_000_000>(
        || {
            TokenBucket::<1_000_000>::new(Quota::per_second(3).burst(5), RefillMode::Interval)
                .unwrap()
        },
        6,
        1_700_000,
    );
}

#[test]
fn fixed_window_matches_memory() {
    differential::<_, 1_000>(
        || FixedWindow::<1_000>::new(Quota::per_second(5)).unwrap(),
        6,
        1_000,
    );
}

#[test]
fn sliding_window_matches_memory() {
    differential::<_, 1_000>(
        || SlidingWindow::<1_000>::new(Quota::per_second(5)).unwrap(),
        6,
        1_000,
    );
}

#[test]
fn concurrency_limit_matches_memory() {
    differential::<_, 1_000>(|| ConcurrencyLimit::new(4).unwrap(), 5, 1_000);
}
