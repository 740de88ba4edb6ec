//! What the loom models of the keyed table's two-group windows share
//! (tests/loom_keyed_groups.rs, tests/loom_keyed_moved.rs, each with
//! `#[path = "loom_support/keyed.rs"] mod keyed;`): a table of three groups,
//! so that every key's window is two of them, and how a model finds, through
//! the public API only and under the table's fixed seed, where keys go.

use ratecore::keyed::{Plan, SavedSlot, WhenFull};
use ratecore::{Duration, Gcra, KeyedLimiter, Quota};
use ratecore_testkit::at;

pub const HZ: u64 = 1_000;

/// Three groups of 16 slots: each key's window is two of them.
pub const N: usize = 48;

/// Slots per group (the crate's; a window is two groups).
pub const GROUP: usize = 16;

pub type Table = KeyedLimiter<Gcra<HZ>, HZ, N>;

pub const PLAN: Plan<1> = Plan::FIRST;

/// A fresh table: one unit per second, burst 2, a fixed seed.
pub fn table() -> Table {
    let gcra = Gcra::new(Quota::with_period(1, Duration::<HZ>::from_ticks(1_000)).burst(2));
    KeyedLimiter::new([gcra.unwrap()], [0x9e37, 0x79b9], WhenFull::Deny)
}

/// The group a slot is in.
pub fn group_of(slot: &SavedSlot) -> u64 {
    slot.index / GROUP as u64
}

/// The slot `key` takes when checked alone at 0 in `table`.
pub fn inserted_alone(table: &Table, key: u32) -> SavedSlot {
    let before: Vec<u64> = table.saved_slots().map(|slot| slot.index).collect();
    assert!(table.check_at(&key, PLAN, at(0)).is_ok());
    let mut new = table
        .saved_slots()
        .filter(|slot| !before.contains(&slot.index));
    let slot = new.next().expect("the key took a slot");
    assert!(new.next().is_none(), "one slot for one key");
    slot
}

/// The first group of `key`'s window: a key inserted into an empty table
/// takes the first slot of its first group.
pub fn first_group(key: u32) -> u64 {
    group_of(&inserted_alone(&table(), key))
}

/// Runs `find` once and returns what it found: loom's types work only
/// inside a model, so it runs as a model of one thread (one execution,
/// whose many steps are no spin: their bound is raised).
pub fn once<T: Send + 'static>(find: impl Fn() -> T + Sync + Send + 'static) -> T {
    let found = std::sync::Arc::new(std::sync::Mutex::new(None));
    let out = std::sync::Arc::clone(&found);
    let mut model = loom::model::Builder::new();
    model.max_branches = 100_000;
    model.check(move || *out.lock().unwrap() = Some(find()));
    let found = found.lock().unwrap().take();
    found.expect("the model ran once")
}
