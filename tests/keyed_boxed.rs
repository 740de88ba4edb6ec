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

/// Boxed tables as the tiers of a `KeyedTiers` (per API key, a minute and a
/// day, tables of 65,536 slots on the heap): every answer, status and
/// idleness as the same tiers over inline tables of the same size, seeds
/// and plans give (whose decisions `keyed_tiers_props` checks against the
/// kit's model).
#[test]
fn boxed_tables_are_tiers_as_inline_tables_are() {
    use ratecore::keyed::{KeyedTier, KeyedTiers};
    let minute = || Gcra::<HZ>::new(Quota::per_minute(3).burst(2)).unwrap();
    let day = || Gcra::<HZ>::new(Quota::per_day(20).burst(4)).unwrap();
    let seed = random_seed();
    let boxed: [BoxedKeyedLimiter<Gcra<HZ>, HZ, SLOTS>; 2] = [
        KeyedLimiter::new_boxed([minute()], seed, WhenFull::Deny),
        KeyedLimiter::new_boxed([day()], seed, WhenFull::Deny),
    ];
    // Inline tables of 65,536 slots: on the heap too, built on a thread
    // whose stack holds them.
    let inline = thread::Builder::new()
        .stack_size(8 * size_of::<KeyedLimiter<Gcra<HZ>, HZ, SLOTS>>())
        .spawn(move || {
            let table = |gcra| {
                Box::new(KeyedLimiter::<_, HZ, SLOTS>::new(
                    [gcra],
                    seed,
                    WhenFull::Deny,
                ))
            };
            [table(minute()), table(day())]
        })
        .unwrap()
        .join()
        .unwrap();
    let boxed_tiers = KeyedTiers::new([
        KeyedTier::new("minute", &boxed[0]),
        KeyedTier::new("daily", &boxed[1]),
    ]);
    let inline_tiers = KeyedTiers::new([
        KeyedTier::new("minute", &*inline[0]),
        KeyedTier::new("daily", &*inline[1]),
    ]);
    let mut refused = HashMap::<&str, u32>::new();
    for step in 0..2_000u64 {
        let key = format!("key-{}", step * 31 % 40);
        let now = Instant::<HZ>::from_ticks(step * 450);
        let costs = [(step % 3) as u32, (step % 2) as u32];
        let want = inline_tiers.check_costs_at(&key, Plan::FIRST, costs, now);
        let got = boxed_tiers.check_costs_at(&key, Plan::FIRST, costs, now);
        assert_eq!(got, want, "{key} costs {costs:?} at step {step}");
        if let Err(refusal) = got {
            *refused.entry(refusal.name).or_default() += 1;
        }
        assert_eq!(
            boxed_tiers.snapshot_all_at(&key, Plan::FIRST, now),
            inline_tiers.snapshot_all_at(&key, Plan::FIRST, now)
        );
        assert_eq!(
            boxed_tiers.is_idle_at(&key, Plan::FIRST, now),
            inline_tiers.is_idle_at(&key, Plan::FIRST, now)
        );
    }
    // Both tiers refused checks: the comparison is not of admissions alone.
    assert!(refused.get("minute").is_some_and(|&n| n > 0), "{refused:?}");
    assert!(refused.get("daily").is_some_and(|&n| n > 0), "{refused:?}");
}
