//! `Gcra` against its reference model (the kit's `model`), on any quota and any
//! trace: the input is a quota, a clock rate and a sequence of operations.
//! Every answer must equal the model's, and the DESIGN invariants must hold;
//! nothing else can panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

use ratecore_testkit::model;

use model::harness::run_gcra;
use model::trace::Bytes;

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    let spec = input.quota_spec();
    let hz = input.u8();
    let ops = input.ops(256);
    // A quota the crate refuses has nothing to run (tests/quota_props.rs
    // checks the refusals).
    let _ = match hz % 3 {
        0 => run_gcra::<1_000>(&spec, &ops, true),
        1 => run_gcra::<32_768>(&spec, &ops, true),
        _ => run_gcra::<1_000_000_000>(&spec, &ops, true),
    };
});
