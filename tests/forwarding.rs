//! A reference to an algorithm and a `WordLimiter` used as an algorithm (a
//! keyed table's plan) are that algorithm: every method of `Algorithm`,
//! the overridable `decider` and `idleness` too, reaches the inner
//! algorithm's own. A wrapper that fell back on a default would still
//! decide alike (the defaults are correct), only slower: `Gcra`'s decider
//! reads its configuration before the word, and its idleness computes the
//! instant's virtual time once for a keyed insertion's whole scan.

use std::sync::atomic::{AtomicU32, Ordering};

use ratecore::answer::Status;
use ratecore::kernel::{Algorithm, AtomicU64, Step, WordLimiter, WordRef};
use ratecore::{Duration, Gcra, Instant, Limiter, Quota};

const HZ: u64 = 1_000;

/// `Gcra`, counting the calls of its `decider` and its `idleness`.
struct Counting {
    inner: Gcra<HZ>,
    deciders: AtomicU32,
    idlenesses: AtomicU32,
}

impl Counting {
    fn new() -> Self {
        Self {
            inner: Gcra::new(Quota::per_second(1)).unwrap(),
            deciders: AtomicU32::new(0),
            idlenesses: AtomicU32::new(0),
        }
    }

    fn deciders(&self) -> u32 {
        self.deciders.load(Ordering::Relaxed)
    }

    fn idlenesses(&self) -> u32 {
        self.idlenesses.load(Ordering::Relaxed)
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

    fn idleness(&self, now: Instant<HZ>) -> impl Fn(u64) -> bool {
        self.idlenesses.fetch_add(1, Ordering::Relaxed);
        self.inner.idleness(now)
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

#[test]
fn a_reference_and_a_word_limiter_forward_the_idleness() {
    let counting = Counting::new();
    let by_reference = &counting;
    // One request per second: a state of 2 s is idle from 1 s on.
    let state = counting
        .decide(0, 1, Instant::from_ticks(1_000))
        .split()
        .1
        .unwrap();
    let idle = Algorithm::idleness(&by_reference, Instant::from_ticks(1_500));
    assert!(!idle(state));
    assert_eq!(counting.idlenesses(), 1);
    let limiter = WordLimiter::from_algorithm(Counting::new());
    let idle = Algorithm::idleness(&limiter, Instant::from_ticks(2_000));
    assert!(idle(state));
    assert_eq!(limiter.algorithm().idlenesses(), 1);
}

#[test]
fn a_keyed_insertion_builds_its_plan_s_idleness() {
    use ratecore::KeyedLimiter;
    use ratecore::keyed::{Plan, WhenFull};
    // One slot: "b" takes it from "a" once "a" is idle.
    let table: KeyedLimiter<Counting, HZ, 1> =
        KeyedLimiter::new([Counting::new()], [1, 2], WhenFull::Deny);
    assert!(
        table
            .check_at("a", Plan::FIRST, Instant::from_ticks(0))
            .is_ok()
    );
    let before = table.plans()[0].idlenesses();
    // Not idle yet at 0.5 s: the table is full.
    assert!(
        table
            .check_at("b", Plan::FIRST, Instant::from_ticks(500))
            .is_err()
    );
    assert!(
        table
            .check_at("b", Plan::FIRST, Instant::from_ticks(1_000))
            .is_ok()
    );
    assert!(table.plans()[0].idlenesses() > before);
}
