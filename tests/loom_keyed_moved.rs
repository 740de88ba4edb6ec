//! loom model of the keyed table's moved reservation racing other keys: key
//! `a`'s early claim is moved by the settling scan to its window's second
//! group (`Settled::Moved` in `keyed::probe`), whose free slots other keys
//! take before `a` reserves there. `reserve` must then answer `Retry` (look
//! again with a full scan, and choose again), never `Full` while the window
//! has room in the other group.
//!
//! `RUSTFLAGS="--cfg loom" cargo test --release --test loom_keyed_moved`
//!
//! tests/loom_keyed_groups.rs moves one key raced by itself; here the keys
//! differ. The table (48 slots, three groups `F`, `S`, `T`) is filled by
//! `restore`, through the public API, with busy keys at fixed positions:
//! `a`'s window is `F` then `S`; `F` has one free slot (its first), `S` two
//! (its first two), `T` none. `a` alone takes the first of `F` early, sees
//! `S` with more room (2 against 1) and moves there. The other thread checks
//! `b` then `c`, two keys whose window is `S` and `T`: they can only take
//! `S`'s two free slots, and taking both between `a`'s settling scan and its
//! moved reservation leaves `a` a moved claim with no slot.

#![cfg(loom)]

#[path = "loom_support/keyed.rs"]
mod keyed;
mod loom_support;

use keyed::{GROUP, PLAN, Table, first_group, group_of, inserted_alone, once, table};
use loom::sync::Arc;
use loom::thread;
use ratecore::keyed::SavedSlot;
use ratecore_testkit::at;

/// The three keys of the race, by name: `a`, then the other thread's `b`
/// and `c`.
const KEYS: usize = 3;

/// What the model needs, found once under the fixed seed: the keys, each
/// one's window (its two groups, in order) and the tag that names it in a
/// saved slot; the busy keys to restore; the free slots of each group.
#[derive(Clone, Debug)]
struct Arrangement {
    keys: [u32; KEYS],
    windows: [[u64; 2]; KEYS],
    tags: [u64; KEYS],
    busy: Vec<SavedSlot>,
    free: [usize; 3],
}

/// A fresh table holding `slots`, put there by `restore` (no check races
/// it, and the positions are exactly those given).
fn restored(slots: &[SavedSlot]) -> Table {
    let mut table = table();
    let fingerprint = table.fingerprint();
    table
        .restore(fingerprint, slots)
        .expect("the slots restore into an empty table");
    table
}

/// `key`'s window, found as a key is placed: alone in an empty table it
/// takes the first slot of its first group; with `other` (another key's
/// live word) restored in that slot, its early claim in the slot after sees
/// 15 free slots against its other group's 16, and it moves there.
fn window(key: u32, other: SavedSlot) -> [u64; 2] {
    let first = first_group(key);
    let held = SavedSlot {
        index: first * GROUP as u64,
        ..other
    };
    let second = group_of(&inserted_alone(&restored(&[held]), key));
    assert_ne!(first, second, "a window is two groups");
    [first, second]
}

/// Finds the keys and the busy slots (see the module's docs). Every busy key
/// is restored in the group it takes alone (its first), so it sits in its
/// own window, as a key of a real table does; each is charged once at 0
/// (burst 2), so none is idle at 0.
fn arrangement() -> Arrangement {
    let a = 7u32;
    // Busy keys from their own range, by their first group.
    let mut spare: [Vec<SavedSlot>; 3] = Default::default();
    let mut candidates = 1_000u32..;
    let mut busy_in = |group: u64, wanted: usize| -> Vec<SavedSlot> {
        while spare[group as usize].len() < wanted {
            let key = candidates.next().unwrap();
            let slot = inserted_alone(&table(), key);
            spare[group_of(&slot) as usize].push(slot);
        }
        spare[group as usize].drain(..wanted).collect()
    };
    let probe = busy_in(0, 1)[0];
    let [f, s] = window(a, probe);
    let t = 3 - f - s;
    let mut others = (0u32..)
        .filter(|&key| key != a)
        .filter(|&key| {
            let mut groups = window(key, probe);
            groups.sort_unstable();
            let mut wanted = [s, t];
            wanted.sort_unstable();
            groups == wanted
        })
        .take(2);
    let (b, c) = (others.next().unwrap(), others.next().unwrap());
    // F: its first slot free; S: its first two; T: none.
    let mut free = [0; 3];
    let mut busy = Vec::new();
    for (group, free_slots) in [(f, 1), (s, 2), (t, 0)] {
        free[group as usize] = free_slots;
        let keys = busy_in(group, GROUP - free_slots);
        for (offset, key) in (free_slots..GROUP).zip(keys) {
            busy.push(SavedSlot {
                index: group * GROUP as u64 + offset as u64,
                ..key
            });
        }
    }
    let keys = [a, b, c];
    let windows = keys.map(|key| window(key, probe));
    let tags = keys.map(|key| inserted_alone(&table(), key).tag);
    // The race's premise, checked alone: `a`'s early claim moves to `S`.
    let alone = inserted_alone(&restored(&busy), a);
    assert_eq!(group_of(&alone), s, "a moves to its second group alone");
    Arrangement {
        keys,
        windows,
        tags,
        busy,
        free,
    }
}

/// Where each key lives after a run: its group, or `None` if refused.
type Placement = [Option<u64>; KEYS];

/// The reference: the power of two choices over the free slots of each
/// group, one check after another in `order` (key indices). A key takes a
/// slot of its second group only if that group has strictly more free slots
/// than its first; otherwise of its first, if it has one; else it is
/// refused (its whole window is full).
fn sequential(arrangement: &Arrangement, order: [usize; KEYS]) -> Placement {
    let mut free = arrangement.free;
    let mut placed = [None; KEYS];
    for key in order {
        let [first, second] = arrangement.windows[key];
        let room = |group: u64| free[group as usize];
        let group = if room(second) > room(first) {
            Some(second)
        } else if room(first) > 0 {
            Some(first)
        } else {
            None
        };
        if let Some(group) = group {
            free[group as usize] -= 1;
        }
        placed[key] = group;
    }
    placed
}

/// `a` races `b` then `c` (another thread), all at 0 in the arranged table.
/// Whatever the interleaving, the placement is one that the checks made one
/// at a time in an order of the threads would give (`a` first: `a` and `b`
/// fill `S`, `c` is refused; `a` after `b`: `a` takes `F`'s slot, `c`
/// `S`'s other): in particular `a`, whose window always has `F`'s slot, is
/// never refused, also when `b` and `c` fill `S` after its move. Each key
/// admitted lives in exactly one slot, charged with its one unit; a refused
/// key lives nowhere and is counted full; the busy keys keep their slots.
#[test]
fn a_moved_claim_raced_by_other_keys_for_its_group_chooses_again() {
    let arrangement = once(arrangement);
    let orders = [[0, 1, 2], [1, 0, 2], [1, 2, 0]];
    let allowed: Vec<Placement> = orders
        .iter()
        .map(|&order| sequential(&arrangement, order))
        .collect();
    // One preemption reaches the race: `a` stopped after its settling scan
    // (or within its moved reservation's loads), `b` and `c` run to the end.
    // More let `b` or `c` stop inside its own insertion too, and `a`'s scan
    // after the retry meet them half done. 3 explores about 29,000
    // executions in 3 s here (2: 1,600; 4: 430,000 in 42 s).
    loom_support::explore(3, move || {
        let Arrangement {
            keys: [a, b, c],
            tags,
            busy,
            ..
        } = &arrangement;
        let (a, b, c) = (*a, *b, *c);
        let table = Arc::new(restored(busy));
        let other = Arc::clone(&table);
        let racer =
            thread::spawn(move || [b, c].map(|key| other.check_at(&key, PLAN, at(0)).is_ok()));
        let mine = table.check_at(&a, PLAN, at(0)).is_ok();
        let [theirs_b, theirs_c] = racer.join().unwrap();
        let admitted = [mine, theirs_b, theirs_c];

        let slots: Vec<SavedSlot> = table.saved_slots().collect();
        let mut placed: Placement = [None; KEYS];
        for (key, tag) in tags.iter().enumerate() {
            let mut copies = slots.iter().filter(|slot| slot.tag == *tag);
            placed[key] = copies.next().map(group_of);
            assert!(
                copies.next().is_none(),
                "two copies of key {key}: {slots:?}"
            );
            assert_eq!(
                placed[key].is_some(),
                admitted[key],
                "key {key} lives exactly when admitted: {slots:?}"
            );
        }
        assert!(
            allowed.contains(&placed),
            "{placed:?} ({admitted:?}) is no sequential order's {allowed:?}"
        );
        // The busy keys kept their slots and states; nothing else lives.
        assert!(busy.iter().all(|slot| slots.contains(slot)));
        let live = admitted.iter().filter(|&&ok| ok).count();
        assert_eq!(slots.len(), busy.len() + live, "{slots:?}");
        // One unit charged per admitted check (burst 2), none for a refusal.
        for (key, ok) in [a, b, c].into_iter().zip(admitted) {
            let remaining = table.snapshot_at(&key, PLAN, at(0)).remaining();
            assert_eq!(remaining, if ok { 1 } else { 2 }, "key {key}");
        }
        assert_eq!(table.full_count(), (KEYS - live) as u64);
    });
}
