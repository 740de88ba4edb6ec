//! `WrappingCounter`: a wrapping 32-bit hardware counter extended to a
//! monotonic `u64`, checked against the true 64-bit time it counts.
//!
//! The "hardware" is the low 32 bits of a true 64-bit tick count. The model:
//! while the clock is read at least once per wrap period, it reads exactly
//! `true - base`, where `base` is the start of the wrap period of its first
//! reading; when readings are further apart, it falls behind by whole wrap
//! periods and is still monotonic.

use std::cell::Cell;

use proptest::prelude::*;
use ratecore::clock::WrappingCounter;
use ratecore::{Clock, Gcra, Instant, Limiter, Quota};

const WRAP: u64 = 1 << 32;

/// The hardware: a true 64-bit tick count of which the counter shows 32 bits.
struct Hardware {
    ticks: Cell<u64>,
}

impl Hardware {
    fn new(ticks: u64) -> Self {
        Self {
            ticks: Cell::new(ticks),
        }
    }

    fn register(&self) -> u32 {
        (self.ticks.get() % WRAP) as u32
    }

    fn advance(&self, by: u64) {
        self.ticks.set(self.ticks.get() + by);
    }
}

#[test]
fn extends_across_a_wrap() {
    let hw = Hardware::new(WRAP - 3);
    let clock = WrappingCounter::<_, 1_000_000>::new(|| hw.register());
    assert_eq!(clock.last().as_ticks(), 0, "nothing read yet");
    let mut readings = Vec::new();
    for _ in 0..6 {
        readings.push(clock.now().as_ticks());
        hw.advance(1);
    }
    assert_eq!(
        readings,
        [WRAP - 3, WRAP - 2, WRAP - 1, WRAP, WRAP + 1, WRAP + 2]
    );
    assert_eq!(clock.last().as_ticks(), WRAP + 2);

    // A second wrap, by the longest gap the rule allows (2^32 - 1 ticks
    // after the last reading, which the loop's last advance already began).
    hw.advance(WRAP - 2);
    assert_eq!(clock.now().as_ticks(), 2 * WRAP + 1);
}

#[test]
fn first_reading_is_the_raw_value() {
    // Tick 0 is the counter's 0 in the wrap period of the first reading.
    let hw = Hardware::new(7 * WRAP + 1_234);
    let clock = WrappingCounter::<_, 32_768>::new(|| hw.register());
    assert_eq!(clock.now().as_ticks(), 1_234);
}

#[test]
fn a_missed_wrap_is_lost_not_invented() {
    let hw = Hardware::new(100);
    let clock = WrappingCounter::<_, 1_000>::new(|| hw.register());
    assert_eq!(clock.now().as_ticks(), 100);
    // The rule is broken: a whole wrap period and 50 ticks pass unread.
    hw.advance(WRAP + 50);
    assert_eq!(
        clock.now().as_ticks(),
        150,
        "falls behind by exactly one wrap"
    );
    hw.advance(10);
    assert_eq!(clock.now().as_ticks(), 160, "and counts on from there");
}

#[test]
fn a_limiter_on_the_extended_clock_spans_the_wrap() {
    // 10 per second at 1 kHz (one per 100 ticks), burst 2; the counter wraps
    // 50 ticks after the burst is spent.
    let hw = Hardware::new(WRAP - 50);
    let clock = WrappingCounter::<_, 1_000>::new(|| hw.register());
    let limiter = Gcra::<1_000>::new(Quota::per_second(10).burst(2)).unwrap();
    assert!(limiter.check_n(2, &clock).is_ok());
    let retry = limiter.check(&clock).unwrap_err().retry_after().unwrap();
    assert_eq!(retry.as_ticks(), 100);
    hw.advance(99); // across the wrap, one tick short
    assert!(limiter.check(&clock).is_err());
    hw.advance(1);
    assert!(
        limiter.check(&clock).is_ok(),
        "exactly retry_after later, past the wrap"
    );
}

proptest! {
    #![proptest_config(ratecore_testkit::config(256))]

    /// Read at least once per wrap period (every step is below 2^32), the clock
    /// is the true time minus the base of its first reading's wrap period.
    #[test]
    fn reads_the_true_time_while_the_rule_holds(
        start in 0..u64::MAX / 2,
        steps in prop::collection::vec(prop_oneof![Just(0u64), 0..WRAP, WRAP - 3..WRAP], 1..64),
    ) {
        let hw = Hardware::new(start);
        let clock = WrappingCounter::<_, 1_000_000>::new(|| hw.register());
        let base = start - start % WRAP;
        prop_assert_eq!(clock.now().as_ticks(), start - base);
        for step in steps {
            hw.advance(step);
            let expected = hw.ticks.get() - base;
            prop_assert_eq!(clock.now().as_ticks(), expected);
            prop_assert_eq!(clock.last().as_ticks(), expected);
        }
    }

    /// With readings any distance apart, the clock never runs ahead of the
    /// true time, never goes backwards, and lags only by whole wrap periods.
    #[test]
    fn breaking_the_rule_only_loses_whole_wraps(
        start in 0..u64::MAX / 2,
        steps in prop::collection::vec(0..3 * WRAP, 1..64),
    ) {
        let hw = Hardware::new(start);
        let clock = WrappingCounter::<_, 1_000_000>::new(|| hw.register());
        let base = start - start % WRAP;
        let mut previous = clock.now();
        for step in steps {
            hw.advance(step);
            let now: Instant<1_000_000> = clock.now();
            let truth = hw.ticks.get() - base;
            prop_assert!(now >= previous, "went backwards");
            prop_assert!(now.as_ticks() <= truth, "ran ahead of the counter");
            prop_assert_eq!((truth - now.as_ticks()) % WRAP, 0, "lost a fraction of a wrap");
            previous = now;
        }
    }
}
