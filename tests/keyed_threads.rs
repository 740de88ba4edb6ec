//! Real threads racing on one keyed table: each key admits exactly its
//! burst per phase, no more (a second live slot for a key, or a decision
//! landing on another key's word, would admit more) and no less (a lost
//! insertion or a spurious refusal would admit less).
//!
//! The loom models (`tests/loom_keyed*.rs`) explore every interleaving of
//! two or three operations on a table of one group; this test runs many
//! operations on a table of two groups, with more threads than cores, so
//! that threads are preempted at arbitrary points of an insertion.
//!
//! Every phase starts all threads together (a barrier) on the same 12 keys,
//! each thread in its own order: every key of a phase is inserted by
//! several threads at once. Most phases bring new keys, so the keys of
//! earlier phases (idle by then: phases are 10 s apart and a burst of 5
//! refills in 5 s) have their slots reclaimed; every fourth phase brings
//! back the keys of two phases before, some still in the idle slots they
//! left and some not. Within a phase time stands still, so no unit refills:
//! the admitted units of a key in a phase are exactly `min(burst, checks
//! of it)`, whatever the interleaving. 12 keys active at once in a table of
//! 64 slots fill no window, so no check is refused for want of room.

use std::sync::Barrier;
use std::thread;

use ratecore::{Gcra, Instant, KeyedLimiter, Quota, keyed::Plan, keyed::WhenFull};

/// Milliseconds.
const HZ: u64 = 1_000;
/// Two groups of slots.
const SLOTS: usize = 64;
const KEYS_PER_PHASE: usize = 12;

/// The keys of phase `phase`: new ones, or every fourth phase those of two
/// phases before.
fn key_of(phase: usize, j: usize) -> u64 {
    let group = if phase % 4 == 3 { phase - 2 } else { phase };
    (group * KEYS_PER_PHASE + j) as u64
}

#[test]
fn racing_insertions_admit_each_key_exactly_its_burst_per_phase() {
    // 4 threads on 2 cores, each checking each key of a phase twice, for
    // 20,000 phases 10 s apart; 5 units a key.
    let (threads, rounds, phases, phase_ms) = (4usize, 2usize, 20_000usize, 10_000u64);
    const BURST: u32 = 5;
    let table: KeyedLimiter<Gcra<HZ>, HZ, SLOTS> = KeyedLimiter::new(
        [Gcra::new(Quota::per_second(1).burst(BURST)).unwrap()],
        [0x0dd_ba11, 0xc0ffee],
        WhenFull::Deny,
    );
    let barrier = Barrier::new(threads);
    // Per thread: [phase][j] -> units admitted.
    let admitted: Vec<Vec<[u32; KEYS_PER_PHASE]>> = thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (table, barrier) = (&table, &barrier);
                s.spawn(move || {
                    let mut seen = vec![[0u32; KEYS_PER_PHASE]; phases];
                    for (phase, counts) in seen.iter_mut().enumerate() {
                        let now = Instant::<HZ>::from_ticks(phase as u64 * phase_ms);
                        barrier.wait();
                        for i in 0..rounds * KEYS_PER_PHASE {
                            // Thread `t` starts `3t` keys in, and every
                            // second thread goes backwards.
                            let step = (i + 3 * t) % KEYS_PER_PHASE;
                            let j = if t % 2 == 0 {
                                step
                            } else {
                                KEYS_PER_PHASE - 1 - step
                            };
                            let key = key_of(phase, j);
                            counts[j] += u32::from(table.check_at(&key, Plan::FIRST, now).is_ok());
                        }
                    }
                    seen
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });

    let checks = (threads * rounds) as u32;
    for phase in 0..phases {
        for j in 0..KEYS_PER_PHASE {
            let units: u32 = admitted.iter().map(|t| t[phase][j]).sum();
            assert_eq!(
                units,
                checks.min(BURST),
                "key {} in phase {phase}",
                key_of(phase, j)
            );
        }
    }
    assert_eq!(table.full_count(), 0, "no window was ever full");
    let last = Instant::<HZ>::from_ticks((phases - 1) as u64 * phase_ms);
    assert_eq!(table.occupancy_at(last), KEYS_PER_PHASE);
}
