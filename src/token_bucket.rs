//! The token bucket, with greedy or interval refill.

use crate::algorithm::{refund_word, reserve_word, status_word};
use crate::decision::Denied;
use crate::macros::const_fn;
use crate::quota::{Quota, QuotaError};
use crate::reservation::Reservation;
use crate::schedule::Schedule;
use crate::sync::{AtomicU64, Ordering};
use crate::time::{Duration, Instant, NANOS};

/// How a [`TokenBucket`] refills.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RefillMode {
    /// Continuously: a token every `period / count`, as soon as it is earned.
    /// Decides exactly as [`Gcra`](crate::Gcra) with the same quota.
    Greedy,
    /// All at once: `count` tokens at every multiple of the period from tick 0
    /// (capped at the burst). The period is rounded up to whole ticks.
    Interval,
}

/// A bucket of `burst` tokens refilled at the quota's rate, in one atomic `u64`.
///
/// A check of `n` takes `n` tokens if there are that many, and otherwise takes
/// none and says exactly when there will be. The bucket starts full.
///
/// ```
/// use ratecore::{Instant, Limiter, Quota, RefillMode, TokenBucket};
///
/// // 3 tokens every second, all at once, at most 5 saved up.
/// let bucket = TokenBucket::<1_000>::new(Quota::per_second(3).burst(5), RefillMode::Interval).unwrap();
/// let t = |ms| Instant::<1_000>::from_ticks(ms);
/// assert!(bucket.check_n_at(5, t(10)).is_ok());
/// assert_eq!(bucket.available_at(t(999)), 0);
/// assert_eq!(bucket.available_at(t(1_000)), 3);
/// ```
///
/// # Precision
///
/// Greedy refill has [`Gcra`'s precision](crate::Gcra#precision). Interval
/// refill adds exactly `count` tokens per period; only the period is rounded,
/// up to whole ticks.
///
/// # Range and progress
///
/// As for [`Gcra`](crate::Gcra#range): instants past the horizon are evaluated
/// as the horizon, stale instants only make decisions stricter, and the word
/// is lock-free where the target has a 64-bit compare-and-swap.
#[derive(Debug)]
pub struct TokenBucket<const HZ: u64 = NANOS> {
    tat: AtomicU64,
    schedule: Schedule,
    mode: RefillMode,
}

const fn schedule(quota: &Quota, mode: RefillMode, hz: u64) -> Result<Schedule, QuotaError> {
    match mode {
        RefillMode::Greedy => Schedule::continuous(quota, hz),
        RefillMode::Interval => Schedule::interval(quota, hz),
    }
}

impl<const HZ: u64> TokenBucket<HZ> {
    const_fn! {
        /// A full bucket for `quota`, in ticks of `1 / HZ` seconds.
        ///
        /// # Errors
        ///
        /// A [`QuotaError`] if the quota is zero somewhere or does not fit 64-bit ticks.
        pub const fn new(quota: Quota, mode: RefillMode) -> Result<Self, QuotaError> {
            match schedule(&quota, mode, HZ) {
                Ok(schedule) => Ok(Self { tat: AtomicU64::new(0), schedule, mode }),
                Err(e) => Err(e),
            }
        }
    }

    /// The capacity: the most tokens the bucket holds.
    pub const fn burst(&self) -> u32 {
        self.schedule.burst
    }

    /// How the bucket refills.
    pub const fn mode(&self) -> RefillMode {
        self.mode
    }

    /// The last instant evaluated as itself; later ones are evaluated as this one.
    pub const fn horizon(&self) -> Instant<HZ> {
        Instant::<HZ>::from_ticks(self.schedule.horizon)
    }

    /// Tokens in the bucket at `now` (whole tokens; a partly earned one does not count).
    pub fn available_at(&self, now: Instant<HZ>) -> u32 {
        status_word(&self.tat, &self.schedule, now).remaining
    }

    /// Puts `n` tokens into the bucket (never above the burst).
    pub fn add_tokens(&self, n: u32) {
        let _ = refund_word(&self.tat, &self.schedule, n, Instant::<HZ>::from_ticks(0));
    }

    /// Fills the bucket.
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

    /// Changes the quota (and keeps the refill mode) at `now`, carrying over
    /// the tokens in use (rounded up, at most the new burst).
    ///
    /// The tokens in use are counted at `now`, or, for a stale `now` (earlier
    /// than the state has seen) or a bucket booked ahead by reservations, at
    /// the first instant at which the old state is back within its burst: a
    /// stale instant never forgives tokens, and the change is never looser
    /// than the old quota kept at the state's instants.
    ///
    /// # Errors
    ///
    /// A [`QuotaError`] for an invalid quota; the bucket is then unchanged.
    pub fn set_quota_at(&mut self, quota: Quota, now: Instant<HZ>) -> Result<(), QuotaError> {
        let schedule = schedule(&quota, self.mode, HZ)?;
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

impl<const HZ: u64> TokenBucket<HZ> {
    /// Books `n` units at `now` for the first instant at which they fit, if
    /// that is at most `max_wait` away: shaping instead of rejecting.
    ///
    /// The booking counts the units at once and moves the bucket's state
    /// past its capacity if need be; the returned [`Reservation`] says when
    /// they may be used. A booking for instant `r` changes the bucket exactly
    /// as a check admitted at `r` would, so the quota holds for the units by
    /// the instants they are used at. With `max_wait` zero it is a check.
    ///
    /// ```
    /// use ratecore::{Duration, TokenBucket, Instant, Limiter, Quota, RefillMode};
    ///
    /// let bucket = TokenBucket::<1_000>::new(Quota::per_second(10).burst(2), RefillMode::Greedy).unwrap();
    /// let t0 = Instant::<1_000>::from_ticks(0);
    /// let wait = Duration::<1_000>::from_ticks(1_000);
    /// assert!(bucket.check_n_at(2, t0).is_ok()); // the burst is spent
    /// let next = bucket.reserve_n_at(1, t0, wait).unwrap();
    /// assert_eq!(next.ready_at().as_ticks(), 100); // one unit per 100 ms
    /// let later = bucket.reserve_n_at(1, t0, wait).unwrap();
    /// assert_eq!(later.ready_at().as_ticks(), 200);
    /// // 2 more would be ready at 400 ms: further out than 300 ms, so
    /// // refused, and nothing changes.
    /// let short = Duration::<1_000>::from_ticks(300);
    /// assert!(bucket.reserve_n_at(2, t0, short).is_err());
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

/// The configuration and the raw state word (the bucket's theoretical arrival
/// time, in virtual units).
#[cfg(feature = "defmt")]
impl<const HZ: u64> defmt::Format for TokenBucket<HZ> {
    fn format(&self, f: defmt::Formatter<'_>) {
        // Relaxed: a diagnostic read of the single state word.
        let tat = self.tat.load(Ordering::Relaxed);
        defmt::write!(
            f,
            "TokenBucket {{ burst: {=u32}, mode: {}, at {=u64} Hz, tat: {=u64} }}",
            self.burst(),
            self.mode,
            HZ,
            tat
        );
    }
}

crate::one_word::one_word_limiter!(TokenBucket, tat, schedule: Schedule);
