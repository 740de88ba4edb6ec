//! Division by a configured constant as a multiply: the window limiters and
//! the interval token bucket divide an instant by the same width on every
//! check, and a hardware division costs tens of cycles on x86-64 and a call
//! into a 64-bit division routine (`__aeabi_uldivmod`, about 900 bytes) on
//! Cortex-M, which has none.

/// A divisor `d >= 1` and its reciprocal `floor((2^64 - 1) / d)`, computed
/// once when the configuration is built.
///
/// `x * recip / 2^64` is `floor(x / d)` or one less, for every `x < 2^64`:
/// `recip > (2^64 - d) / d`, so the estimate is above `x / d - 2` and an
/// integer, and never above `x / d`. One comparison of the remainder
/// corrects it, so the quotient is exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct Divisor {
    /// At least 1.
    pub(crate) d: u64,
    recip: u64,
}

impl Divisor {
    /// The divisor `d`, taken as 1 if it is 0 (callers pass non-zero
    /// divisors; the fallback keeps the function total).
    pub(crate) const fn new(d: u64) -> Self {
        let d = if d == 0 { 1 } else { d };
        Self {
            d,
            recip: match u64::MAX.checked_div(d) {
                Some(r) => r,
                None => u64::MAX,
            },
        }
    }

    /// `floor(x / d)`, exactly, without a division instruction.
    #[inline(always)]
    pub(crate) const fn quotient(&self, x: u64) -> u64 {
        // The high half of a 64 x 64-bit product (below 2^128: the multiply
        // never wraps), so below 2^64.
        let q = ((x as u128).wrapping_mul(self.recip as u128) >> 64) as u64;
        // `q <= x / d`, so `q * d <= x`: neither wraps; `r < 2 * d`.
        let r = x.wrapping_sub(q.wrapping_mul(self.d));
        if r >= self.d { q.wrapping_add(1) } else { q }
    }
}

#[cfg(test)]
mod tests {
    use super::Divisor;

    /// Against the hardware division, at the edges of every divisor's range
    /// and around its multiples.
    #[test]
    fn quotient_is_floor_division() {
        let divisors = [
            1,
            2,
            3,
            7,
            10,
            60,
            1_000,
            999_999_937,
            60_000_000_000,
            (1 << 32) - 1,
            1 << 32,
            (1 << 32) + 1,
            (1 << 63) - 1,
            1 << 63,
            (1 << 63) + 1,
            u64::MAX - 1,
            u64::MAX,
        ];
        for d in divisors {
            let div = Divisor::new(d);
            let check = |x: u64| assert_eq!(div.quotient(x), x / d, "{x} / {d}");
            for x in [
                0,
                1,
                2,
                d - 1,
                d,
                d.saturating_add(1),
                u64::MAX,
                u64::MAX - 1,
                u64::MAX / 2,
            ] {
                check(x);
            }
            for k in [1u64, 2, 3, 1_000, u64::MAX / d, u64::MAX / d - 1] {
                let m = k.saturating_mul(d);
                for x in [m.saturating_sub(1), m, m.saturating_add(1)] {
                    check(x);
                }
            }
            let mut x = 0x9E37_79B9_7F4A_7C15u64;
            for _ in 0..1_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                check(x);
                check(x >> (x % 64));
            }
        }
    }

    #[test]
    fn zero_is_taken_as_one() {
        assert_eq!(Divisor::new(0).quotient(12_345), 12_345);
    }
}
