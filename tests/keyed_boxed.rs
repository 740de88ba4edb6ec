//! Keyed tables too large for a thread's stack: `KeyedLimiter::new_boxed`
//! (the `alloc` feature) and `keyed::random_seed` (the `std` feature).
#![cfg(feature = "std")]

use std::collections::HashMap;
use std::mem::size_of;
use std::thread;

use ratecore::keyed::{Admitted, BoxedKeyedLimiter, Plan, WhenFull, random_seed};
use ratecore::{Decision, Gcra, Instant, KeyedLimiter, Limiter, Quota};

const HZ: u64 = 1_000;
const SLOTS: usize = 65_536;
/// Far below the 1.06 MiB of a 65,536-slot table's slots.
const SMALL_STACK: usize = 256 * 1024;

fn gcra() -> Gcra<HZ> {
    // 10 per second, burst 5.
    Gcra::new(Quota::per_second(10).burst(5)).unwrap()
}

/// The sizes the keyed table's docs give ("Stack and heap"), on 64-bit hosts.
#[cfg(target_pointer_width = "64")]
#[test]
fn sizes_in_the_docs() {
    type Table<const N: usize> = KeyedLimiter<Gcra<HZ>, HZ, N>;
    assert_eq!(size_of::<Table<1>>(), 128);
    assert_eq!(size_of::<Table<32>>(), 640);
    assert_eq!(size_of::<Table<1_024>>(), 17_504);
    assert_eq!(size_of::<Table<4_096>>(), 69_728);
    assert_eq!(size_of::<Table<SLOTS>>(), 1_114_208);
    // Boxed: the same small value for every size; the slots are on the heap.
    assert_eq!(size_of::<BoxedKeyedLimiter<Gcra<HZ>, HZ, 1>>(), 120);
    assert_eq!(size_of::<BoxedKeyedLimiter<Gcra<HZ>, HZ, SLOTS>>(), 120);
    // The point of the small stack below: an inline table would not fit.
    assert!(size_of::<Table<SLOTS>>() > 4 * SMALL_STACK);
}

/// A 65,536-slot table built and used on a 256 KiB stack, in the debug build
/// the tests run in (no optimization removes a temporary): had any step put
/// the 1 MiB of slots on the stack, the thread would overflow and the test
/// process abort. Each key decides as its own `Gcra` would, a `HashMap` of
/// independent limiters being the reference.
#[test]
fn a_65536_slot_table_is_built_without_its_slots_on_the_stack() {
    let worker = thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(|| {
            let table: Box<BoxedKeyedLimiter<Gcra<HZ>, HZ, SLOTS>> = Box::new(
                KeyedLimiter::new_boxed([gcra()], random_seed(), WhenFull::Deny),
            );
            assert_eq!(table.capacity(), SLOTS);
            let mut reference: HashMap<u32, Gcra<HZ>> = HashMap::new();
            let at = Instant::<HZ>::from_ticks;
            // 20,000 keys, each checked 7 times (5 admitted, 2 denied) at 0 ms,
            // then once more at 100 ms (one more unit has come back).
            let keys = 0..20_000u32;
            for now in [at(0), at(0), at(0), at(0), at(0), at(0), at(0), at(100)] {
                for key in keys.clone() {
                    let got = table.check_at(&key, Plan::FIRST, now);
                    let want: Decision<HZ> =
                        reference.entry(key).or_insert_with(gcra).check_at(now);
                    match (got, want) {
                        (Ok(Admitted::Limited(got)), Ok(want)) => {
                            assert_eq!(got, want, "key {key}")
                        }
                        (Err(got), Err(want)) => assert_eq!(got, want, "key {key}"),
                        (got, want) => panic!("key {key} at {now:?}: {got:?}, want {want:?}"),
                    }
                }
            }
            assert_eq!(table.full_count(), 0);
            assert_eq!(table.occupancy_at(at(100)), 20_000);
            // All idle again a second later: the keys' slots can be reclaimed.
            assert_eq!(table.occupancy_at(at(1_100)), 0);
            table
        })
        .unwrap();
    let table = worker
        .join()
        .expect("the worker overflowed its stack or failed");
    // The table outlives the thread that built it, on the heap.
    assert!(
        table
            .snapshot_at(&7u32, Plan::FIRST, Instant::from_ticks(100))
            .remaining()
            < 5
    );
}

#[test]
fn random_seeds_differ_and_key_a_working_table() {
    let seeds: Vec<[u64; 2]> = (0..64).map(|_| random_seed()).collect();
    for (i, a) in seeds.iter().enumerate() {
        assert_ne!(*a, [0, 0]);
        for b in &seeds[i + 1..] {
            assert_ne!(a, b);
        }
    }
    // From another thread (its own randomness) as well.
    let other = thread::spawn(random_seed).join().unwrap();
    assert!(!seeds.contains(&other));

    let table: BoxedKeyedLimiter<Gcra<HZ>, HZ, 64> =
        KeyedLimiter::new_boxed([gcra()], seeds[0], WhenFull::Deny);
    let now = Instant::<HZ>::from_ticks(0);
    for _ in 0..5 {
        assert!(table.check_at("k", Plan::FIRST, now).is_ok());
    }
    assert!(table.check_at("k", Plan::FIRST, now).is_err());
    assert!(table.check_at("other", Plan::FIRST, now).is_ok());
}
