//! `TokenBucket`: the harness's invariants with greedy and interval refill,
//! and greedy refill deciding exactly as `Gcra` on the same trace.

use ratecore::{Duration, Gcra, Quota, RefillMode, TokenBucket};

use crate::gcra::quota;
use crate::harness::{self, Failure};

pub fn run() -> Result<u32, Failure> {
    let mut checks = harness::runs! {
        // Greedy: 50 per second, 5 saved up, on a 1 MHz timer.
        TokenBucket::<1_000_000>::new(Quota::per_second(50).burst(5), RefillMode::Greedy),
            burst 5, spacing 20_000, continuous(5, 50, 1_000_000), seed 0x6772_6565, steps 1_500;
    };

    // Greedy refill is GCRA read the other way: same quota, same decisions.
    let plan = Quota::per_second(7).burst(3);
    let bucket = TokenBucket::<32_768>::new(plan, RefillMode::Greedy).map_err(quota)?;
    let gcra = Gcra::<32_768>::new(plan).map_err(quota)?;
    checks += harness::same_decisions(&bucket, &gcra, 3, 4_681, 0x5a3e, 1_500)?;

    checks += harness::runs! {
        // Interval: 3 tokens at every whole second, at most 5, in milliseconds.
        TokenBucket::<1_000>::new(Quota::per_second(3).burst(5), RefillMode::Interval),
            burst 5, spacing 333, interval(5, 3, 1_000), seed 0x1e7e_1000, steps 1_500;
        // Interval: 1 token every 250 us, at most 4, on a 1 MHz timer.
        TokenBucket::<1_000_000>::new(
            Quota::with_period(1, Duration::<1_000_000>::from_ticks(250)).burst(4),
            RefillMode::Interval,
        ),
            burst 4, spacing 250, interval(4, 1, 250), seed 0x0250_0001, steps 1_500;
    };

    Ok(checks)
}
