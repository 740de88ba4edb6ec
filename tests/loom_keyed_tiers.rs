//! loom models of tiers per key: two threads check one key against two keyed
//! tables, all or nothing, while their charges and undos race; and a tiered
//! check whose key is reclaimed in one table by another key's check, which
//! may land between the tier's peek and the charge that starts from the
//! peek's look-up.
//!
//! `RUSTFLAGS="--cfg loom" cargo test --release --test loom_keyed_tiers`
//!
//! For every interleaving: no tier admits more than its burst at one
//! instant, and every tier holds at least the units of the checks that were
//! admitted (an undo that lost a race keeps its charge: stricter, never
//! looser), and at most those plus the units of the denied checks; a slot
//! taken by another key is never charged for the tiered key, and a refused
//! tiered check leaves no charge behind when nothing raced its undo.

#![cfg(loom)]

mod loom_support;

use loom::sync::Arc;
use loom::thread;
use ratecore::keyed::{KeyedTier, KeyedTiers, Plan, WhenFull};
use ratecore::{Denied, Duration, Gcra, KeyedLimiter, Quota};
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

/// A table of one slot, whose key 1 was charged one unit at 0.
fn one_slot(burst: u32) -> KeyedLimiter<Gcra<HZ>, HZ, 1> {
    let gcra = Gcra::new(Quota::with_period(1, Duration::<HZ>::from_ticks(1_000)).burst(burst));
    let table = KeyedLimiter::new([gcra.unwrap()], [7, 8], WhenFull::Deny);
    assert!(table.check_at(&1u8, Plan::FIRST, at(0)).is_ok());
    table
}

/// A tiered check of key 1 at 1,000, when key 1 has just gone idle in both
/// tables, races key 2's check of the first table, which may reclaim key
/// 1's slot there (each table has one slot). The second table has less room
/// left for key 1, so it is charged first. Either the first table's charge
/// lands on key 1 before the reclaim (key 1 admitted in both tables, key 2
/// refused), or key 2 takes the slot first: before the peek, between the
/// peek and the charge (the charge then finds the peek's word gone), or
/// during the charge. Then key 1 is refused with `TableFull`, the second
/// table's charge is undone exactly, and key 2 keeps its unit.
#[test]
fn a_tiered_check_racing_a_reclaim_of_its_slot() {
    loom_support::explore(3, || {
        let (roomy, scarce) = (Arc::new(one_slot(2)), Arc::new(one_slot(1)));
        let other = Arc::clone(&roomy);
        let racer = thread::spawn(move || other.check_at(&2u8, Plan::FIRST, at(1_000)).is_ok());
        let tiers = KeyedTiers::new([
            KeyedTier::new("roomy", &*roomy),
            KeyedTier::new("scarce", &*scarce),
        ]);
        let mine = tiers.check_at(&1u8, Plan::FIRST, at(1_000));
        let theirs = racer.join().unwrap();
        let left = |table: &KeyedLimiter<Gcra<HZ>, HZ, 1>, key: u8| {
            table.snapshot_at(&key, Plan::FIRST, at(1_000)).remaining()
        };
        match (&mine, theirs) {
            (Ok(_), false) => {
                assert_eq!(
                    (left(&roomy, 1), left(&scarce, 1)),
                    (1, 0),
                    "key 1 charged once in each"
                );
            }
            (Err(refused), true) => {
                assert_eq!(refused.name, "roomy");
                assert!(
                    matches!(refused.answer, Denied::TableFull(_)),
                    "{refused:?}"
                );
                assert_eq!(left(&scarce, 1), 1, "the scarce table's charge undone");
                assert_eq!(left(&roomy, 2), 1, "key 2 keeps its unit");
            }
            other => panic!("expected exactly one of the two admitted: {other:?}"),
        }
        assert_eq!(roomy.occupancy_at(at(1_000)), 1);
    });
}
