//! `SlidingWindow` against its reference model through the kit's window
//! driver, with charges, undos and resets; the limit is capped at the
//! largest the window supports.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ratecore::SlidingWindow;
use ratecore_testkit::window::{Op, Shape, sliding_ops};
use ratecore_testkit::window_quota;

fuzz_target!(|input: (Shape, Vec<Op>)| {
    let (shape, ops) = input;
    let width = shape.width();
    let max = SlidingWindow::<1>::max_limit(window_quota(1, width)).unwrap();
    sliding_ops(
        shape.limit(max),
        width,
        shape.epoch,
        &ops[..ops.len().min(256)],
    );
});
