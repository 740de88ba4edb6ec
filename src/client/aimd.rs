//! Adaptive pacing: additive increase, multiplicative decrease.

use crate::answer::{Decision, Denied};
use crate::kernel::cas::{Next, update};
use crate::kernel::sync::{AtomicU64, Ordering};
use crate::macros::const_fn;
use crate::time::{Duration, Instant, NANOS};

/// Thousandths of a request per second in one request per second: rates are
/// integers in mHz, so `3 * PER_SECOND` is three requests per second and
/// `PER_SECOND / 4` one every four seconds.
pub const PER_SECOND: u64 = 1_000;

crate::macros::error_enum! {
    /// Why an [`AimdConfig`] was refused. Nothing was built.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[cfg_attr(feature = "defmt", derive(defmt::Format))]
    #[non_exhaustive]
    pub enum AimdError {
        /// The floor is zero: a pacer must always be able to send again.
        ZeroFloor => "the pacing floor is zero",
        /// The floor is above the ceiling.
        FloorAboveCeiling => "the pacing floor is above the ceiling",
        /// The starting rate is outside `[floor, ceiling]`.
        StartOutOfRange => "the starting rate is outside [floor, ceiling]",
        /// The additive increase is zero: the rate could never rise.
        ZeroIncrease => "the additive increase is zero",
        /// The decrease factor is not a ratio strictly between 0 and 1.
        BadDecrease => "the decrease factor is not strictly between 0 and 1",
        /// The headroom fraction is not a ratio in `[0, 1)`.
        BadHeadroom => "the headroom fraction is not in [0, 1)",
    }
}

/// The parameters of an [`AimdPacer`], all in integers; rates in mHz (see
/// [`PER_SECOND`]).
///
/// Defaults: start at the floor, increase by one request per second per
/// response with headroom, halve on a `429`, and count a response as having
/// headroom when `remaining` is above a fifth of `limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AimdConfig {
    floor: u64,
    ceiling: u64,
    start: u64,
    increase: u64,
    decrease: (u32, u32),
    headroom: (u32, u32),
}

impl AimdConfig {
    /// A rate between `floor` and `ceiling` (mHz), starting at the floor.
    pub const fn new(floor: u64, ceiling: u64) -> Self {
        Self {
            floor,
            ceiling,
            start: floor,
            increase: PER_SECOND,
            decrease: (1, 2),
            headroom: (1, 5),
        }
    }

    /// Starts at `rate` (mHz) instead of the floor.
    #[must_use]
    pub const fn start(self, rate: u64) -> Self {
        Self {
            start: rate,
            ..self
        }
    }

    /// Adds `step` (mHz) per response with headroom.
    #[must_use]
    pub const fn increase(self, step: u64) -> Self {
        Self {
            increase: step,
            ..self
        }
    }

    /// Multiplies the rate by `numerator / denominator` (strictly between 0
    /// and 1, rounded down) on each `429`.
    #[must_use]
    pub const fn decrease(self, numerator: u32, denominator: u32) -> Self {
        Self {
            decrease: (numerator, denominator),
            ..self
        }
    }

    /// A response shows headroom when `remaining * denominator > limit * numerator`,
    /// that is when more than `numerator / denominator` of the limit is left.
    #[must_use]
    pub const fn headroom(self, numerator: u32, denominator: u32) -> Self {
        Self {
            headroom: (numerator, denominator),
            ..self
        }
    }

    const fn validate(&self) -> Result<(), AimdError> {
        if self.floor == 0 {
            return Err(AimdError::ZeroFloor);
        }
        if self.floor > self.ceiling {
            return Err(AimdError::FloorAboveCeiling);
        }
        if self.start < self.floor || self.start > self.ceiling {
            return Err(AimdError::StartOutOfRange);
        }
        if self.increase == 0 {
            return Err(AimdError::ZeroIncrease);
        }
        let (num, den) = self.decrease;
        if num == 0 || num >= den {
            return Err(AimdError::BadDecrease);
        }
        let (num, den) = self.headroom;
        if num >= den {
            return Err(AimdError::BadHeadroom);
        }
        Ok(())
    }

    /// `rate` after a response with headroom.
    const fn increased(&self, rate: u64) -> u64 {
        let rate = rate.saturating_add(self.increase);
        if rate > self.ceiling {
            self.ceiling
        } else {
            rate
        }
    }

    /// `rate` after a `429`.
    const fn decreased(&self, rate: u64) -> u64 {
        let (num, den) = self.decrease;
        // `rate * num < 2^96` fits u128; `den > num >= 1`; the quotient is
        // below `rate`, so it fits u64.
        let rate = match (rate as u128)
            .saturating_mul(num as u128)
            .checked_div(den as u128)
        {
            Some(r) => r as u64,
            None => rate,
        };
        if rate < self.floor { self.floor } else { rate }
    }

    /// Whether `remaining` of `limit` shows headroom.
    const fn has_headroom(&self, remaining: u32, limit: u32) -> bool {
        let (num, den) = self.headroom;
        // Products of two u32s fit u64.
        (remaining as u64).saturating_mul(den as u64) > (limit as u64).saturating_mul(num as u64)
    }
}

/// Ticks between sends at `rate` mHz: `ceil(HZ * 1000 / rate)`, at least one
/// tick (rounding up makes the pacer slightly slower than the rate, never faster).
const fn interval_ticks(hz: u64, rate: u64) -> u64 {
    let per = (hz as u128).saturating_mul(PER_SECOND as u128);
    let rate = rate as u128;
    let ticks = match per.checked_div(rate) {
        Some(q) if q.saturating_mul(rate) < per => q.saturating_add(1),
        Some(q) => q,
        None => per,
    };
    if ticks == 0 {
        1
    } else if ticks > u64::MAX as u128 {
        u64::MAX
    } else {
        ticks as u64
    }
}

/// A client-side pacer that finds a server's unknown rate limit by AIMD, as
/// TCP finds a path's capacity: the sending rate rises by a fixed step for
/// each response that shows headroom (`remaining` above a fraction of
/// `limit`) and is multiplied by a factor below one on each `429`, always
/// within `[floor, ceiling]`.
///
/// Sends are spaced by the interval of the current rate, `ceil(HZ * 1000 /
/// rate)` ticks (at least one). [`next_send_at`](AimdPacer::next_send_at) is the
/// next instant a send is allowed; [`try_acquire_at`](AimdPacer::try_acquire_at)
/// takes that slot if it has come, and [`reserve_at`](AimdPacer::reserve_at)
/// books the next slot and says when it is. A `429`'s `Retry-After` also
/// pushes the next slot to at least `now + retry_after`. There is no burst:
/// a pacer that was idle sends at once, then one interval later.
///
/// # Convergence
///
/// Against a server admitting `R` requests per second with burst `b`, a
/// sequential client (one request in flight) settles into the AIMD sawtooth:
/// below `R` the server's bucket stays full and every response shows
/// headroom, so the rate climbs by the step `s` per response; above `R` the
/// bucket drains, the headroom signal stops the climb once the bucket is
/// below the fraction, and the `429` that follows multiplies the rate by the
/// decrease factor. The overshoot grows like `sqrt(b * s * R)`: the bucket's
/// `b` requests absorb the climb past `R` for a while.
///
/// `tests/aimd_props.rs` checks this band in a deterministic simulation (a
/// [`ManualClock`](crate::clock::ManualClock), a [`Gcra`](crate::Gcra) as the
/// server) for every `R` from 2 to 300 per second, `b` from 3 to 20, `s`
/// from 0.5 to 5 requests per second per response, the default factors
/// (halve on a `429`, headroom above a fifth of the limit), over the second
/// half of 120 simulated seconds:
///
/// - admitted throughput at least **`0.75 R`** (and never more than the
///   server's quota, `R` per second plus `b`);
/// - the rate never below **`0.45 R`** (one halving from about `R`), and
///   never above **`R + 2.5 * sqrt(b * s * R)`**.
///
/// A server whose limit is 1 reports `remaining = 0` after every admitted
/// request, so it never shows headroom and the rate stays where it is.
///
/// # Atomicity
///
/// The state is two words, each changed only by compare-and-swap: the rate
/// (mHz) and the next allowed send instant. They are independent on purpose:
/// every value either word can hold is valid with any value of the other, so
/// no reader can see a torn state. The rate is always within `[floor,
/// ceiling]` (every write is clamped), and the next-send instant never moves
/// backwards (every write is larger than the value it replaces). A send that
/// races with a rate change is spaced by the rate before or after the
/// change, as if it had happened just before or just after it. Lock-free
/// where the target has a native 64-bit compare-and-swap (see
/// [`Gcra`](crate::Gcra#progress) for the other targets).
///
/// ```
/// use ratecore::client::{AimdConfig, AimdPacer, PER_SECOND};
/// use ratecore::Instant;
///
/// let pacer = AimdPacer::<1_000>::new(AimdConfig::new(PER_SECOND, 100 * PER_SECOND)).unwrap();
/// let t0 = Instant::<1_000>::from_ticks(0);
/// assert!(pacer.try_acquire_at(t0).is_ok());
/// assert_eq!(pacer.next_send_at().as_ticks(), 1_000); // 1 request per second
///
/// pacer.on_response(90, 100); // plenty left: +1 request per second
/// assert_eq!(pacer.rate(), 2 * PER_SECOND);
/// pacer.on_throttled_at(t0, None); // 429: halve
/// assert_eq!(pacer.rate(), PER_SECOND);
/// ```
#[derive(Debug)]
pub struct AimdPacer<const HZ: u64 = NANOS> {
    config: AimdConfig,
    /// mHz, always within `[floor, ceiling]`.
    rate: AtomicU64,
    /// The next instant a send is allowed, in ticks; never decreases.
    next: AtomicU64,
}

impl<const HZ: u64> AimdPacer<HZ> {
    const_fn! {
        /// A pacer at the configuration's starting rate, free to send at once.
        ///
        /// # Errors
        ///
        /// An [`AimdError`] naming the parameter that is out of range.
        pub const fn new(config: AimdConfig) -> Result<Self, AimdError> {
            match config.validate() {
                Ok(()) => Ok(Self {
                    config,
                    rate: AtomicU64::new(config.start),
                    next: AtomicU64::new(0),
                }),
                Err(e) => Err(e),
            }
        }
    }

    /// The configuration.
    pub const fn config(&self) -> &AimdConfig {
        &self.config
    }

    /// The current rate in mHz (see [`PER_SECOND`]).
    pub fn rate(&self) -> u64 {
        // Relaxed: a single word read for reporting; nothing is published with it.
        self.rate.load(Ordering::Relaxed)
    }

    /// The current spacing between sends.
    pub fn interval(&self) -> Duration<HZ> {
        Duration::<HZ>::from_ticks(interval_ticks(HZ, self.rate()))
    }

    /// The next instant at which a send is allowed.
    pub fn next_send_at(&self) -> Instant<HZ> {
        // Relaxed: a single word read; see `try_acquire_at`.
        Instant::<HZ>::from_ticks(self.next.load(Ordering::Relaxed))
    }

    /// Takes the send slot at `now` if it has come.
    ///
    /// # Errors
    ///
    /// The instant the next send is allowed, if it is after `now` (a stale
    /// or backwards `now` is refused, never granted an earlier slot).
    pub fn try_acquire_at(&self, now: Instant<HZ>) -> Result<(), Instant<HZ>> {
        let now = now.as_ticks();
        let interval = interval_ticks(HZ, self.rate());
        // Relaxed: the next-send word is independent of every other datum (see
        // the type's docs); the kernel's compare-and-swap loop orders its
        // updates by itself, and a failure hands back the slot another sender
        // took, which we decide again on.
        update(&self.next, Ordering::Relaxed, |next| {
            if now < next {
                Next::Keep(Err(Instant::<HZ>::from_ticks(next)))
            } else {
                Next::Store(now.saturating_add(interval), Ok(()))
            }
        })
        .0
    }

    /// Books the next send slot at or after `now` and returns its instant:
    /// wait until then, then send. Slots are handed out one interval apart.
    pub fn reserve_at(&self, now: Instant<HZ>) -> Instant<HZ> {
        let now = now.as_ticks();
        let interval = interval_ticks(HZ, self.rate());
        // Relaxed: as in `try_acquire_at`.
        let (slot, _, _) = update(&self.next, Ordering::Relaxed, |next| {
            let slot = if next > now { next } else { now };
            Next::Store(slot.saturating_add(interval), slot)
        });
        Instant::<HZ>::from_ticks(slot)
    }

    /// Feeds back a successful response's `remaining` and `limit` (from
    /// `X-RateLimit-Remaining` / `-Limit`, or the IETF `RateLimit` fields):
    /// with headroom, the rate rises by the step; otherwise it holds.
    pub fn on_response(&self, remaining: u32, limit: u32) {
        if self.config.has_headroom(remaining, limit) {
            self.update_rate(|rate| self.config.increased(rate));
        }
    }

    /// Feeds back a `429` received at `now`: the rate falls by the decrease
    /// factor, and a `Retry-After` pushes the next send to at least
    /// `now + retry_after`.
    pub fn on_throttled_at(&self, now: Instant<HZ>, retry_after: Option<Duration<HZ>>) {
        self.update_rate(|rate| self.config.decreased(rate));
        if let Some(wait) = retry_after {
            let until = now.as_ticks().saturating_add(wait.as_ticks());
            // Relaxed: a read-modify-write of the one next-send word; max keeps
            // it monotone whatever the interleaving.
            self.next.fetch_max(until, Ordering::Relaxed);
        }
    }

    /// Feeds back a [`Decision`] (from a ratecore limiter in a simulation, or
    /// one rebuilt from response headers): an admission is a response, a
    /// [`Denied::RateLimited`] a `429` with its `retry_after`. An
    /// [`ExceedsBurst`](crate::answer::ExceedsBurst) says nothing about the rate and
    /// changes nothing.
    pub fn on_decision_at(&self, now: Instant<HZ>, decision: &Decision<HZ>) {
        match decision {
            Ok(status) => self.on_response(status.remaining(), status.limit()),
            Err(Denied::RateLimited(limited)) => {
                self.on_throttled_at(now, Some(limited.retry_after()));
            }
            Err(_) => {}
        }
    }

    fn update_rate(&self, change: impl Fn(u64) -> u64) {
        // Relaxed: the rate word is independent of every other datum (see the
        // type's docs); the kernel's compare-and-swap loop orders its updates.
        let _ = update(&self.rate, Ordering::Relaxed, |rate| {
            Next::Store(change(rate), ())
        });
    }
}

crate::macros::defmt_format!(
    impl[const HZ: u64] for AimdPacer<HZ> => |pacer|
        "AimdPacer {{ rate: {=u64} mHz, next_send_at: {=u64} ticks at {=u64} Hz, config: {} }}",
        pacer.rate(),
        pacer.next_send_at().as_ticks(),
        HZ,
        pacer.config,
);

#[cfg(test)]
mod tests {
    use super::interval_ticks;

    #[test]
    fn interval_rounds_up_and_is_never_zero() {
        assert_eq!(interval_ticks(1_000, 1_000), 1_000);
        assert_eq!(interval_ticks(1_000, 3_000), 334);
        assert_eq!(interval_ticks(1_000, u64::MAX), 1);
        assert_eq!(interval_ticks(1_000_000_000, 1), 1_000_000_000_000);
        assert_eq!(interval_ticks(u64::MAX, 1), u64::MAX);
    }
}
