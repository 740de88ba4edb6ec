//! The generic cell rate algorithm.

use crate::algorithm::reserve_word;
use crate::decision::Denied;
use crate::macros::const_fn;
use crate::quota::{Quota, QuotaError};
use crate::reservation::Reservation;
use crate::schedule::{Refill, Schedule};
use crate::sync::{AtomicU64, Ordering};
use crate::time::{Duration, Instant, NANOS};

/// GCRA: a rate with a burst allowance, in one atomic `u64`.
///
/// With emission interval `T` (the time per unit) and burst `b`, the limiter
/// keeps a theoretical arrival time `tat` and admits `n` units at `now` iff
///
/// ```text
/// max(tat, now) + n*T - now <= b*T
/// ```
///
/// after which `tat = max(tat, now) + n*T`. No interval `[t0, t1]` admits more
/// than `b + (t1 - t0) / T` units plus what was [refunded](crate::Refund) in
/// it, a denial changes nothing, and the answer's `retry_after` is exact. It is the same machine as a greedy
/// [`TokenBucket`](crate::TokenBucket) holding `(b*T - backlog) / T` tokens.
///
/// ```
/// use ratecore::{Gcra, Instant, Limiter, Quota};
///
/// let limiter = Gcra::<1_000>::new(Quota::per_second(10).burst(2)).unwrap();
/// let t = Instant::<1_000>::from_ticks(0);
/// assert!(limiter.check_at(t).is_ok());
/// assert!(limiter.check_at(t).is_ok());
/// let denied = limiter.check_at(t).unwrap_err();
/// assert_eq!(denied.retry_after().unwrap().as_ticks(), 100); // one unit per 100 ms
/// ```
///
/// # Precision
///
/// Internally time is counted in `1 / scale` of a tick, where `scale` is the
/// smallest factor that makes `T` a whole number (at most `2^32 / HZ`, and at
/// least 1). So `T` is exact for every quota whose period, in ticks, times that
/// factor divides by the count: 7 per minute at 32,768 Hz, 10,000 per second at
/// 1 kHz and 100 per minute at 1 GHz are all exact. Otherwise `T` is rounded up
/// to the next `1 / scale` tick: the limiter is at most one such unit per `T`
/// slower than asked, never faster, and the burst is exact.
///
/// # Range
///
/// Instants after [`horizon`](Gcra::horizon) (at least 2^32 seconds, 136 years,
/// from tick 0 minus the burst's duration, for clock rates up to 2^32 Hz;
/// faster clocks' whole `u64` line is shorter than that) are evaluated as
/// the horizon: decisions there only get stricter, and `retry_after` is no
/// longer exact. Earlier instants than the state has seen (a stale reading, or
/// a clock that went backwards) are evaluated as they are, which can only
/// lower what is admitted.
///
/// # Progress
///
/// Lock-free where the target has a native 64-bit compare-and-swap. On targets
/// with a 32-bit compare-and-swap only (ARMv7-M, say), the word goes through
/// portable-atomic's fallback, a global spin-lock table: blocking, and not for
/// use from an interrupt that can preempt a holder on the same core. The
/// `critical-section` feature does not change that on those targets
/// (portable-atomic takes critical sections only where there is no
/// compare-and-swap at all); a single-core application that checks from
/// interrupts opts in to portable-atomic's single-core mode itself (its
/// `unsafe-assume-single-core` feature or cfg), which this crate never enables.
/// On cores without any compare-and-swap (thumbv6m, riscv32imc), the
/// `critical-section` feature is required, and each operation runs inside a
/// critical section: wait-free on a single core, and as good as the
/// application's implementation elsewhere. See the README's table.
#[derive(Debug)]
pub struct Gcra<const HZ: u64 = NANOS> {
    tat: AtomicU64,
    schedule: Schedule,
}

impl<const HZ: u64> Gcra<HZ> {
    const_fn! {
        /// A full limiter for `quota`, in ticks of `1 / HZ` seconds.
        ///
        /// # Errors
        ///
        /// A [`QuotaError`] if the quota is zero somewhere or does not fit 64-bit ticks.
        pub const fn new(quota: Quota) -> Result<Self, QuotaError> {
            match Schedule::continuous(&quota, HZ) {
                Ok(schedule) => Ok(Self { tat: AtomicU64::new(0), schedule }),
                Err(e) => Err(e),
            }
        }
    }

    /// The burst: the most units admitted at one instant.
    pub const fn burst(&self) -> u32 {
        self.schedule.burst
    }

    /// The emission interval `T` as `(units, scale)`: one admitted unit costs
    /// `units / scale` ticks, exactly.
    pub const fn emission_interval(&self) -> (u64, u64) {
        let schedule = self.schedule;
        match schedule.refill {
            Refill::Continuous { scale } => (schedule.cost, scale),
            // `Gcra` is always built continuous.
            Refill::Interval { period, count } => (period, count),
        }
    }

    /// The last instant evaluated as itself; later ones are evaluated as this one.
    pub const fn horizon(&self) -> Instant<HZ> {
        Instant::<HZ>::from_ticks(self.schedule.horizon)
    }

    /// Makes the limiter full, as if it had been idle forever.
    ///
    /// Takes `&mut self`: a reset rebuilds states that earlier charges
    /// stored, so no [`Receipt`](crate::Receipt) or
    /// [`Reservation`](crate::Reservation) may outlive it (an undo after it
    /// could give back units that later checks took). See
    /// [`Receipt`](crate::Receipt#why-a-receipt-borrows-its-limiter).
    pub fn reset(&mut self) {
        // Relaxed: `&mut self` excludes every other access.
        self.tat.store(0, Ordering::Relaxed);
    }

    /// Changes the quota at `now`, carrying over the units in use (rounded up,
    /// at most the new burst).
    ///
    /// The units in use are counted at `now`, or, for a stale `now` (earlier
    /// than the state has seen) or a state booked ahead by reservations, at
    /// the first instant at which the old state is back within its burst: a
    /// stale instant never forgives units, and the change is never looser
    /// than the old quota kept at the state's instants.
    ///
    /// # Errors
    ///
    /// A [`QuotaError`] for an invalid quota; the limiter is then unchanged.
    pub fn set_quota_at(&mut self, quota: Quota, now: Instant<HZ>) -> Result<(), QuotaError> {
        let schedule = Schedule::continuous(&quota, HZ)?;
        // Relaxed: `&mut self` excludes every other access.
        let tat = self.tat.load(Ordering::Relaxed);
        self.tat.store(
            self.schedule.carry_over(tat, &schedule, now.as_ticks()),
            Ordering::Relaxed,
        );
        self.schedule = schedule;
        Ok(())
    }
}

impl<const HZ: u64> Gcra<HZ> {
    /// Books `n` units at `now` for the first instant at which they fit, if
    /// that is at most `max_wait` away: shaping instead of rejecting.
    ///
    /// The booking counts the units at once and moves the limiter's state
    /// past its capacity if need be; the returned [`Reservation`] says when
    /// they may be used. A booking for instant `r` changes the limiter exactly
    /// as a check admitted at `r` would, so the quota holds for the units by
    /// the instants they are used at. With `max_wait` zero it is a check.
    ///
    /// ```
    /// use ratecore::{Duration, Gcra, Instant, Limiter, Quota};
    ///
    /// let limiter = Gcra::<1_000>::new(Quota::per_second(10).burst(2)).unwrap();
    /// let t0 = Instant::<1_000>::from_ticks(0);
    /// let wait = Duration::<1_000>::from_ticks(1_000);
    /// assert!(limiter.check_n_at(2, t0).is_ok()); // the burst is spent
    /// let next = limiter.reserve_n_at(1, t0, wait).unwrap();
    /// assert_eq!(next.ready_at().as_ticks(), 100); // one unit per 100 ms
    /// let later = limiter.reserve_n_at(1, t0, wait).unwrap();
    /// assert_eq!(later.ready_at().as_ticks(), 200);
    /// // 2 more would be ready at 400 ms: further out than 300 ms, so
    /// // refused, and nothing changes.
    /// let short = Duration::<1_000>::from_ticks(300);
    /// assert!(limiter.reserve_n_at(2, t0, short).is_err());
    /// assert_eq!(later.cancel(), 1); // nothing booked since: given back exactly
    /// ```
    ///
    /// # Errors
    ///
    /// [`Denied::RateLimited`] (with the exact `retry_after` a check would
    /// get) when the units fit only later than `max_wait`;
    /// [`Denied::ExceedsBurst`] when `n` is larger than the burst. A refusal
    /// changes nothing.
    pub fn reserve_n_at(
        &self,
        n: u32,
        now: Instant<HZ>,
        max_wait: Duration<HZ>,
    ) -> Result<Reservation<'_, HZ, Self>, Denied<HZ>> {
        let (ready, receipt) = reserve_word(&self.tat, self, n, now, max_wait)?;
        Ok(Reservation::new(&self.tat, self, receipt, ready))
    }
}

/// The configuration and the raw state word (the theoretical arrival time, in
/// `1 / scale` ticks).
#[cfg(feature = "defmt")]
impl<const HZ: u64> defmt::Format for Gcra<HZ> {
    fn format(&self, f: defmt::Formatter<'_>) {
        let (units, scale) = self.emission_interval();
        // Relaxed: a diagnostic read of the single state word.
        let tat = self.tat.load(Ordering::Relaxed);
        defmt::write!(
            f,
            "Gcra {{ burst: {=u32}, emission_interval: {=u64}/{=u64} ticks at {=u64} Hz, tat: {=u64} }}",
            self.burst(),
            units,
            scale,
            HZ,
            tat
        );
    }
}

crate::one_word::one_word_limiter!(Gcra, tat, schedule: Schedule);
