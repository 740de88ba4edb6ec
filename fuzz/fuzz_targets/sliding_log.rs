//! `SlidingLog` against its reference model through the kit's window
//! driver (no refunds: the log has none).

#![no_main]

use libfuzzer_sys::fuzz_target;
use ratecore_testkit::window::{Step, log};

const N: usize = 16;

fuzz_target!(|input: (u8, u64, Vec<Step>)| {
    let (limit, width, script) = input;
    let limit = u32::from(limit) % N as u32 + 1;
    let width = ratecore_testkit::window::Shape {
        limit,
        width,
        epoch: 0,
    }
    .width();
    let script: Vec<Step> = script
        .into_iter()
        .filter(|s| !matches!(s, Step::Refund(_)))
        .take(200)
        .collect();
    log::<N>(limit, width, &script);
});
