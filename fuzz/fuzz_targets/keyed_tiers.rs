//! Tiers per key (`KeyedTiers`) against the kit's model, a map of
//! independent tiers per (key, plan): identical answers, all or nothing,
//! the denial naming the tier that bound it; costs of 0 and above the
//! burst, statuses and idleness. With stale instants: every tier of every
//! key within its span bound, and a denial charges no tier.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ratecore_testkit::keyed_tiers::{Op, PLANS, TIERS, run, spec};

type Raw = (u8, u16, u8);

fuzz_target!(|input: ([[Raw; PLANS]; TIERS], [u64; 2], bool, Vec<Op>)| {
    let (plans, seed, stale, ops) = input;
    let plans = plans.map(|tier| tier.map(spec));
    run(plans, seed, stale, &ops[..ops.len().min(256)]);
});
