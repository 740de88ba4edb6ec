//! One check of one unit: ratecore's limiters against a bare atomic and the
//! other limiter crates, in the same run. See `src/lib.rs` for the harness and
//! its fairness rules, and the README's "Performance" section for results.
//!
//! What each contender does per call (clock-free groups, `check/...`):
//!
//! - `AtomicU64::fetch_add`: one relaxed atomic read-modify-write, the floor
//!   of any check that writes shared state; `AtomicU64::load` (deny groups
//!   only): one relaxed load, the floor of a check that writes nothing.
//! - `hand-written GCRA`: the least a GCRA check can do
//!   (`ratecore_bench::hand_gcra`): one relaxed load, `max`, an add and a
//!   compare, one `compare_exchange_weak` when admitted; its interval and tau
//!   read from memory, no scale, no horizon, and a `bool` for an answer. The
//!   time floor of the GCRA contenders.
//! - `ratecore::*`: `check_n_at(1, now)` with `now` as an argument: one
//!   relaxed load, the decision, one `compare_exchange_weak` when admitted,
//!   nothing written when denied. Its answer carries `limit`, `remaining` and
//!   `reset_after` (and `retry_after` on a denial), which costs integer
//!   divisions; the `(is_ok only)` variant drops the answer and lets the
//!   compiler remove what is not used, to show what those fields cost.
//! - `ratecore::PackedGcra`: `Gcra`'s decisions from a 16-byte
//!   configuration (24 bytes with its word), unpacked on every check.
//! - `ratecore::PaddedWordLimiter`: the same `Gcra` check with the state
//!   word alone on its cache line (opt-in, 256 bytes), so that two threads'
//!   compare-and-swaps do not take the configuration's line from each other.
//! - `governor`: a direct `RateLimiter` with its `FakeRelativeClock` (no real
//!   clock read: one relaxed atomic load behind an `Arc`), `check()`: GCRA on
//!   one `AtomicU64`, an acquire load and a `compare_exchange_weak` when
//!   admitted, nothing written when denied. Its default middleware answers
//!   `Ok(())`, or on a denial a snapshot from which the wait is computed
//!   later, on demand; `+StateInformation` is the middleware that reports
//!   the remaining burst, as ratecore's `remaining` does.
//! - `ratelimit`: `try_wait()` with a `Clock` of ours that returns a fixed
//!   (opaque) `Duration`, the cheapest it allows. Per call: relaxed loads of
//!   the rate, capacity and period, a refill step (loads of the last refill
//!   time; the refill itself is skipped when less than 1 µs passed, as here),
//!   then a compare-and-swap loop on the token count (acquire/acq-rel) when
//!   admitted, or a 128-bit division for the wait when denied.
//! - `better-bucket`: `BucketCore::acquire_at(1, now)` with `now` as a
//!   `core::time::Duration` argument (no clock): a 64x64-bit multiply to
//!   convert the time, one relaxed load, one `compare_exchange_weak` when
//!   admitted; on a denial nothing is written and the wait is computed with
//!   128-bit divisions.
//!
//! Keyed tables have a bench of their own (`benches/keyed.rs`), beside
//! governor's keyed limiter.
//!
//! The `check_with_clock/...` group reads a real clock on every call, as
//! each crate does by default, and includes the clock reads alone.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ratecore::clock::MonotonicClock;

use ratecore::algorithms::{GcraConfig, PackedGcra};
use ratecore::kernel::PaddedWordLimiter;
use ratecore::{
    Clock, FixedWindow, Gcra, Limiter, Quota, RefillMode, SlidingWindow, Tiers, TokenBucket,
    algorithms::SharedSlidingLog, compose::Tier, time::NANOS,
};
use ratecore_bench::{
    Contender, HandGcra, NOW_NANOS, Shape, at, bench_matrix, floor, limiter, only,
};

/// The shape's quota in ratecore's terms.
fn quota(shape: Shape) -> Quota {
    shape.quota()
}

/// The shape's quota in governor's terms: one unit per `period / count`.
fn governor_quota(shape: Shape) -> governor::Quota {
    let burst = NonZeroU32::new(shape.burst()).expect("non-zero burst");
    governor::Quota::with_period(shape.period() / shape.count())
        .expect("non-zero period")
        .allow_burst(burst)
}

type Governor = governor::RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    governor::clock::FakeRelativeClock,
    governor::middleware::NoOpMiddleware<governor::nanos::Nanos>,
>;

fn governor(shape: Shape) -> Governor {
    let clock = governor::clock::FakeRelativeClock::default();
    let limiter = Governor::direct_with_clock(governor_quota(shape), clock.clone());
    clock.advance(Duration::from_nanos(NOW_NANOS));
    limiter
}

/// ratelimit's cheapest clock: a fixed time the optimizer cannot see through.
struct FixedClock;

impl ratelimit::Clock for FixedClock {
    fn elapsed(&self) -> Duration {
        Duration::from_nanos(black_box(NOW_NANOS))
    }
}

fn ratelimit_with<C: ratelimit::Clock>(shape: Shape, clock: C) -> ratelimit::Ratelimiter<C> {
    ratelimit::Builder::with_clock(u64::from(shape.count()), clock)
        .period(shape.period())
        .max_tokens(u64::from(shape.burst()))
        .initial_available(u64::from(shape.initial()))
        .build()
        .expect("valid ratelimit configuration")
}

fn better_bucket(shape: Shape) -> better_bucket::BucketCore {
    let config = better_bucket::BucketConfig::new(
        shape.burst(),
        shape.count(),
        shape.period(),
        shape.initial(),
    )
    .expect("valid better-bucket configuration");
    better_bucket::BucketCore::new(config, Duration::ZERO)
}

/// A window limiter's quota for the shape: windows take no burst, so the
/// admit shape is a limit that no sample (nor criterion's warm-up, which
/// grows to tens of millions of checks) reaches, and the deny shape is the
/// same 1 per hour.
fn window_quota(shape: Shape, admit: Quota) -> Quota {
    if shape.admits() {
        admit
    } else {
        Quota::per_hour(1)
    }
}

/// The exact log cannot admit more than its `N` entries at one instant, so
/// its admit shape moves time: 1,000 per second with one check every 2 ms (a
/// half-full log in steady state, evicting one entry per check, with room
/// for two threads' checks arriving out of order; each call includes the
/// `fetch_add` of that simulated clock). Its deny shape is the same 1 per
/// hour at one instant.
struct Log {
    log: SharedSlidingLog<NANOS, 1_024>,
    clock: AtomicU64,
    step: u64,
}

fn log(shape: Shape) -> Log {
    let (quota, step) = if shape.admits() {
        (Quota::per_second(1_000), 2_000_000)
    } else {
        (Quota::per_hour(1), 0)
    };
    let log = SharedSlidingLog::new(quota).unwrap();
    Log {
        log,
        clock: AtomicU64::new(NOW_NANOS),
        step,
    }
}

fn log_check(l: &Log, _now: u64) -> bool {
    let now = l.clock.fetch_add(l.step, Ordering::Relaxed);
    black_box(l.log.check_at(at(now))).is_ok()
}

/// The sliding counter's admit quota: its largest limit over a 3,650-day
/// window (the limit its one-word encoding allows grows with the window's
/// length): 2^30 - 1. Every check of a sample lands in one window, so a
/// sample must make fewer: a 30-day window's 2^26 - 1 was within reach of
/// criterion's last warm-up batch once a check took 12 ns.
fn sliding_admit() -> Quota {
    let window = ratecore::Duration::<NANOS>::from_ticks(3_650 * 86_400 * 1_000_000_000);
    let limit = SlidingWindow::<NANOS>::max_limit(Quota::with_period(1, window)).unwrap();
    Quota::with_period(limit, window)
}

/// Two `Gcra` tiers ("per second and per day") over the shape's quota: an
/// all-or-nothing check peeks both, then charges both.
fn two_tiers(shape: Shape) -> Tiers<'static, NANOS, 2> {
    let first: &'static Gcra<NANOS> = Box::leak(Box::new(Gcra::new(quota(shape)).unwrap()));
    let second: &'static Gcra<NANOS> = Box::leak(Box::new(Gcra::new(quota(shape)).unwrap()));
    Tiers::new([Tier::new("first", first), Tier::new("second", second)])
}

/// The same two tiers, of one type (`Tier::of`): no call through `dyn Charge`.
fn two_typed_tiers(shape: Shape) -> Tiers<'static, NANOS, 2, Gcra<NANOS>> {
    let first: &'static Gcra<NANOS> = Box::leak(Box::new(Gcra::new(quota(shape)).unwrap()));
    let second: &'static Gcra<NANOS> = Box::leak(Box::new(Gcra::new(quota(shape)).unwrap()));
    Tiers::new([Tier::of("first", first), Tier::of("second", second)])
}

/// Time as an argument (or the cheapest clock a crate allows).
#[rustfmt::skip] // one contender per line: a table, kept readable
fn clock_free() -> Vec<Box<dyn Contender>> {
    use Ordering::Relaxed;
    vec![
        floor("AtomicU64::fetch_add", Shape::ALL, |_| AtomicU64::new(0), |a, _| black_box(a.fetch_add(1, Relaxed)) < u64::MAX),
        floor("AtomicU64::load", &[Shape::Deny], |_| AtomicU64::new(0), |a, _| black_box(a.load(Relaxed)) < u64::MAX),
        limiter("hand-written GCRA", HandGcra::new, |l, now| black_box(l.check(now))),
        limiter("ratecore::Gcra", |s| Gcra::<NANOS>::new(quota(s)).unwrap(), |l, now| black_box(l.check_n_at(1, at(now))).is_ok()),
        limiter("ratecore::Gcra (is_ok only)", |s| Gcra::<NANOS>::new(quota(s)).unwrap(), |l, now| l.check_n_at(1, at(now)).is_ok()),
        limiter("ratecore::PackedGcra", |s| PackedGcra::<NANOS>::new(quota(s)).unwrap(), |l, now| black_box(l.check_n_at(1, at(now))).is_ok()),
        limiter("ratecore::PaddedWordLimiter<GcraConfig> (word on its own cache line)", |s| PaddedWordLimiter::from_algorithm(GcraConfig::<NANOS>::new(quota(s)).unwrap()), |l, now| black_box(l.check_n_at(1, at(now))).is_ok()),
        limiter("ratecore::TokenBucket greedy", |s| TokenBucket::<NANOS>::new(quota(s), RefillMode::Greedy).unwrap(), |l, now| black_box(l.check_n_at(1, at(now))).is_ok()),
        limiter("ratecore::TokenBucket interval", |s| TokenBucket::<NANOS>::new(quota(s), RefillMode::Interval).unwrap(), |l, now| black_box(l.check_n_at(1, at(now))).is_ok()),
        only(Shape::ADMIT_DENY, limiter("ratecore::FixedWindow", |s| FixedWindow::<NANOS>::new(window_quota(s, Quota::per_hour(u32::MAX))).unwrap(), |l, now| black_box(l.check_n_at(1, at(now))).is_ok())),
        only(Shape::ADMIT_DENY, limiter("ratecore::SlidingWindow", |s| SlidingWindow::<NANOS>::new(window_quota(s, sliding_admit())).unwrap(), |l, now| black_box(l.check_n_at(1, at(now))).is_ok())),
        only(Shape::ADMIT_DENY, limiter("ratecore::algorithms::SharedSlidingLog (N = 1,024)", log, log_check)),
        limiter("ratecore::Tiers (2 x Gcra)", two_tiers, |l, now| black_box(l.check_tiered_n_at(1, at(now))).is_ok()),
        limiter("ratecore::Tiers (2 x Gcra, one type)", two_typed_tiers, |l, now| black_box(l.check_tiered_n_at(1, at(now))).is_ok()),
        limiter("governor", governor, |l, _| black_box(l.check()).is_ok()),
        limiter("governor +StateInformation", |s| governor(s).with_middleware::<governor::middleware::StateInformationMiddleware>(), |l, _| black_box(l.check()).is_ok()),
        limiter("ratelimit", |s| ratelimit_with(s, FixedClock), |l, _| black_box(l.try_wait()).is_ok()),
        limiter("better-bucket", better_bucket, |l, now| black_box(l.acquire_at(1, Duration::from_nanos(now))).is_allowed()),
    ]
}

/// Each crate reading a real clock on every call, and the clock reads alone.
#[rustfmt::skip] // one contender per line
fn with_clock() -> Vec<Box<dyn Contender>> {
    vec![
        floor("std Instant::elapsed", Shape::ALL, |_| std::time::Instant::now(), |t, _| black_box(t.elapsed()) > Duration::ZERO),
        floor("ratecore MonotonicClock::now", Shape::ALL, |_| MonotonicClock::<NANOS>::new(), |c, _| black_box(c.now()).as_ticks() > 0),
        limiter("ratecore::Gcra + MonotonicClock", |s| (Gcra::<NANOS>::new(quota(s)).unwrap(), MonotonicClock::<NANOS>::new()), |(l, c), _| black_box(l.check(c)).is_ok()),
        limiter("governor + QuantaClock (its default)", |s| governor::RateLimiter::direct(governor_quota(s)), |l, _| black_box(l.check()).is_ok()),
        limiter("ratelimit + StdClock (its default)", |s| ratelimit_with(s, ratelimit::StdClock::new()), |l, _| black_box(l.try_wait()).is_ok()),
        limiter("better-bucket + Instant::elapsed", |s| (better_bucket(s), std::time::Instant::now()), |(l, t), _| black_box(l.acquire_at(1, t.elapsed())).is_allowed()),
    ]
}

fn benches(c: &mut Criterion) {
    bench_matrix(c, "check", Shape::ALL, &[1, 2], &clock_free());
    bench_matrix(c, "check_with_clock", &[Shape::Admit], &[1], &with_clock());
}

criterion_group!(check, benches);
criterion_main!(check);
