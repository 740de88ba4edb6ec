//! `FixedWindow` against its reference model through the kit's window
//! driver: random checks, peeks, refunds and clock moves (forwards,
//! backwards, huge jumps, around the horizon).

#![no_main]

use libfuzzer_sys::fuzz_target;
use ratecore_testkit::window::{Shape, Step, fixed};

fuzz_target!(|input: (Shape, Vec<Step>)| {
    let (shape, script) = input;
    let script = &script[..script.len().min(256)];
    fixed(shape.limit(u32::MAX), shape.width(), shape.epoch, script);
});
