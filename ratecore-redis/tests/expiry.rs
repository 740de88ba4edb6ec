//! Expiry: a key vanishes exactly when its state is idle.
//!
//! - Property (pure): after any sequence of operations, a FRESH state
//!   decides exactly as the state would at every instant from the one its
//!   TTL (rounded up to whole ms) expires it at, for every later sequence.
//! - Real server: the TTLs Redis holds at 10,000/s and above are whole
//!   milliseconds rounded up and at least 1, keys vanish once idle, and a
//!   20,000/s limiter on the server's clock admits no more than its bound.

mod support;

use std::time::Duration;

use proptest::prelude::*;
use ratecore::kernel::Algorithm;
use ratecore::kernel::Step;
use ratecore::{
    ConcurrencyLimit, FixedWindow, Gcra, Instant, Quota, RefillMode, SlidingWindow, TokenBucket,
};
use ratecore_redis::{Answer, Config, RedisLimiter};
use support::{Recording, RedisServer};

/// Applies checks `(dt, n)` from `(state, t)`, returning every step.
fn run<A: Algorithm<HZ>, const HZ: u64>(
    a: &A,
    mut state: u64,
    mut t: u64,
    ops: &[(u64, u32)],
) -> (Vec<Step<HZ>>, u64, u64) {
    let mut steps = Vec::new();
    for &(dt, n) in ops {
        t += dt;
        let step = a.decide(state, n, Instant::from_ticks(t));
        if let Step::Store(next, _) = step {
            state = next;
        }
        steps.push(step);
    }
    (steps, state, t)
}

fn expired_state_decides_as_fresh<A: Algorithm<HZ>, const HZ: u64>(
    a: &A,
    before: &[(u64, u32)],
    after: &[(u64, u32)],
    extra: u64,
) -> Result<(), TestCaseError> {
    let t0 = 1_700_000_000 * HZ;
    let (_, state, t) = run(a, 0, t0, before);
    let Some(idle) = a.idle_after(state, Instant::from_ticks(t)) else {
        return Ok(()); // never expires by time (units in flight)
    };
    let ttl_ms = ratecore_ttl_ms::<HZ>(idle.as_ticks());
    prop_assert!(ttl_ms >= 1);
    // The key is gone from `t + ttl` on (Redis keeps it through that
    // instant; we check the stricter `>=`).
    let gone = t + (ttl_ms as u128 * HZ as u128).div_ceil(1_000) as u64 + extra;
    let (kept, _, _) = run(a, state, gone, after);
    let (fresh, _, _) = run(a, 0, gone, after);
    prop_assert_eq!(kept, fresh);
    Ok(())
}

/// The crate's TTL rule, restated: whole ms rounded up, at least 1.
fn ratecore_ttl_ms<const HZ: u64>(ticks: u64) -> u64 {
    ((ticks as u128 * 1_000).div_ceil(HZ as u128) as u64).max(1)
}

fn ops(max_n: u32, span: u64) -> impl Strategy<Value = Vec<(u64, u32)>> {
    prop::collection::vec((prop_oneof![Just(0), 0..span], 0..=max_n), 0..30)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn gcra_expiry(before in ops(6, 300), after in ops(6, 300), extra in 0..2_000u64) {
        let a = Gcra::<1_000>::new(Quota::per_second(10).burst(5)).unwrap();
        expired_state_decides_as_fresh(&a, &before, &after, extra)?;
        let fast = Gcra::<1_000_000_000>::new(Quota::per_second(50_000).burst(7)).unwrap();
        expired_state_decides_as_fresh(&fast, &before, &after, extra)?;
    }

    #[test]
    fn token_bucket_expiry(before in ops(6, 700), after in ops(6, 700), extra in 0..2_000u64) {
        for mode in [RefillMode::Greedy, RefillMode::Interval] {
            let a = TokenBucket::<1_000>::new(Quota::per_second(3).burst(5), mode).unwrap();
            expired_state_decides_as_fresh(&a, &before, &after, extra)?;
        }
    }

    #[test]
    fn window_expiry(before in ops(6, 700), after in ops(6, 700), extra in 0..2_000u64) {
        let a = FixedWindow::<1_000>::new(Quota::per_second(5)).unwrap();
        expired_state_decides_as_fresh(&a, &before, &after, extra)?;
        let b = SlidingWindow::<1_000>::new(Quota::per_second(5)).unwrap();
        expired_state_decides_as_fresh(&b, &before, &after, extra)?;
        let c = SlidingWindow::<1_000_000>::new(Quota::per_second(2_000)).unwrap();
        expired_state_decides_as_fresh(&c, &before, &after, extra)?;
    }

    #[test]
    fn concurrency_expiry(before in ops(4, 10), after in ops(4, 10)) {
        let a = ConcurrencyLimit::new(4).unwrap();
        expired_state_decides_as_fresh::<_, 1_000>(&a, &before, &after, 0)?;
    }
}

fn pttl(server: &RedisServer, key: &str) -> i64 {
    let reply = server.command(&["PTTL", key]).unwrap();
    reply.trim().trim_start_matches(':').parse().unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn ttls_at_10k_per_second_and_above_round_up_to_whole_ms() {
    let server = RedisServer::start();
    let config = || {
        Config::new("ttl")
            .deny_cache(None)
            .time_budget(std::time::Duration::from_secs(5))
    };
    let gcra = |per_second, burst| {
        Gcra::<1_000_000_000>::new(Quota::per_second(per_second).burst(burst)).unwrap()
    };
    // (rate, burst, units, expected TTL in ms)
    let cases = [
        (10_000, 1, 1, 1),          // idle after 100 us
        (1_000_000, 1_000, 500, 1), // idle after 500 us
        (12_000, 100, 30, 3),       // idle after 2.5 ms
        (100, 10, 10, 100),         // idle after 100 ms
        (30_000, 10, 10, 1),        // idle after 333.33 us
    ];
    let mut keys = Vec::new();
    for (i, &(rate, burst, n, expected)) in cases.iter().enumerate() {
        let store = Recording::new(support::store(&server));
        let limiter = RedisLimiter::new(gcra(rate, burst), store.clone(), config());
        let key = format!("k{i}");
        assert!(limiter.check_n(&key, n).await.is_admitted());
        assert_eq!(store.last_ttl(), Some(expected), "{rate}/s");
        let held = pttl(&server, &limiter.key(&key));
        // -2: already expired (a 1 ms TTL can run out before PTTL arrives).
        assert!(
            held == -2 || (0..=expected as i64).contains(&held),
            "PTTL {held}"
        );
        keys.push(limiter.key(&key));
    }
    // Idle keys vanish.
    tokio::time::sleep(Duration::from_millis(150)).await;
    for key in keys {
        assert_eq!(pttl(&server, &key), -2, "{key} still exists");
    }
    // A concurrency limit holding units never expires by time; released, it does.
    let k = RedisLimiter::<_, 1_000, _>::new(
        ConcurrencyLimit::new(2).unwrap(),
        support::store(&server),
        config(),
    );
    assert!(k.check("e").await.is_admitted());
    assert_eq!(pttl(&server, &k.key("e")), -1);
    k.refund("e", 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(pttl(&server, &k.key("e")), -2);
}

#[tokio::test(flavor = "current_thread")]
async fn twenty_thousand_per_second_on_the_servers_clock_stays_in_bounds() {
    // redis-cell and redis_rate truncate TTLs to whole ms and compute in
    // doubles; at 20,000/s that breaks. Here: exact, on the server's clock.
    let server = RedisServer::start();
    let gcra = Gcra::<1_000_000_000>::new(Quota::per_second(20_000).burst(5)).unwrap();
    let limiter = RedisLimiter::new(
        gcra,
        support::store(&server),
        Config::new("fast")
            .deny_cache(None)
            .time_budget(std::time::Duration::from_secs(5)),
    );
    let t0 = server.time_ns();
    let mut admitted = 0u64;
    let mut first = None;
    let mut last = 0;
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(300) {
        match limiter.check("k").await {
            Answer::Decided { decision, at } => {
                first.get_or_insert(at.as_ticks());
                last = at.as_ticks();
                admitted += u64::from(decision.is_ok());
            }
            other => panic!("{other:?}"),
        }
    }
    let t1 = server.time_ns();
    let first = first.unwrap();
    assert!(t0 <= first && last <= t1);
    // GCRA: at most burst + span / T in any span (T = 50 us).
    let bound = 5 + (last - first) / 50_000;
    assert!(admitted <= bound, "{admitted} > {bound}");
    assert!(admitted > 0);
}
