//! loom model of `WrappingCounter`: readers race a counter that wraps.
//!
//! The "hardware" is a true 64-bit tick count (a loom atomic) of which the
//! counter shows the low 32 bits; a ticker thread moves it across a wrap in
//! small steps (the caller's rule holds) while two threads read the clock,
//! after a first reading that fixes the origin.
//! Every reading must lie between the true times read just before and just
//! after the call (so a reading is never a wrap ahead, a wrap behind, or
//! stale), each thread's readings never go backwards, and after the race the
//! clock reads the true time exactly.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test --release --test loom_wrap`.
#![cfg(loom)]

mod loom_support;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicU64, Ordering};
use loom::thread;
use ratecore::Clock;
use ratecore::clock::WrappingCounter;

const WRAP: u64 = 1 << 32;

#[test]
fn readers_racing_a_wrap_read_the_true_time() {
    // Two preemptions find both classic bugs (reading the counter before the
    // state: a reading a whole wrap ahead; Relaxed orderings) in well under a
    // second; three take half a minute.
    loom_support::explore(2, || {
        // SeqCst: the hardware counter is one global, totally ordered value.
        let hardware = Arc::new(AtomicU64::new(WRAP - 3));
        let register = {
            let hardware = Arc::clone(&hardware);
            move || (hardware.load(Ordering::SeqCst) % WRAP) as u32
        };
        let clock = Arc::new(WrappingCounter::<_, 1_000_000>::new(register));
        // The first reading fixes the origin (tick 0 is the counter's 0 of
        // this wrap period), so true time and readings coincide from here on.
        assert_eq!(clock.now().as_ticks(), WRAP - 3);

        let ticker = {
            let hardware = Arc::clone(&hardware);
            thread::spawn(move || {
                // WRAP - 3 -> WRAP - 1 -> WRAP + 1: across the wrap.
                hardware.fetch_add(2, Ordering::SeqCst);
                hardware.fetch_add(2, Ordering::SeqCst);
            })
        };
        // One reader reads twice (its readings must not go backwards), the
        // other once: enough to race every step of `now` against the other
        // reader and the wrap, small enough to finish in seconds.
        let readers: Vec<_> = [2, 1]
            .into_iter()
            .map(|reads| {
                let hardware = Arc::clone(&hardware);
                let clock = Arc::clone(&clock);
                thread::spawn(move || {
                    let mut previous = 0;
                    for _ in 0..reads {
                        let before = hardware.load(Ordering::SeqCst);
                        let reading = clock.now().as_ticks();
                        let after = hardware.load(Ordering::SeqCst);
                        assert!(
                            before <= reading && reading <= after,
                            "read {reading}, true time was {before}..={after}"
                        );
                        assert!(
                            reading >= previous,
                            "went backwards: {previous} then {reading}"
                        );
                        previous = reading;
                    }
                })
            })
            .collect();
        ticker.join().unwrap();
        for reader in readers {
            reader.join().unwrap();
        }
        assert_eq!(clock.now().as_ticks(), WRAP + 1);
    });
}
