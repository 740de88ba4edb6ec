//! loom model of tiers per key: two threads check one key against two keyed
//! tables, all or nothing, while their charges and undos race.
//!
//! `RUSTFLAGS="--cfg loom" cargo test --release --test loom_keyed_tiers`
//!
//! For every interleaving: no tier admits more than its burst at one
//! instant, and every tier holds at least the units of the checks that were
//! admitted (an undo that lost a race keeps its charge: stricter, never
//! looser), and at most those plus the units of the denied checks.

#![cfg(loom)]

mod loom_support;

use loom::sync::Arc;
use loom::thread;
use ratecore::keyed::{KeyedTier, KeyedTiers, Plan, WhenFull};
use ratecore::{Duration, Gcra, KeyedLimiter, Quota};
use ratecore_testkit::at;

const HZ: u64 = 1_000;

type Table = KeyedLimiter<Gcra<HZ>, HZ, 2>;

fn table(burst: u32) -> Table {
    let gcra = Gcra::new(Quota::with_period(1, Duration::<HZ>::from_ticks(1_000)).burst(burst));
    KeyedLimiter::new([gcra.unwrap()], [5, 6], WhenFull::Deny)
}

/// Thread A wants 2 of each tier, thread B 1 of the first and 2 of the
/// second; the first tier holds 3 and the second 3, so they cannot both pass
/// the second tier: one of them is denied there, maybe after charging the
/// first tier, which it must undo.
#[test]
fn racing_tiers_charge_all_or_nothing() {
    loom_support::explore(3, || {
        let first = Arc::new(table(3));
        let second = Arc::new(table(3));
        let run = |first: Arc<Table>, second: Arc<Table>, costs: [u32; 2]| {
            let tiers = KeyedTiers::new([
                KeyedTier::new("first", &*first),
                KeyedTier::new("second", &*second),
            ]);
            tiers
                .check_costs_at(&1u8, Plan::FIRST, costs, at(0))
                .is_ok()
        };
        let (f, s) = (Arc::clone(&first), Arc::clone(&second));
        let racer = thread::spawn(move || run(f, s, [2, 2]));
        let b = run(Arc::clone(&first), Arc::clone(&second), [1, 2]);
        let a = racer.join().unwrap();

        let used = |table: &Table| 3 - table.snapshot_at(&1u8, Plan::FIRST, at(0)).remaining();
        let admitted = |costs: [u32; 2], ok: bool| if ok { costs } else { [0, 0] };
        let want = [admitted([2, 2], a), admitted([1, 2], b)];
        let (first_used, second_used) = (used(&first), used(&second));
        assert!(!(a && b), "both admitted: 4 units of a tier of 3");
        assert!(first_used >= want[0][0] + want[1][0] && first_used <= 3);
        assert!(second_used >= want[0][1] + want[1][1] && second_used <= 3);
    });
}
