//! What one check costs in flash and RAM.
//!
//! Each wrapper is one complete check (the compare-and-swap loop and the
//! decision, inlined into it) behind a call boundary that the optimizer
//! keeps, so `llvm-nm --size-sort` of the thumbv7em-none-eabihf build shows
//! its size as one symbol; the two statics show a limiter's RAM. `main`
//! calls each once so that the linker keeps them.

use ratecore::{Decision, Gcra, Instant, Limiter, Quota, RefillMode, TokenBucket};

/// A 1 MHz timer, a common tick.
pub const HZ: u64 = 1_000_000;

pub static GCRA: Gcra<HZ> = ratecore::const_unwrap!(Gcra::new(Quota::per_second(50).burst(5)));

pub static TOKEN_BUCKET: TokenBucket<HZ> = ratecore::const_unwrap!(TokenBucket::new(
    Quota::per_second(50).burst(5),
    RefillMode::Greedy
));

/// One `Gcra` check.
#[inline(never)]
pub fn gcra_check(limiter: &Gcra<HZ>, n: u32, now: Instant<HZ>) -> Decision<HZ> {
    limiter.check_n_at(n, now)
}

/// One `TokenBucket` check.
#[inline(never)]
pub fn token_bucket_check(limiter: &TokenBucket<HZ>, n: u32, now: Instant<HZ>) -> Decision<HZ> {
    limiter.check_n_at(n, now)
}

/// Calls both wrappers once, through `black_box` so nothing is folded.
pub fn exercise() -> bool {
    use core::hint::black_box;
    let now = Instant::<HZ>::from_ticks(black_box(1_000));
    let a = gcra_check(black_box(&GCRA), black_box(1), now);
    let b = token_bucket_check(black_box(&TOKEN_BUCKET), black_box(1), now);
    a.is_ok() && b.is_ok()
}
