//! `Gcra`: the harness's invariants at three clock rates, one of them with an
//! emission interval that is not a whole number of ticks.

use ratecore::{Gcra, Quota};

use crate::harness::{self, Failure};

pub fn run() -> Result<u32, Failure> {
    Ok(harness::runs! {
        // 50 per second with a burst of 5, on a 1 MHz timer: T = 20,000 ticks.
        Gcra::<1_000_000>::new(Quota::per_second(50).burst(5)), burst 5, spacing 20_000,
            continuous(5, 50, 1_000_000), seed 0x6763_7261, steps 1_500;
        // 7 per second with a burst of 3, on a 32,768 Hz RTC: T = 4,681.14 ticks.
        Gcra::<32_768>::new(Quota::per_second(7).burst(3)), burst 3, spacing 4_681,
            continuous(3, 7, 32_768), seed 0x0007_8000, steps 1_500;
        // 100 per minute with a burst of 120, in milliseconds: T = 600 ticks.
        Gcra::<1_000>::new(Quota::per_minute(100).burst(120)), burst 120, spacing 600,
            continuous(120, 100, 60_000), seed 0x0120_0100, steps 1_000;
    })
}

pub fn quota(_: ratecore::QuotaError) -> Failure {
    Failure {
        check: "a valid quota was rejected",
        step: 0,
        now: 0,
        n: 0,
    }
}
