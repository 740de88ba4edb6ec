//! loom models of the composition types: every interleaving (and every
//! value a weak memory model lets a load see) of the real code.
//!
//! `RUSTFLAGS="--cfg loom" cargo test --release --test loom_composition`
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use ratecore::{ConcurrencyLimit, Gcra, Instant, Limiter, Quota, Tiers, compose::Tier};

const HZ: u64 = 1_000;

fn t0() -> Instant<HZ> {
    Instant::<HZ>::from_ticks(0)
}

/// Two threads each try once to take the only unit of a limit of 1 and, if
/// they get it, increment a counter with a plain (relaxed) load and store:
/// an update that is lost unless the first holder's section happens-before
/// the second's. So the permit must order holders like a lock, and every
/// unit must come back.
#[test]
fn concurrency_limit_orders_its_holders() {
    loom::model(|| {
        let limit = Arc::new(ConcurrencyLimit::new(1).unwrap());
        let data = Arc::new(AtomicUsize::new(0));
        let worker = |limit: Arc<ConcurrencyLimit>, data: Arc<AtomicUsize>| {
            move || match limit.try_acquire(1) {
                Ok(permit) => {
                    assert_eq!(limit.active(), 1);
                    let seen = data.load(Ordering::Relaxed);
                    data.store(seen + 1, Ordering::Relaxed);
                    drop(permit);
                    1
                }
                Err(busy) => {
                    assert_eq!((busy.active, busy.limit), (1, 1));
                    0
                }
            }
        };
        let other = thread::spawn(worker(limit.clone(), data.clone()));
        let mine = worker(limit.clone(), data.clone())();
        let theirs = other.join().unwrap();
        assert!(mine + theirs >= 1);
        assert_eq!(data.load(Ordering::Relaxed), mine + theirs);
        assert_eq!(limit.active(), 0);
    });
}

/// Two units among two threads asking for one each, and then one more: at
/// most two in flight at any time, and all released.
#[test]
fn concurrency_limit_never_exceeds_its_limit() {
    loom::model(|| {
        let limit = Arc::new(ConcurrencyLimit::new(2).unwrap());
        let l = limit.clone();
        let other = thread::spawn(move || {
            let first = l.try_acquire(1);
            let second = l.try_acquire(1);
            assert!(l.active() <= 2);
            (first.is_ok() as u32) + (second.is_ok() as u32)
        });
        let permit = limit.try_acquire(2);
        assert!(limit.active() <= 2);
        drop(permit);
        let _ = other.join().unwrap();
        assert_eq!(limit.active(), 0);
    });
}

/// Two tiered checks race for the last unit of the scarcer tier: exactly one
/// is admitted, and no tier keeps a charge of the other. Mostly the loser is
/// refused at the scarcest tier before it charged anything; but a peek may
/// read a stale state (one tier's new state, the other's old), order the
/// tiers the other way, charge the first and be refused at the second: that
/// rollback is exact (loom reaches it: with a no-op undo this test fails).
#[test]
fn two_tiers_race_for_the_last_unit() {
    loom::model(|| {
        let minute = Arc::new(Gcra::<HZ>::new(Quota::per_second(1).burst(2)).unwrap());
        let day = Arc::new(Gcra::<HZ>::new(Quota::per_second(1).burst(1)).unwrap());
        let check = |minute: Arc<Gcra<HZ>>, day: Arc<Gcra<HZ>>| {
            move || {
                let tiers = Tiers::new([Tier::new("minute", &*minute), Tier::new("day", &*day)]);
                tiers.check_tiered_n_at(1, t0())
            }
        };
        let other = thread::spawn(check(minute.clone(), day.clone()));
        let mine = check(minute.clone(), day.clone())();
        let theirs = other.join().unwrap();
        assert_eq!(mine.is_ok() as u32 + theirs.is_ok() as u32, 1);
        let denied = mine.err().or(theirs.err()).unwrap();
        assert_eq!(denied.name, "day");
        assert_eq!(minute.snapshot_at(t0()).remaining(), 1);
        assert_eq!(day.snapshot_at(t0()).remaining(), 0);
    });
}

/// Outcomes seen across the executions of a model (loom runs them one after
/// another, so plain std atomics can count them): exact rollbacks after a
/// race on b, and kept units.
type Seen = std::sync::Arc<[std::sync::atomic::AtomicUsize; 2]>;

/// A tiered check of 1 unit over tiers a and b (burst 2 each), while another
/// caller takes both units of b and then `on_a` units of a. If b denies the
/// tiered check after it charged a (the scarcer-first order is a then b on
/// a tie), its rollback of a is exact unless the other caller's check on a
/// was admitted on top of the charge; only then does a keep the unit
/// (stricter), and never fewer units are counted than were admitted.
fn double_race(on_a_cost: u32, seen: &Seen) {
    let a = Arc::new(Gcra::<HZ>::new(Quota::per_second(1).burst(2)).unwrap());
    let b = Arc::new(Gcra::<HZ>::new(Quota::per_second(1).burst(2)).unwrap());
    let (a2, b2) = (a.clone(), b.clone());
    let other = thread::spawn(move || {
        let on_b = b2.check_n_at(2, t0()).is_ok();
        let on_a = a2.check_n_at(on_a_cost, t0()).is_ok();
        (on_b, on_a)
    });
    let tiers = Tiers::new([Tier::new("a", &*a), Tier::new("b", &*b)]);
    let tiered = tiers.check_tiered_n_at(1, t0());
    let (on_b, on_a) = other.join().unwrap();

    let used = |l: &Gcra<HZ>| 2 - l.snapshot_at(t0()).remaining();
    let admitted_a = tiered.is_ok() as u32 + on_a as u32 * on_a_cost;
    let admitted_b = tiered.is_ok() as u32 + 2 * on_b as u32;
    assert!(admitted_b <= 2 && admitted_a <= 2);
    assert_eq!(
        used(&b),
        admitted_b,
        "b is never rolled back under another caller"
    );
    if used(&a) == admitted_a {
        if tiered.is_err() && on_b {
            seen[0].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    } else {
        // The kept unit of the double race: only after a denial, and only
        // if the other caller's check on a was admitted.
        assert!(
            tiered.is_err() && on_a,
            "a kept a charge without a double race"
        );
        assert_eq!(used(&a), admitted_a + 1);
        seen[1].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Explores every execution of the double race and returns how often each
/// outcome was seen: `[exact rollbacks after a race on b, kept units]`.
fn explore_double_race(on_a_cost: u32) -> [usize; 2] {
    let seen = Seen::default();
    let counts = seen.clone();
    loom::model(move || double_race(on_a_cost, &counts));
    seen.each_ref()
        .map(|n| n.load(std::sync::atomic::Ordering::Relaxed))
}

#[test]
fn two_tiers_roll_back_under_a_racing_caller() {
    let [exact, kept] = explore_double_race(1);
    // Both outcomes were reached: the model explores the double race.
    assert!(exact > 0);
    assert!(kept > 0);
}

/// With the other caller asking for both units of a, nothing can land on top
/// of the tiered check's charge of a: every rollback is exact.
#[test]
fn two_tiers_roll_back_exactly_when_nothing_lands_on_top() {
    let [exact, kept] = explore_double_race(2);
    assert!(exact > 0);
    assert_eq!(kept, 0);
}
