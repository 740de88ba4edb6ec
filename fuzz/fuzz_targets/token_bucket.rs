//! `TokenBucket` (greedy and interval refill) against its reference model
//! (the kit's `model`), on any quota and any trace: the input is a quota, a clock
//! rate, a refill mode and a sequence of operations. Every answer must equal
//! the model's, and the DESIGN invariants must hold; nothing else can panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ratecore::RefillMode;

use ratecore_testkit::model;

use model::harness::run_bucket;
use model::trace::Bytes;

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    let spec = input.quota_spec();
    let setup = input.u8();
    let ops = input.ops(256);
    let mode = if setup & 4 == 0 {
        RefillMode::Greedy
    } else {
        RefillMode::Interval
    };
    // A quota the crate refuses has nothing to run (tests/quota_props.rs
    // checks the refusals).
    let _ = match setup % 3 {
        0 => run_bucket::<1_000>(&spec, mode, &ops, true),
        1 => run_bucket::<32_768>(&spec, mode, &ops, true),
        _ => run_bucket::<1_000_000_000>(&spec, mode, &ops, true),
    };
});
