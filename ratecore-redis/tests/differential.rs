//! Differential tests: random sequences of (instant, operation, key) through
//! the Redis-backed limiter (on a real redis-server, with the test's clock
//! injected as the server's) and through ratecore's in-memory limiter give
//! identical answers, for all five one-word algorithms. Keys expire in the
//! injected time exactly when the crate's TTLs say (see `TestClock`), so
//! the expiry path is part of every sequence.
//!
//! Every sequence runs through two Redis-backed limiters side by side: one
//! that reads and compares-and-sets every batch, and one that sends every
//! batch of checks it can to the server-side GCRA script
//! (`ServerDecide::Always`), including configurations at the edge of the
//! script's exact range (values up to 2^52) and just past it.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use ratecore::kernel::Algorithm;
use ratecore::{
    ConcurrencyLimit, FixedWindow, Gcra, Instant, Limiter, Quota, RefillMode, Refund,
    SlidingWindow, TokenBucket, kernel::Charge,
};
use ratecore_redis::{Answer, Config, RedisLimiter, ServerDecide};
use support::{Op, RedisServer, TestClock, decided, dt, op, tick_ns};

/// Steps: (ticks to advance, operation, key index); the ticks are whole
/// multiples of `unit`.
fn steps(max_n: u32, period: u64, unit: u64) -> impl Strategy<Value = Vec<(u64, Op, usize)>> {
    prop::collection::vec((dt(period, unit), op(max_n), 0..3usize), 1..40)
}

static CASE: AtomicU64 = AtomicU64::new(0);

/// Runs `steps` through a Redis-backed limiter per mode of `modes` and the
/// in-memory limiter; the limiters' metrics.
async fn run_case<A, const HZ: u64>(
    server_store: &TestClock,
    make: &(dyn Fn() -> A + Sync),
    modes: &[ServerDecide],
    steps: &[(u64, Op, usize)],
) -> Result<Vec<ratecore_redis::Metrics>, TestCaseError>
where
    A: Algorithm<HZ> + Limiter<HZ> + Refund<HZ> + Charge<HZ> + Send + Sync + 'static,
{
    let mut metrics = Vec::new();
    for &server in modes {
        let prefix = format!("diff{}", CASE.fetch_add(1, Ordering::Relaxed));
        let config = Config::new(prefix)
            .deny_cache(None)
            .optimistic(None)
            .server_decide(server)
            .time_budget(Duration::from_secs(5));
        let limiter = RedisLimiter::<A, HZ, TestClock>::new(make(), server_store.clone(), config);
        run_limiter(server_store, &limiter, make, steps).await?;
        metrics.push(limiter.metrics());
    }
    Ok(metrics)
}

async fn run_limiter<A, const HZ: u64>(
    server_store: &TestClock,
    limiter: &RedisLimiter<A, HZ, TestClock>,
    make: &(dyn Fn() -> A + Sync),
    steps: &[(u64, Op, usize)],
) -> Result<(), TestCaseError>
where
    A: Algorithm<HZ> + Limiter<HZ> + Refund<HZ> + Charge<HZ> + Send + Sync + 'static,
{
    let memory: Vec<A> = (0..3).map(|_| make()).collect();
    let keys = ["alice", "bob", "{odd}:key"];
    // A realistic epoch: 2023-11, in ticks.
    let mut t: u64 = 1_700_000_000u64.saturating_mul(HZ);
    for &(dt, op, k) in steps {
        t += dt;
        server_store.set_ns(tick_ns::<HZ>(t));
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
                let got = decided(limiter.peek_n(keys[k], n).await)?;
                prop_assert_eq!(got, mem.peek_n_at(n, now), "peek {} at {}", n, t);
            }
            Op::Refund(n) => {
                let got = decided(limiter.refund(keys[k], n).await)?;
                prop_assert_eq!(got, mem.refund_n_at(n, now), "refund {} at {}", n, t);
            }
            Op::Status => {
                let got = decided(limiter.status(keys[k]).await)?;
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
    let metrics = differential_with::<A, HZ>(make, max_n, period, 1, &[ServerDecide::Never]);
    assert!(metrics.iter().all(|m| m[0].server_batches == 0));
}

/// [`differential_with`] through the compare-and-set path and the server
/// path, with steps of whole `unit` ticks (whole microseconds, as the
/// server's clock has).
fn differential_on<A, const HZ: u64>(
    make: impl Fn() -> A + Sync,
    max_n: u32,
    period: u64,
    unit: u64,
) -> Vec<Vec<ratecore_redis::Metrics>>
where
    A: Algorithm<HZ> + Limiter<HZ> + Refund<HZ> + Charge<HZ> + Send + Sync + 'static,
{
    let modes = [ServerDecide::Never, ServerDecide::Always];
    differential_with::<A, HZ>(make, max_n, period, unit, &modes)
}

/// Runs the property with steps of whole `unit` ticks through a limiter
/// per mode of `modes`; every case's metrics, in the order of `modes`.
fn differential_with<A, const HZ: u64>(
    make: impl Fn() -> A + Sync,
    max_n: u32,
    period: u64,
    unit: u64,
    modes: &[ServerDecide],
) -> Vec<Vec<ratecore_redis::Metrics>>
where
    A: Algorithm<HZ> + Limiter<HZ> + Refund<HZ> + Charge<HZ> + Send + Sync + 'static,
{
    let server = RedisServer::start();
    let (rt, clock) = support::clocked(&server);
    let mut runner = support::runner();
    let metrics = std::sync::Mutex::new(Vec::new());
    let result = runner.run(&steps(max_n, period, unit), |steps| {
        let m = rt.block_on(run_case::<A, HZ>(&clock, &make, modes, &steps))?;
        metrics.lock().unwrap().push(m);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // Every state this crate wrote had an expiry that it reported.
    assert!(!clock.ttls.lock().unwrap().is_empty());
    metrics.into_inner().unwrap()
}

/// The server path decided (most batches of checks of) every case, and
/// the compare-and-set path none.
fn server_decided(metrics: &[Vec<ratecore_redis::Metrics>]) {
    let cases_on_server = metrics.iter().filter(|m| m[1].server_batches > 0).count();
    assert!(cases_on_server * 2 > metrics.len(), "{metrics:?}");
    assert!(metrics.iter().all(|m| m[0].server_batches == 0));
}

#[test]
fn gcra_matches_memory_on_both_paths() {
    let metrics = differential_on::<_, 1_000>(
        || Gcra::<1_000>::new(Quota::per_second(10).burst(5)).unwrap(),
        6,
        500,
        1,
    );
    server_decided(&metrics);
    // 3 per second at nanosecond ticks: a scale of 3 virtual units per tick.
    let metrics = differential_on::<_, 1_000_000_000>(
        || Gcra::<1_000_000_000>::new(Quota::per_second(3).burst(4)).unwrap(),
        5,
        400_000_000,
        1_000,
    );
    server_decided(&metrics);
    // 32,768 Hz: expiries of ceil(ticks * 125 / 4096) ms.
    let metrics = differential_on::<_, 32_768>(
        || Gcra::<32_768>::new(Quota::per_second(7).burst(3)).unwrap(),
        4,
        8_000,
        1,
    );
    server_decided(&metrics);
}

/// A GCRA at nanosecond ticks whose capacity (3 units of about 2^52 / 3
/// virtual units each) leaves the script `max_secs` seconds past its base,
/// or none at all.
fn near_the_limit(max_secs: u64) -> Gcra<1_000_000_000> {
    let room = (max_secs + 1) * 1_000_000_000 + 999_999_999;
    let cost = ((1u64 << 52) - room) / 3;
    let period = ratecore::Duration::<1_000_000_000>::from_ticks(cost * 3);
    Gcra::new(Quota::with_period(3, period)).unwrap()
}

#[test]
fn gcra_on_the_server_matches_memory_at_the_edge_of_exact_arithmetic() {
    // States up to 2^52 ahead of the base; most steps stay within the 4
    // seconds the script accepts, the longer ones are refused (and decided
    // by compare-and-set on the word and time the refusal returns).
    let metrics =
        differential_on::<_, 1_000_000_000>(|| near_the_limit(4), 3, 2_000_000_000, 1_000);
    server_decided(&metrics);
    assert!(metrics.iter().any(|m| m[1].server_refused > 0));
    // One second less than the script needs: never sent to it.
    assert!(near_the_limit(0).emission_interval().0 * 3 > (1 << 52) - 2_000_000_000);
    let metrics =
        differential_on::<_, 1_000_000_000>(|| near_the_limit(0), 3, 2_000_000_000, 1_000);
    assert!(
        metrics
            .iter()
            .all(|m| m[1].server_batches + m[1].server_refused == 0)
    );
}

#[test]
fn gcra_on_the_server_matches_memory_above_10k_per_second() {
    let metrics = differential_on::<_, 1_000_000_000>(
        || Gcra::<1_000_000_000>::new(Quota::per_second(20_000).burst(8)).unwrap(),
        9,
        400_000,
        1_000,
    );
    server_decided(&metrics);
}

#[test]
fn gcra_matches_memory_above_10k_per_second() {
    // 20,000/s at nanosecond ticks: states idle within microseconds, and
    // TTLs are rounded up to whole milliseconds. At any nanosecond, so on
    // the compare-and-set path only (the server's clock has microseconds).
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
