//! The default configuration (optimistic writes, deny cache) on the real
//! server's clock: every answer, replayed into ratecore's in-memory limiter
//! at the instant it reports, is the in-memory answer. So the shortcuts
//! (skipped reads, local denials) only choose the instant; the decision at
//! that instant is always ratecore's.

mod support;

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestCaseError, TestRunner};
use ratecore::kernel::Algorithm;
use ratecore::{FixedWindow, Gcra, Limiter, Quota, RefillMode, SlidingWindow, TokenBucket};
use ratecore_redis::{Answer, Config, RedisLimiter};
use support::RedisServer;

const NS: u64 = 1_000_000_000;

fn replay<A>(make: impl Fn() -> A, max_n: u32)
where
    A: Algorithm<NS> + Limiter<NS> + Send + Sync + 'static,
{
    let server = RedisServer::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut runner = TestRunner::new(PropConfig {
        cases: 12,
        failure_persistence: None,
        ..PropConfig::default()
    });
    let steps = prop::collection::vec((0..4_000u64, 0..=max_n, 0..2usize), 1..40);
    let case = std::sync::atomic::AtomicU64::new(0);
    let result = runner.run(&steps, |steps| {
        let case = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        rt.block_on(async {
            // A generous budget: the test is about decisions, not latency, and a
            // loaded CI machine must not turn a slow reply into a fail-policy answer.
            let config = Config::new(format!("replay{case}")).time_budget(Duration::from_secs(5));
            let limiter = RedisLimiter::new(make(), support::store(&server), config);
            let memory = [make(), make()];
            for (sleep_us, n, k) in steps {
                tokio::time::sleep(Duration::from_micros(sleep_us)).await;
                match limiter.check_n(["a", "b"][k], n).await {
                    Answer::Decided { decision, at } => {
                        prop_assert_eq!(decision, memory[k].check_n_at(n, at));
                    }
                    other => return Err(TestCaseError::fail(format!("{other:?}"))),
                }
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn gcra_replays() {
    // 1,000/s, burst 3: the sleeps both deny and refill.
    replay(
        || Gcra::<NS>::new(Quota::per_second(1_000).burst(3)).unwrap(),
        4,
    );
}

#[test]
fn token_bucket_replays() {
    replay(
        || TokenBucket::<NS>::new(Quota::per_second(500).burst(4), RefillMode::Interval).unwrap(),
        5,
    );
}

#[test]
fn windows_replay() {
    let five_ms = ratecore::Duration::<1_000>::from_ticks(5);
    replay(
        || FixedWindow::<NS>::new(Quota::with_period(4, five_ms)).unwrap(),
        5,
    );
    replay(
        || SlidingWindow::<NS>::new(Quota::with_period(4, five_ms)).unwrap(),
        5,
    );
}
