//! Total integer division for the answers and the virtual-time machine, and
//! a fraction compared without one.

/// `a / b` rounded down, a divisor of 0 read as 1: the crate's own divisors
/// are non-zero by construction, and an answer an algorithm in another
/// crate builds ([`Status::scaled`](crate::Status::scaled)) reads a zero
/// `unit` or `scale` as 1.
pub(crate) const fn div(a: u64, b: u64) -> u64 {
    // Dividing by 1 is the common case (a scale or cost of 1), and a
    // hardware division costs tens of cycles: skip it (and 0 with it, in
    // the same compare).
    if b <= 1 {
        return a;
    }
    match a.checked_div(b) {
        Some(q) => q,
        // Never: `b > 1` here; kept so the function is total without a panic.
        None => a,
    }
}

/// `a / b` rounded up, total like [`div`].
pub(crate) const fn div_ceil(a: u64, b: u64) -> u64 {
    // See `div`: a divisor of 1 (or 0, read as 1) is common and costs a
    // division.
    if b <= 1 {
        return a;
    }
    match a.checked_rem(b) {
        Some(0) | None => div(a, b),
        Some(_) => div(a, b).saturating_add(1),
    }
}

/// `numerator / denominator` as an exact fraction, ordered by its value
/// without dividing: two fractions compare by their cross products, each
/// 64 × 64 bits into 128, which cannot overflow. A zero denominator is read
/// as 1, as [`div`] reads one.
///
/// What the all-or-nothing tiers order their charges by (the units a tier
/// has left, `room / unit`): at a cost other than 1, taking the floor of each
/// first cost a 64-bit division per tier on the admitted path.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fraction {
    numerator: u64,
    denominator: u64,
}

impl Fraction {
    /// `numerator / denominator`; a zero `denominator` is read as 1.
    pub(crate) const fn new(numerator: u64, denominator: u64) -> Self {
        Self {
            numerator,
            denominator: if denominator == 0 { 1 } else { denominator },
        }
    }

    /// The cross products of `self` and `other`: `self < other` exactly
    /// when the first is below the second (both denominators positive).
    const fn cross(&self, other: &Self) -> (u128, u128) {
        // Two 64-bit factors never overflow 128 bits: the wrapping multiply
        // is exact (and one instruction on a 64-bit machine).
        (
            (self.numerator as u128).wrapping_mul(other.denominator as u128),
            (other.numerator as u128).wrapping_mul(self.denominator as u128),
        )
    }
}

impl PartialEq for Fraction {
    /// Equal values (`1 / 2` equals `2 / 4`).
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = self.cross(other);
        a == b
    }
}

impl Eq for Fraction {}

impl PartialOrd for Fraction {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Fraction {
    /// By value.
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        let (a, b) = self.cross(other);
        a.cmp(&b)
    }
}

#[cfg(test)]
mod tests {
    use super::{Fraction, div};
    use proptest::prelude::*;

    proptest! {
        /// Against floating point, exact here: below 2^12, two fractions
        /// that differ differ by at least 2^-24 of a value at most 2^12,
        /// far above f64's rounding, and equal ones round alike.
        #[test]
        fn orders_as_the_values_do(a in 0u64..4_096, b in 0u64..4_096, c in 0u64..4_096, d in 0u64..4_096) {
            let value = |n: u64, d: u64| n as f64 / (if d == 0 { 1 } else { d }) as f64;
            let expected = value(a, b).partial_cmp(&value(c, d));
            prop_assert_eq!(Some(Fraction::new(a, b).cmp(&Fraction::new(c, d))), expected);
            prop_assert_eq!(Fraction::new(a, b) == Fraction::new(c, d), value(a, b) == value(c, d));
        }

        /// At any size, a fraction whose floor is below another's is below
        /// it: the order the tiers charge in agrees with the units left
        /// wherever those differ.
        #[test]
        fn agrees_with_the_floors(a: u64, b: u64, c: u64, d: u64) {
            let (one, two) = (Fraction::new(a, b), Fraction::new(c, d));
            if div(a, b) < div(c, d) {
                prop_assert!(one < two);
            }
            if div(a, b) > div(c, d) {
                prop_assert!(one > two);
            }
        }
    }

    #[test]
    fn reads_a_zero_denominator_as_one() {
        assert_eq!(Fraction::new(7, 0), Fraction::new(7, 1));
        assert!(Fraction::new(u64::MAX, 1) > Fraction::new(u64::MAX, 2));
        assert!(Fraction::new(u64::MAX - 1, u64::MAX) < Fraction::new(1, 1));
    }
}
