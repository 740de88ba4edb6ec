//! loom models of `KeyedLimiter::reconfigure_at` racing checks: the walk's
//! compare-and-swap on each slot against a check's, an insertion's
//! reservation and promotion against the route's change, and the latest
//! instant a check was made at against the walk that carries its state.
//!
//! `RUSTFLAGS="--cfg loom" cargo test --release --test loom_keyed_reconfigure`
//!
//! Under every interleaving, what the check answered, the configuration the
//! change replaced, and the key's state afterwards (its status at a few
//! instants) are those of one of the two sequential orders, replayed on a
//! fresh table: no check decides under one configuration and stores under
//! another, no key inserted during a change stays under the old one, and a
//! change made at a stale instant counts units at the check's later one.

#![cfg(loom)]

use loom::{sync::Arc, thread};
use ratecore::kernel::Carry;
use ratecore::keyed::{KeyedDecision, Plan, WhenFull};
use ratecore::{Duration, Gcra, Instant, KeyedLimiter, Quota};

const HZ: u64 = 1_000;
type Table = KeyedLimiter<Gcra<HZ>, HZ, 2, 2>;
const PLAN: Plan<2> = Plan::FIRST;

fn at(ticks: u64) -> Instant<HZ> {
    Instant::<HZ>::from_ticks(ticks)
}

/// Configuration 0: one unit per second, burst 3; configuration 1: ten
/// per second, burst 2.
fn fresh() -> Table {
    let per = |ms, burst| {
        Gcra::new(Quota::with_period(1, Duration::<HZ>::from_ticks(ms)).burst(burst)).unwrap()
    };
    KeyedLimiter::new([per(1_000, 3), per(100, 2)], [5, 6], WhenFull::Deny)
}

/// What one run shows: the check's answer, the configuration replaced, and
/// the key's remaining units at a few instants, with the plan's route.
type Outcome = (KeyedDecision<HZ>, usize, Vec<u32>, usize);

/// The instants follow each race's change (at 0, 500 or 1,000) closely:
/// configuration 1 earns a unit back every 100 ms, so a unit carried at 500
/// is gone by 1,000, and a lost update of the check at 500 showed nowhere
/// when the instants began at 1,000.
fn outcome(table: &Table, checked: KeyedDecision<HZ>, replaced: usize) -> Outcome {
    let remaining = [0, 500, 550, 600, 1_000, 1_050, 1_100, 2_000]
        .iter()
        .map(|&t| table.snapshot_at(&7u32, PLAN, at(t)).remaining())
        .collect();
    (checked, replaced, remaining, table.configuration(PLAN))
}

/// Races `check(n, check_at)` of key 7 with a change of its plan to
/// configuration 1 at `change_at`, after `before` units of key 7 at 0.
fn race(before: u32, n: u32, check_at: u64, change_at: u64) {
    let setup = move |table: &Table| {
        if before > 0 {
            table.check_n_at(&7u32, PLAN, before, at(0)).unwrap();
        }
    };
    let check = move |table: &Table| table.check_n_at(&7u32, PLAN, n, at(check_at));
    let change = move |table: &Table| {
        table
            .reconfigure_at(PLAN, 1, Carry::InUse, at(change_at))
            .unwrap()
    };
    // Every interleaving, without a preemption bound: the table has two
    // slots and each thread a few steps, so that is 58 executions for a
    // check of a live key and about 1,400 for an insertion, a tenth of a
    // second (a bound of 3 explored 30 and 131).
    loom::model(move || {
        let table = Arc::new(fresh());
        setup(&table);
        let other = Arc::clone(&table);
        let changer = thread::spawn(move || change(&other));
        let checked = check(&table);
        let replaced = changer.join().unwrap();
        let seen = outcome(&table, checked, replaced);

        let orders: Vec<Outcome> = [true, false]
            .iter()
            .map(|&check_first| {
                let replay = fresh();
                setup(&replay);
                let (checked, replaced) = if check_first {
                    let checked = check(&replay);
                    (checked, change(&replay))
                } else {
                    let replaced = change(&replay);
                    (check(&replay), replaced)
                };
                outcome(&replay, checked, replaced)
            })
            .collect();
        assert!(
            orders.contains(&seen),
            "{seen:?} is neither sequential order {orders:?}"
        );
    });
}

/// A new key is inserted while its plan changes.
#[test]
fn an_insertion_races_a_change() {
    race(0, 2, 0, 0);
}

/// A key's check races the walk's carry of its state.
#[test]
fn a_check_races_a_carry() {
    race(1, 1, 500, 500);
}

/// The change's instant is stale: the check at 1,000 must be counted
/// there, whichever lands first.
#[test]
fn a_stale_change_races_a_later_check() {
    race(1, 1, 1_000, 0);
}
