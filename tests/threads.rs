//! Real threads, a real clock: the stale-reading test (ARCHITECTURE.md, verification).
//!
//! Several threads hammer one limiter through the real [`MonotonicClock`].
//! Each reads the clock and then checks, so a thread often checks with an
//! instant older than one another thread already wrote into the state (it
//! read the clock, then lost the race). Such stale readings may only make
//! decisions stricter: over the whole run the units admitted never exceed
//! `burst + rate * elapsed`, with `elapsed` measured from before the first
//! clock reading to after the last. That is a correctness bound on the count,
//! not a timing assertion: it holds however slowly or unevenly the threads run.
#![cfg(feature = "std")]

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use ratecore::clock::MonotonicClock;
use ratecore::{Clock, Duration, Gcra, Limiter, Quota, RefillMode, TokenBucket, time::NANOS};

const THREADS: u64 = 4;
const ITERATIONS: u64 = 20_000;

/// Runs the threads; returns the units admitted and the instants bracketing
/// every clock reading taken by the threads.
fn hammer<L: Limiter<NANOS> + Sync>(limiter: &L, clock: &MonotonicClock<NANOS>) -> (u64, u64, u64) {
    let admitted = AtomicU64::new(0);
    let t0 = clock.now().as_ticks();
    thread::scope(|scope| {
        for id in 0..THREADS {
            let admitted = &admitted;
            scope.spawn(move || {
                for i in 0..ITERATIONS {
                    // 1, 2 or 3 units: multi-unit checks lose races differently.
                    let n = u32::try_from((id + i) % 3 + 1).unwrap();
                    let now = clock.now();
                    if i % 64 == 0 {
                        // Widen the window between reading the clock and
                        // checking, so stale readings are common.
                        thread::yield_now();
                    }
                    if limiter.check_n_at(n, now).is_ok() {
                        // Relaxed: a counter read only after the scope joins.
                        admitted.fetch_add(u64::from(n), Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let t1 = clock.now().as_ticks();
    // Relaxed: the scope's join orders every increment before this load.
    (admitted.load(Ordering::Relaxed), t0, t1)
}

/// Hammers `limiter` and checks the units admitted against `bound(t0, t1)`,
/// the quota's allowance between the first and the last clock reading, and
/// against the burst of 20 every test's limiter starts with.
fn hammer_within<L: Limiter<NANOS> + Sync>(limiter: &L, bound: impl Fn(u64, u64) -> u64) {
    let clock = MonotonicClock::<NANOS>::new();
    let (admitted, t0, t1) = hammer(limiter, &clock);
    let bound = bound(t0, t1);
    assert!(
        admitted <= bound,
        "admitted {admitted} units in {} ns; the quota allows {bound}",
        t1 - t0
    );
    assert!(admitted >= 20, "the first checks find a full limiter");
}

#[test]
fn gcra_never_admits_more_than_the_quota_allows() {
    // 10 units per millisecond (T = 100 us = 100,000 ns), burst 20.
    let limiter =
        Gcra::<NANOS>::new(Quota::with_period(10, Duration::<1_000>::from_ticks(1)).burst(20))
            .unwrap();
    // burst + (t1 - t0) / T, in whole units.
    hammer_within(&limiter, |t0, t1| 20 + (t1 - t0) / 100_000);
}

#[test]
fn greedy_bucket_never_admits_more_than_the_quota_allows() {
    let limiter = TokenBucket::<NANOS>::new(
        Quota::with_period(10, Duration::<1_000>::from_ticks(1)).burst(20),
        RefillMode::Greedy,
    )
    .unwrap();
    hammer_within(&limiter, |t0, t1| 20 + (t1 - t0) / 100_000);
}

#[test]
fn interval_bucket_never_admits_more_than_the_quota_allows() {
    // 10 tokens at every multiple of 100 us, at most 20 saved up.
    const PERIOD: u64 = 100_000;
    let limiter = TokenBucket::<NANOS>::new(
        Quota::with_period(10, Duration::<1_000_000>::from_ticks(100)).burst(20),
        RefillMode::Interval,
    )
    .unwrap();
    // burst + count * (refills at multiples of the period in (t0, t1]).
    hammer_within(&limiter, |t0, t1| 20 + 10 * (t1 / PERIOD - t0 / PERIOD));
}
