//! `SlidingWindow` against its reference model through the kit's window
//! driver; the limit is capped at the largest the window supports.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ratecore::SlidingWindow;
use ratecore_testkit::window::{Shape, Step, sliding};
use ratecore_testkit::window_quota;

fuzz_target!(|input: (Shape, Vec<Step>)| {
    let (shape, script) = input;
    let width = shape.width();
    let max = SlidingWindow::<1>::max_limit(window_quota(1, width)).unwrap();
    sliding(
        shape.limit(max),
        width,
        shape.epoch,
        &script[..script.len().min(256)],
    );
});
