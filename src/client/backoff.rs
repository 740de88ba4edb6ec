//! Exponential backoff with jitter.

use super::random::{RandomSource, uniform};
use super::schedule::BackoffSchedule;
use crate::time::Duration;

/// How a delay is drawn from the exponential term `t = min(cap, base * m^retry)`.
///
/// The formulas are those of Marc Brooker's analysis "Exponential Backoff And
/// Jitter" (AWS Architecture Blog, 2015,
/// <https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/>,
/// and its simulator, <https://github.com/aws-samples/aws-arch-backoff-simulator>),
/// in whole ticks, with `random(a, b)` uniform over the integers `a..=b`:
///
/// | jitter | delay |
/// | --- | --- |
/// | [`None`](Jitter::None) | `t` |
/// | [`Full`](Jitter::Full) | `random(0, t)` |
/// | [`Equal`](Jitter::Equal) | `t/2 + random(0, t - t/2)` (so within `[t/2, t]`) |
/// | [`Decorrelated`](Jitter::Decorrelated) | `min(cap, random(base, 3 * previous))`, `previous` starting at `base` |
///
/// Full jitter spreads competing clients best and is the default; equal jitter
/// keeps at least half of the exponential wait; decorrelated jitter ignores
/// the multiplier and the retry index and grows from the previous delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Jitter {
    /// No jitter: exactly the exponential term (clients that failed together
    /// retry together; for tests and single clients).
    None,
    /// `random(0, t)`.
    Full,
    /// `t/2 + random(0, t - t/2)`.
    Equal,
    /// `min(cap, random(base, 3 * previous))`.
    Decorrelated,
}

crate::macros::error_enum! {
    /// Why a backoff parameter was refused. Nothing was built.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[cfg_attr(feature = "defmt", derive(defmt::Format))]
    #[non_exhaustive]
    pub enum BackoffError {
        /// The multiplier's denominator is zero.
        ZeroDenominator => "the backoff multiplier's denominator is zero",
        /// The multiplier is below 1: delays would shrink.
        MultiplierBelowOne => "the backoff multiplier is below 1",
        /// The multiplier is above 1 but below 17/16. Such a slow growth would
        /// take thousands of steps to reach the cap; use 1 (constant delays) or
        /// at least 17/16.
        MultiplierTooClose =>
            "the backoff multiplier is above 1 but below 17/16 (use 1 or at least 17/16)",
    }
}

/// The growth factor `m = numerator / denominator` of the exponential term:
/// exactly 1 (constant delays) or at least 17/16.
///
/// ```
/// use ratecore::client::Multiplier;
///
/// let grpc = Multiplier::ratio(8, 5).unwrap(); // gRPC's 1.6
/// assert_eq!((grpc.numerator(), grpc.denominator()), (8, 5));
/// assert!(Multiplier::ratio(1, 2).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Multiplier {
    num: u32,
    den: u32,
}

impl Multiplier {
    /// Constant delays.
    pub const ONE: Self = Self { num: 1, den: 1 };
    /// Doubling, as in the AWS formulas (the default).
    pub const TWO: Self = Self { num: 2, den: 1 };

    /// `numerator / denominator`.
    ///
    /// # Errors
    ///
    /// [`BackoffError::ZeroDenominator`], [`BackoffError::MultiplierBelowOne`],
    /// or [`BackoffError::MultiplierTooClose`] for a ratio in `(1, 17/16)`.
    pub const fn ratio(numerator: u32, denominator: u32) -> Result<Self, BackoffError> {
        if denominator == 0 {
            return Err(BackoffError::ZeroDenominator);
        }
        let (num, den) = (numerator as u64, denominator as u64);
        if num < den {
            return Err(BackoffError::MultiplierBelowOne);
        }
        // Both products are below 2^37: no overflow.
        if num != den && num.saturating_mul(16) < den.saturating_mul(17) {
            return Err(BackoffError::MultiplierTooClose);
        }
        Ok(Self {
            num: numerator,
            den: denominator,
        })
    }

    /// The numerator as given.
    pub const fn numerator(&self) -> u32 {
        self.num
    }

    /// The denominator as given.
    pub const fn denominator(&self) -> u32 {
        self.den
    }

    /// `min(cap, ceil(t * m))`: one step of the exponential term.
    pub(crate) const fn grow(&self, t: u64, cap: u64) -> u64 {
        // `t < 2^64` and `num < 2^32`: the product fits u128; `den >= 1`.
        let product = (t as u128).saturating_mul(self.num as u128);
        let den = self.den as u128;
        let grown = match product.checked_div(den) {
            Some(q) if q.saturating_mul(den) < product => q.saturating_add(1),
            Some(q) => q,
            None => product,
        };
        if grown >= cap as u128 {
            cap
        } else {
            grown as u64
        }
    }
}

/// Exponential backoff with jitter: how long to wait before each retry.
///
/// The exponential term for retry `r` (0 for the first retry) is
///
/// ```text
/// t(0) = min(base, cap)
/// t(r + 1) = min(cap, ceil(t(r) * m))
/// ```
///
/// with the multiplier `m` a ratio (default 2). Rounding up makes a growing
/// schedule grow by at least one tick per retry even from a base of one tick.
/// A delay is then drawn from `t` by the [`Jitter`] formula, with randomness
/// you supply: a uniform `u64` per call to [`delay`](Backoff::delay), or any
/// [`RandomSource`] (such as a seeded [`SplitMix64`](super::SplitMix64)) for
/// the [`schedule`](Backoff::schedule) iterator. There is no global state.
///
/// A server's `Retry-After` is a floor: [`delay_with_retry_after`](Backoff::delay_with_retry_after)
/// and [`BackoffSchedule::next_with_retry_after`] return at least that wait,
/// even above the cap (the server knows when it will answer; a client that
/// will not wait that long should give up instead).
///
/// Every computation saturates: any retry index, `u32::MAX` included, any
/// base or cap. Computing `t(r)` directly takes `min(r, s)` steps, where `s`
/// is the number of steps to the cap (at most about 750 for the smallest
/// allowed multiplier over the whole 64-bit range, at most 64 for 2); the
/// iterator takes one step per retry.
///
/// `max_attempts` counts attempts, the first one included, as gRPC's
/// `maxAttempts` does: a backoff with `max_attempts(4)` gives at most 3 delays.
/// The default is `u32::MAX`.
///
/// ```
/// use ratecore::client::{Backoff, Jitter, SplitMix64};
/// use ratecore::Duration;
///
/// type Ms = Duration<1_000>;
/// let backoff = Backoff::new(Ms::from_ticks(100), Ms::from_ticks(10_000))
///     .jitter(Jitter::None)
///     .max_attempts(5);
/// let delays: Vec<u64> = backoff.schedule(SplitMix64::new(7)).map(|d| d.as_ticks()).collect();
/// assert_eq!(delays, [100, 200, 400, 800]);
///
/// // Full jitter: each delay is uniform in [0, t].
/// let full = backoff.jitter(Jitter::Full);
/// assert!(full.delay(3, Ms::from_ticks(0), u64::MAX).unwrap().as_ticks() <= 800);
/// // A server's Retry-After of 2 s wins over a shorter delay.
/// let wait = full.delay_with_retry_after(0, Ms::from_ticks(0), 0, Some(Ms::from_ticks(2_000)));
/// assert_eq!(wait.unwrap().as_ticks(), 2_000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Backoff<const HZ: u64> {
    base: u64,
    cap: u64,
    multiplier: Multiplier,
    jitter: Jitter,
    max_attempts: u32,
}

impl<const HZ: u64> Backoff<HZ> {
    /// Delays from `base` growing to at most `cap`, doubling, with full
    /// jitter and no attempt limit. A base above the cap is the cap.
    pub const fn new(base: Duration<HZ>, cap: Duration<HZ>) -> Self {
        Self {
            base: base.as_ticks(),
            cap: cap.as_ticks(),
            multiplier: Multiplier::TWO,
            jitter: Jitter::Full,
            max_attempts: u32::MAX,
        }
    }

    /// The same backoff growing by `multiplier` per retry.
    #[must_use]
    pub const fn multiplier(self, multiplier: Multiplier) -> Self {
        Self { multiplier, ..self }
    }

    /// The same backoff with another jitter.
    #[must_use]
    pub const fn jitter(self, jitter: Jitter) -> Self {
        Self { jitter, ..self }
    }

    /// The same backoff allowing at most `attempts` attempts in total (the
    /// first one included): `attempts - 1` delays, none for 0 or 1.
    #[must_use]
    pub const fn max_attempts(self, attempts: u32) -> Self {
        Self {
            max_attempts: attempts,
            ..self
        }
    }

    /// The first delay before jitter.
    pub const fn base(&self) -> Duration<HZ> {
        Duration::<HZ>::from_ticks(self.base)
    }

    /// The largest delay before `Retry-After`.
    pub const fn cap(&self) -> Duration<HZ> {
        Duration::<HZ>::from_ticks(self.cap)
    }

    /// The growth factor.
    pub const fn growth(&self) -> Multiplier {
        self.multiplier
    }

    /// The jitter formula.
    pub const fn jitter_kind(&self) -> Jitter {
        self.jitter
    }

    /// The most retries (delays): `max_attempts - 1`.
    pub const fn retries(&self) -> u32 {
        self.max_attempts.saturating_sub(1)
    }

    /// `t(0) = min(base, cap)`, in ticks.
    pub(crate) const fn first_term(&self) -> u64 {
        if self.base < self.cap {
            self.base
        } else {
            self.cap
        }
    }

    /// `t(r + 1)` from `t(r)`, in ticks.
    pub(crate) const fn next_term(&self, term: u64) -> u64 {
        self.multiplier.grow(term, self.cap)
    }

    /// The exponential term `t(retry)` before jitter, whatever the attempt limit.
    pub const fn exponential(&self, retry: u32) -> Duration<HZ> {
        let mut term = self.first_term();
        let mut step = 0;
        while step < retry {
            let next = self.next_term(term);
            // A fixed point (the cap, a multiplier of 1, a zero base) stays put:
            // stop early, so any `retry` costs at most the steps to the cap.
            if next == term {
                break;
            }
            term = next;
            step = step.saturating_add(1);
        }
        Duration::<HZ>::from_ticks(term)
    }

    /// The jittered delay for exponential term `term` (ticks), from a uniform
    /// `random` and, for decorrelated jitter, the previous delay.
    pub(crate) const fn draw(&self, term: u64, previous: u64, random: u64) -> u64 {
        match self.jitter {
            Jitter::None => term,
            Jitter::Full => uniform(random, 0, term),
            Jitter::Equal => {
                let half = term / 2;
                // `half <= term`; the sum is at most `term`.
                half.saturating_add(uniform(random, 0, term.saturating_sub(half)))
            }
            Jitter::Decorrelated => {
                let low = self.first_term();
                let previous = if previous > low { previous } else { low };
                let drawn = uniform(random, low, previous.saturating_mul(3));
                if drawn < self.cap { drawn } else { self.cap }
            }
        }
    }

    /// The delay before retry `retry` (0 for the first retry), or `None` when
    /// the attempts are used up.
    ///
    /// `random` should be a uniform `u64`, fresh for each call. `previous` is
    /// the delay returned for the retry before; only decorrelated jitter uses
    /// it, and anything below `base` (a zero for the first retry) counts as `base`.
    pub const fn delay(
        &self,
        retry: u32,
        previous: Duration<HZ>,
        random: u64,
    ) -> Option<Duration<HZ>> {
        if retry >= self.retries() {
            return None;
        }
        let term = self.exponential(retry).as_ticks();
        Some(Duration::<HZ>::from_ticks(self.draw(
            term,
            previous.as_ticks(),
            random,
        )))
    }

    /// [`delay`](Backoff::delay), raised to at least the server's `retry_after`.
    pub const fn delay_with_retry_after(
        &self,
        retry: u32,
        previous: Duration<HZ>,
        random: u64,
        retry_after: Option<Duration<HZ>>,
    ) -> Option<Duration<HZ>> {
        match self.delay(retry, previous, random) {
            Some(delay) => Some(at_least(delay, retry_after)),
            None => None,
        }
    }

    /// The delays one after another, drawing randomness from `random`.
    pub fn schedule<R: RandomSource>(&self, random: R) -> BackoffSchedule<HZ, R> {
        BackoffSchedule::new(*self, random)
    }
}

/// `delay`, or the server's `retry_after` if that is longer.
pub(crate) const fn at_least<const HZ: u64>(
    delay: Duration<HZ>,
    retry_after: Option<Duration<HZ>>,
) -> Duration<HZ> {
    match retry_after {
        Some(floor) if floor.as_ticks() > delay.as_ticks() => floor,
        _ => delay,
    }
}
