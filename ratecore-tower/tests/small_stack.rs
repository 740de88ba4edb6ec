//! "Nothing large on a stack": the in-memory store's tables are built on
//! the heap, so building them fits in a small thread stack even in a debug
//! build (where every temporary of a 16 KiB inline shard would be a copy
//! on the stack).

mod common;

use ratecore_tower::{InMemoryStore, WhenFull};

/// Less than the copies of one inline 1,024-slot shard (17.5 KiB each) that
/// a debug build makes when it builds the shard on the stack and boxes it:
/// the tables built that way overflowed stacks of 32 and 48 KiB here.
const SMALL_STACK: usize = 32 * 1_024;

#[test]
fn tables_are_built_on_a_small_stack() {
    let built = std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(|| {
            let (plans, _, _) = common::plans();
            // Two limit positions and a concurrency table, 4 shards each.
            let store = InMemoryStore::new(&plans, 4_096, WhenFull::Deny);
            store.capacity()
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(built, 4_096);
}
