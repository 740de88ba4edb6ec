//! loom model of the keyed table's insertion across the two groups of a
//! window: two threads insert the same key while its early claim (the first
//! free slot, in its first group) is moved by the settling scan to the
//! second group, which has more room (`Settled::Moved` in `keyed::probe`).
//!
//! `RUSTFLAGS="--cfg loom" cargo test --release --test loom_keyed_groups`
//!
//! The models of tests/loom_keyed.rs use tables of at most 32 slots, one
//! window of one group pair where no claim is ever moved. This table has 48
//! slots (three groups of 16): every window is two of them, and the keys are
//! chosen, through the public API only, so that the race goes through the
//! move.

#![cfg(loom)]

#[path = "loom_support/keyed.rs"]
mod keyed;
mod loom_support;

use keyed::{GROUP, PLAN, first_group, inserted_alone, once, table};
use loom::sync::Arc;
use loom::thread;
use ratecore::keyed::SavedSlot;
use ratecore_testkit::at;

/// The keys of the race: `key`, inserted by both threads, and `busy`, held
/// busy beforehand in the first slot of `key`'s first group; the slot
/// `busy` takes, and the tag that names `key` in a saved slot.
#[derive(Clone, Copy, Debug)]
struct Arrangement {
    key: u32,
    busy: u32,
    busy_slot: u64,
    key_tag: u64,
}

/// Finds the keys, deterministically under the fixed seed, from what the
/// public API shows of where keys go (`saved_slots`): a key inserted into an
/// empty table takes the first slot of its first group; `busy` is the first
/// other key whose first group is `key`'s. With `busy` there, `key` checked
/// alone must then land in its other group: its early claim (the slot after
/// `busy`'s) sees 15 free slots against the other group's 16, and moves.
fn arrangement() -> Arrangement {
    let key = 7u32;
    let home = first_group(key);
    let busy = (0u32..)
        .filter(|&other| other != key)
        .find(|&other| first_group(other) == home)
        .expect("some key shares the first group");
    let setup = table();
    let busy_slot = inserted_alone(&setup, busy).index;
    assert_eq!(
        busy_slot,
        home * GROUP as u64,
        "the first slot of the group"
    );
    let moved = inserted_alone(&setup, key);
    assert_ne!(
        moved.index / GROUP as u64,
        home,
        "the arrangement must move the early claim to the other group"
    );
    Arrangement {
        key,
        busy,
        busy_slot,
        key_tag: moved.tag,
    }
}

/// Both threads miss `key` and insert it at 0, its first group holding one
/// busy key and its second group empty: an early claim in the first group
/// is moved to the second. Whatever the interleaving (one thread's claim
/// moved while the other reserves in the second group, or helps the first
/// claim live in the first group before it is withdrawn), exactly one copy
/// of `key` lives, both checks are admitted (burst 2), the two units are
/// all the key admits, and `busy` keeps its own slot and charge.
#[test]
fn one_key_moved_to_its_second_group_by_two_threads_lives_once() {
    let arrangement = once(arrangement);
    // One preemption already reaches the races of the move: the other
    // thread meets the early claim, helps it live where it is, and its
    // inserter then moves it (two copies, were the moved claim not
    // settled; a wiped key, were the early claim withdrawn from whatever
    // its slot holds); or both claims are moved, one after the other. A
    // second lets a thread that met the early claim scan after its
    // withdrawal and reserve in the second group from the full view,
    // racing the moved claim for that group's first slot. 2 explores about
    // 10,000 executions in a second here; 3 took 40 s.
    loom_support::explore(2, move || {
        let Arrangement {
            key,
            busy,
            busy_slot,
            key_tag,
        } = arrangement;
        let table = Arc::new(table());
        assert!(table.check_at(&busy, PLAN, at(0)).is_ok());
        let other = Arc::clone(&table);
        let racer = thread::spawn(move || other.check_at(&key, PLAN, at(0)).is_ok());
        let mine = table.check_at(&key, PLAN, at(0)).is_ok();
        let theirs = racer.join().unwrap();
        assert!(mine && theirs, "a fresh burst of 2 admits both");

        let slots: Vec<SavedSlot> = table.saved_slots().collect();
        let copies = slots.iter().filter(|slot| slot.tag == key_tag).count();
        assert_eq!(copies, 1, "one live copy of the key: {slots:?}");
        assert!(
            slots.iter().any(|slot| slot.index == busy_slot),
            "busy kept its slot: {slots:?}"
        );
        assert_eq!(slots.len(), 2, "nothing else lives: {slots:?}");
        // The burst, over both threads and the checks after them: a second
        // copy, or a lost charge, would admit a third unit.
        let mut admitted = usize::from(mine) + usize::from(theirs);
        while table.check_at(&key, PLAN, at(0)).is_ok() {
            admitted += 1;
            assert!(admitted <= 2, "more than the burst of 2 admitted");
        }
        assert_eq!(admitted, 2);
        assert_eq!(table.snapshot_at(&busy, PLAN, at(0)).remaining(), 1);
        // Both keys are busy, no reservation is left over.
        assert_eq!(table.occupancy_at(at(0)), 2);
        assert_eq!(table.full_count(), 0);
    });
}
