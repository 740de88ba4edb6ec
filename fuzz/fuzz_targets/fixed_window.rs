//! `FixedWindow` against its reference model through the kit's window
//! driver: random checks (`n = 0` included), peeks, refunds, charges with
//! receipts and their undos, resets and clock moves (forwards, backwards,
//! huge jumps, around the horizon); at most the limit per window.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ratecore_testkit::window::{Op, Shape, fixed_ops};

fuzz_target!(|input: (Shape, Vec<Op>)| {
    let (shape, ops) = input;
    let ops = &ops[..ops.len().min(256)];
    fixed_ops(shape.limit(u32::MAX), shape.width(), shape.epoch, ops);
});
