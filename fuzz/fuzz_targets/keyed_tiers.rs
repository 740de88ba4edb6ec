//! Tiers per key (`KeyedTiers`) against the kit's model, a map of
//! independent tiers per (key, plan): identical answers, all or nothing,
//! the denial naming the tier that bound it; costs of 0 and above the
//! burst, statuses and idleness. With stale instants: every tier of every
//! key within its span bound, and a denial charges no tier. The tables
//! seeded alike (one hash a check) or each its own way.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ratecore_testkit::keyed_tiers::{Op, PLANS, TIERS, run, spec};

type Raw = (u8, u16, u8);
/// The plans, the seed, whether the clock may go back and whether the
/// tables share the seed, and the script.
type Input = ([[Raw; PLANS]; TIERS], [u64; 2], (bool, bool), Vec<Op>);

fuzz_target!(|input: Input| {
    let (plans, seed, clock_and_seeds, ops) = input;
    let plans = plans.map(|tier| tier.map(spec));
    run(plans, seed, clock_and_seeds, &ops[..ops.len().min(256)]);
});
