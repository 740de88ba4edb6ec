//! Randomness supplied by the caller: no global generator, no `std`.

/// A source of uniformly distributed `u64`s for jitter.
///
/// Implemented by [`SplitMix64`] (a tiny generator you seed), by `&mut` of any
/// source, and by any `FnMut() -> u64` closure, so a hardware RNG, an
/// operating-system generator or a `rand` generator plugs in as
/// `|| rng.next_u64()`.
pub trait RandomSource {
    /// The next value; every `u64` should be equally likely.
    fn next_u64(&mut self) -> u64;
}

impl<F: FnMut() -> u64> RandomSource for F {
    fn next_u64(&mut self) -> u64 {
        self()
    }
}

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014; the seeding generator of `xoshiro`): one `u64` of
/// state, a full period of 2^64, good statistical quality, and not
/// cryptographic. Seed it per client (from a hardware RNG, a device id, the
/// process id and time...) so that clients do not share a jitter sequence.
///
/// ```
/// use ratecore::client::{RandomSource, SplitMix64};
///
/// let mut rng = SplitMix64::new(42);
/// let a = rng.next_u64();
/// assert_ne!(a, rng.next_u64());
/// assert_eq!(SplitMix64::new(42).next_u64(), a); // the same seed, the same sequence
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed` (every seed is fine, zero included).
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next value (a `const fn` form of [`RandomSource::next_u64`]).
    pub const fn next(&mut self) -> u64 {
        // The published constants; wrapping arithmetic is the algorithm.
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl RandomSource for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.next()
    }
}

/// Maps a uniform `random` onto `[low, high]` (inclusive; `low` if the range
/// is empty) by multiply-and-shift: `low + floor(random * (high - low + 1) / 2^64)`.
///
/// The result never leaves the range. For a uniform input each value's
/// probability is within `(high - low + 1) / 2^64` of uniform (relative), a
/// bias far below anything a backoff delay can show.
pub(crate) const fn uniform(random: u64, low: u64, high: u64) -> u64 {
    if high <= low {
        return low;
    }
    // `high - low + 1 <= 2^64` and `random < 2^64`: the product fits u128 and
    // the shifted result is at most `high - low`.
    let span = (high.saturating_sub(low) as u128).saturating_add(1);
    let offset = ((random as u128).saturating_mul(span) >> 64) as u64;
    low.saturating_add(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_covers_the_ends() {
        assert_eq!(uniform(0, 5, 9), 5);
        assert_eq!(uniform(u64::MAX, 5, 9), 9);
        assert_eq!(uniform(u64::MAX, 0, u64::MAX), u64::MAX);
        assert_eq!(uniform(123, 0, u64::MAX), 123);
        assert_eq!(uniform(u64::MAX, 7, 7), 7);
        assert_eq!(uniform(u64::MAX, 9, 7), 9);
    }

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // The published first outputs for seed 1234567 (Rosetta Code,
        // "Pseudo-random numbers/Splitmix64").
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next(), 3_203_168_211_198_807_973);
        assert_eq!(rng.next(), 9_817_491_932_198_370_423);
    }
}
