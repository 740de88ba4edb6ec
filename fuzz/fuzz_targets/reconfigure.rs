//! Live reconfiguration (`Reconfigurable::switch_at` with `Carry::Full`,
//! `InUse` and `Scaled`, at fresh and stale instants, between checks of 0
//! units and more) against the kit's model and the span bound of both plans.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ratecore_testkit::keyed_tiers::spec;
use ratecore_testkit::reconfigure::{Op, run};

fuzz_target!(|input: ([(u8, u16, u8); 2], Vec<Op>)| {
    let (plans, ops) = input;
    run(plans.map(spec), &ops[..ops.len().min(256)]);
});
