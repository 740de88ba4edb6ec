//! `TokenBucket`: the harness's invariants with greedy and interval refill,
//! and greedy refill deciding exactly as `Gcra` on the same trace.

use ratecore::{Duration, Gcra, Quota, RefillMode, TokenBucket};

use crate::gcra::quota;
use crate::harness::{self, Failure, Run};

pub fn run() -> Result<u32, Failure> {
    let mut checks = 0;

    // Greedy: 50 per second, 5 saved up, on a 1 MHz timer.
    let plan = Quota::per_second(50).burst(5);
    let bucket = TokenBucket::<1_000_000>::new(plan, RefillMode::Greedy).map_err(quota)?;
    checks += harness::run(&Run {
        limiter: &bucket,
        burst: 5,
        spacing: 20_000,
        bound: |t0, t1| harness::continuous(5, 50, 1_000_000, t0, t1),
        seed: 0x6772_6565,
        steps: 1_500,
    })?;

    // Greedy refill is GCRA read the other way: same quota, same decisions.
    let plan = Quota::per_second(7).burst(3);
    let bucket = TokenBucket::<32_768>::new(plan, RefillMode::Greedy).map_err(quota)?;
    let gcra = Gcra::<32_768>::new(plan).map_err(quota)?;
    checks += harness::same_decisions(&bucket, &gcra, 3, 4_681, 0x5a3e, 1_500)?;

    // Interval: 3 tokens at every whole second, at most 5, in milliseconds.
    let plan = Quota::per_second(3).burst(5);
    let bucket = TokenBucket::<1_000>::new(plan, RefillMode::Interval).map_err(quota)?;
    checks += harness::run(&Run {
        limiter: &bucket,
        burst: 5,
        spacing: 333,
        bound: |t0, t1| harness::interval(5, 3, 1_000, t0, t1),
        seed: 0x1e7e_1000,
        steps: 1_500,
    })?;

    // Interval: 1 token every 250 us, at most 4, on a 1 MHz timer.
    let plan = Quota::with_period(1, Duration::<1_000_000>::from_ticks(250)).burst(4);
    let bucket = TokenBucket::<1_000_000>::new(plan, RefillMode::Interval).map_err(quota)?;
    checks += harness::run(&Run {
        limiter: &bucket,
        burst: 4,
        spacing: 250,
        bound: |t0, t1| harness::interval(4, 1, 250, t0, t1),
        seed: 0x0250_0001,
        steps: 1_500,
    })?;

    Ok(checks)
}
