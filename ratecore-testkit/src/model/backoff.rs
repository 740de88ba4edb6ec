//! Reference for exponential backoff with jitter, from the formulas of
//! "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015) as the
//! crate documents them, in plain integer arithmetic.
//!
//! `t(0) = min(base, cap)`, `t(r + 1) = min(cap, ceil(t(r) * num / den))`.

/// The exponential term for retry `retry`.
pub fn exponential(base: u64, cap: u64, num: u32, den: u32, retry: u32) -> u64 {
    let mut t = base.min(cap);
    for _ in 0..retry {
        // Once at the cap, at zero, or with a multiplier of exactly one, the
        // term can never change again; otherwise it strictly grows, so this
        // loop ends within a few hundred steps for any `retry`.
        if t == cap || t == 0 || num == den {
            break;
        }
        let grown = (t as u128 * num as u128).div_ceil(den as u128);
        t = grown.min(cap as u128) as u64;
    }
    t
}

/// Inclusive bounds of a full-jitter delay.
pub fn full(t: u64) -> (u64, u64) {
    (0, t)
}

/// Inclusive bounds of an equal-jitter delay.
pub fn equal(t: u64) -> (u64, u64) {
    (t / 2, t)
}

/// Inclusive bounds of a decorrelated-jitter delay after `previous`.
pub fn decorrelated(base: u64, cap: u64, previous: u64) -> (u64, u64) {
    let low = base.min(cap);
    let high = (previous.max(low) as u128 * 3).min(cap as u128) as u64;
    (low, high.max(low))
}
