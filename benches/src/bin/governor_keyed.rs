//! governor's keyed limiter (a `DashMap`, on its fake clock) for
//! `.ci/instructions`, with the same interface as the `instructions` binary:
//! `governor_keyed SHAPE N`, `governor_keyed list`.
//!
//! A binary of its own: in the `instructions` binary, governor's keyed code
//! shares functions with its direct limiter (the state's
//! `measure_and_replace`, the fake clock's `now`), which the compiler then
//! stops inlining into the direct shapes, doubling their counts. Each shape
//! runs in its own process either way, so the figures are as comparable as
//! those of one binary.
//!
//! Each shape holds the keys of the ratecore table of the `keyed_hit_*`
//! shape with the same share, on the same per-key quota (1 per second, burst
//! 10^6), and checks them in the same order.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Duration;

use ratecore::Quota;

type Keyed = governor::RateLimiter<
    u64,
    governor::state::keyed::DashMapStateStore<u64>,
    governor::clock::FakeRelativeClock,
    governor::middleware::NoOpMiddleware<governor::nanos::Nanos>,
>;

fn hits(percent: usize, n: u64) {
    let (_, keys) = ratecore_bench::filled_table(Quota::per_second(1).burst(1_000_000), percent);
    let clock = governor::clock::FakeRelativeClock::default();
    let quota = governor::Quota::per_second(NonZeroU32::new(1).unwrap())
        .allow_burst(NonZeroU32::new(1_000_000).unwrap());
    let limiter = Keyed::dashmap_with_clock(quota, clock.clone());
    clock.advance(Duration::from_nanos(ratecore_bench::NOW_NANOS));
    for key in &keys {
        assert!(limiter.check_key(key).is_ok());
    }
    let mut i = 0;
    for _ in 0..n {
        i = (i + 1) % keys.len();
        black_box(black_box(&limiter).check_key(&keys[i]).is_ok());
    }
}

const SHAPES: &[(&str, usize)] = &[
    ("governor_keyed_25", 25),
    ("governor_keyed_50", 50),
    ("governor_keyed_75", 75),
];

fn main() {
    let mut args = std::env::args().skip(1);
    let shape = args.next().unwrap_or_default();
    let n = args.next().and_then(|n| n.parse::<u64>().ok());
    let known = SHAPES.iter().find(|(name, _)| *name == shape);
    match (shape.as_str(), known, n) {
        ("list", _, _) => SHAPES.iter().for_each(|(name, _)| println!("{name}")),
        (_, Some(&(_, percent)), Some(n)) => hits(percent, n),
        _ => {
            eprintln!("usage: governor_keyed SHAPE N | list");
            std::process::exit(2);
        }
    }
}
