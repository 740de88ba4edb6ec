//! A reference to an algorithm and a `WordLimiter` used as an algorithm (a
//! keyed table's plan) are that algorithm: every method of `Algorithm`,
//! the overridable `decider` too, reaches the inner algorithm's own. A
//! wrapper that fell back on a default would still decide alike (the
//! defaults are correct), only slower: `Gcra`'s decider reads its
//! configuration before the word.

use std::sync::atomic::{AtomicU32, Ordering};

use ratecore::answer::Status;
use ratecore::kernel::{Algorithm, AtomicU64, Step, WordLimiter, WordRef};
use ratecore::{Duration, Gcra, Instant, Limiter, Quota};

const HZ: u64 = 1_000;

/// `Gcra`, counting the calls of its `decider`.
struct Counting {
    inner: Gcra<HZ>,
    deciders: AtomicU32,
}

impl Counting {
    fn new() -> Self {
        Self {
            inner: Gcra::new(Quota::per_second(1)).unwrap(),
            deciders: AtomicU32::new(0),
        }
    }

    fn deciders(&self) -> u32 {
        self.deciders.load(Ordering::Relaxed)
    }
}

impl Algorithm<HZ> for Counting {
    const NAME: &'static str = "counting";

    fn fingerprint(&self) -> u64 {
        self.inner.fingerprint()
    }

    fn decide(&self, state: u64, n: u32, now: Instant<HZ>) -> Step<HZ> {
        self.inner.decide(state, n, now)
    }

    fn decider(&self, n: u32, now: Instant<HZ>) -> impl Fn(u64) -> Step<HZ> {
        self.deciders.fetch_add(1, Ordering::Relaxed);
        self.inner.decider(n, now)
    }

    fn status(&self, state: u64, now: Instant<HZ>) -> Status<HZ> {
        self.inner.status(state, now)
    }

    fn refund(&self, state: u64, n: u32, now: Instant<HZ>) -> u64 {
        self.inner.refund(state, n, now)
    }

    fn idle_after(&self, state: u64, now: Instant<HZ>) -> Option<Duration<HZ>> {
        self.inner.idle_after(state, now)
    }
}

#[test]
fn a_reference_forwards_the_decider() {
    let counting = Counting::new();
    let now = Instant::from_ticks(0);
    let by_reference = &counting;
    let step = Algorithm::decider(&by_reference, 1, now)(0);
    assert_eq!(counting.deciders(), 1);
    assert_eq!(step, counting.decide(0, 1, now));
}

#[test]
fn a_word_on_a_reference_checks_with_the_inner_decider() {
    let counting = Counting::new();
    let reference = &counting;
    let word = AtomicU64::new(0);
    let limiter = WordRef::new(&word, &reference);
    let now = Instant::from_ticks(0);
    assert!(limiter.check_at(now).is_ok());
    assert!(limiter.check_at(now).is_err());
    assert_eq!(counting.deciders(), 2);
}

#[test]
fn a_word_limiter_forwards_the_decider() {
    let limiter = WordLimiter::from_algorithm(Counting::new());
    let now = Instant::from_ticks(0);
    let step = Algorithm::decider(&limiter, 1, now)(0);
    assert_eq!(step, limiter.algorithm().decide(0, 1, now));
    assert_eq!(limiter.algorithm().deciders(), 1);
}
