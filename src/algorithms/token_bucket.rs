//! The token bucket, with greedy or interval refill.

use crate::algorithms::tat::{Continuous, Interval, Schedule};
use crate::answer::Status;
use crate::kernel::{
    Algorithm, Booking, Carry, Limiter, Reconfigure, Refund, Step, WordLimiter, fingerprint,
};
use crate::quota::{Quota, QuotaError};
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
/// is lock-free where the target has a 64-bit compare-and-swap. The horizon
/// of greedy refill is `Gcra`'s. Interval refill counts `count` tokens a
/// period on its 64-bit line, so its horizon is as far as `Gcra`'s (2^32
/// seconds from tick 0, less the time the burst takes to refill and one
/// tick) for a rate of at most 2^32 tokens a second (the period rounded up
/// to whole ticks),
/// and about `2^64 / count` periods for a faster one: 4,000,000,000 tokens
/// a millisecond at 1 kHz reach it after 53 days.
pub type TokenBucket<const HZ: u64 = NANOS> = WordLimiter<TokenBucketConfig<HZ>>;

/// The configuration of a [`TokenBucket`]: the quota in ticks of `1 / HZ`
/// seconds and the refill mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TokenBucketConfig<const HZ: u64 = NANOS> {
    schedule: Schedules,
}

/// The schedule of each refill mode, each compiled for its own mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Schedules {
    Greedy(Schedule<Continuous>),
    Interval(Schedule<Interval>),
}

/// Runs `$body` with `$s` bound to the schedule of whichever mode `$schedules` has.
macro_rules! with_schedule {
    ($schedules:expr, |$s:ident| $body:expr) => {
        match $schedules {
            Schedules::Greedy($s) => $body,
            Schedules::Interval($s) => $body,
        }
    };
}

const fn schedule(quota: &Quota, mode: RefillMode, hz: u64) -> Result<Schedules, QuotaError> {
    match mode {
        RefillMode::Greedy => match Schedule::continuous(quota, hz) {
            Ok(s) => Ok(Schedules::Greedy(s)),
            Err(e) => Err(e),
        },
        RefillMode::Interval => match Schedule::interval(quota, hz) {
            Ok(s) => Ok(Schedules::Interval(s)),
            Err(e) => Err(e),
        },
    }
}

impl<const HZ: u64> TokenBucketConfig<HZ> {
    /// The configuration for `quota` with refill `mode`, in ticks of `1 / HZ` seconds.
    ///
    /// # Errors
    ///
    /// A [`QuotaError`] if the quota is zero somewhere or does not fit 64-bit ticks.
    pub const fn new(quota: Quota, mode: RefillMode) -> Result<Self, QuotaError> {
        match schedule(&quota, mode, HZ) {
            Ok(schedule) => Ok(Self { schedule }),
            Err(e) => Err(e),
        }
    }

    /// The capacity: the most tokens the bucket holds.
    pub const fn burst(&self) -> u32 {
        match &self.schedule {
            Schedules::Greedy(s) => s.burst.get(),
            Schedules::Interval(s) => s.burst.get(),
        }
    }

    /// The refill mode.
    pub const fn mode(&self) -> RefillMode {
        match self.schedule {
            Schedules::Greedy(_) => RefillMode::Greedy,
            Schedules::Interval(_) => RefillMode::Interval,
        }
    }

    /// The last instant evaluated as itself; later ones are evaluated as this one.
    pub const fn horizon(&self) -> Instant<HZ> {
        Instant::<HZ>::from_ticks(match &self.schedule {
            Schedules::Greedy(s) => s.horizon,
            Schedules::Interval(s) => s.horizon,
        })
    }
}

/// The state word is the bucket's theoretical arrival time in virtual units
/// (the GCRA machine read as tokens); `0` is a full bucket.
impl<const HZ: u64> Algorithm<HZ> for TokenBucketConfig<HZ> {
    const NAME: &'static str = "token-bucket";

    fn fingerprint(&self) -> u64 {
        let [a, b, c, d, e] = with_schedule!(&self.schedule, |s| s.words());
        fingerprint(b"token-bucket", &[HZ, a, b, c, d, e])
    }

    #[inline(always)]
    fn decide(&self, state: u64, n: u32, now: Instant<HZ>) -> Step<HZ> {
        with_schedule!(&self.schedule, |s| s.decide(state, n, now.as_ticks()))
    }

    /// Clamps `now` and computes its virtual time (for interval refill, the
    /// period that holds it) before the word is loaded, as
    /// [`Gcra`](crate::Gcra)'s check does. The refill mode is then matched
    /// twice, before the word and after it (2 instructions more for a
    /// greedy check); with two threads on one bucket a check took about
    /// 0.94 times governor's time instead of about 1.07 (greedy), and about
    /// 1.55 instead of about 1.95 (interval). Not on bare-metal targets, as
    /// for `Gcra`.
    #[cfg(not(target_os = "none"))]
    #[inline(always)]
    fn decider(&self, n: u32, now: Instant<HZ>) -> impl Fn(u64) -> Step<HZ> {
        let clamped = with_schedule!(&self.schedule, |s| s.virtual_now(now.as_ticks()));
        crate::kernel::sync::config_before_word();
        #[inline(always)]
        move |state| with_schedule!(&self.schedule, |s| s.decide_with(state, n, || clamped))
    }

    #[inline]
    fn status(&self, state: u64, now: Instant<HZ>) -> Status<HZ> {
        with_schedule!(&self.schedule, |s| s.status(state, now.as_ticks()))
    }

    #[inline]
    fn refund(&self, state: u64, n: u32, _now: Instant<HZ>) -> u64 {
        with_schedule!(&self.schedule, |s| s.refund(state, n))
    }

    #[inline]
    fn idle_after(&self, state: u64, now: Instant<HZ>) -> Option<Duration<HZ>> {
        with_schedule!(&self.schedule, |s| s.idle_after(state, now.as_ticks()))
            .map(Duration::<HZ>::from_ticks)
    }

    #[inline]
    fn reserve(&self, state: u64, n: u32, now: Instant<HZ>, max_wait: Duration<HZ>) -> Booking<HZ> {
        with_schedule!(&self.schedule, |s| s.reserve(
            state,
            n,
            now.as_ticks(),
            max_wait.as_ticks()
        ))
    }
}

/// Carries the units in use at `at` (see [`Reconfigure`]'s rules), counted
/// where the state is booked if that is later, so a stale instant or a state
/// booked ahead forgives nothing.
impl<const HZ: u64> Reconfigure<HZ> for TokenBucketConfig<HZ> {
    fn carry(&self, state: u64, next: &Self, carry: Carry, at: Instant<HZ>) -> u64 {
        let at = at.as_ticks();
        // Plans of both refill modes may share a `Reconfigurable`: the units
        // in use are counted under the old mode and booked under the new.
        with_schedule!(&self.schedule, |old| with_schedule!(
            &next.schedule,
            |new| old.carry_by(state, new, carry, at)
        ))
    }
}

impl<const HZ: u64> WordLimiter<TokenBucketConfig<HZ>> {
    crate::macros::forward_config! {
        /// A full bucket for `quota` with refill `mode`, in ticks of `1 / HZ` seconds.
        ///
        /// # Errors
        ///
        /// A [`QuotaError`] if the quota is zero somewhere or does not fit 64-bit ticks.
        pub const fn new(quota: Quota, mode: RefillMode) -> Result<Self, QuotaError>
            = TokenBucketConfig;

        /// The capacity: the most tokens the bucket holds.
        pub const fn burst(&self) -> u32;

        /// The refill mode.
        pub const fn mode(&self) -> RefillMode;

        /// The last instant evaluated as itself; later ones are evaluated as this one.
        pub const fn horizon(&self) -> Instant<HZ>;
    }

    /// Tokens available at `now`.
    pub fn available_at(&self, now: Instant<HZ>) -> u32 {
        self.snapshot_at(now).remaining()
    }

    /// Puts `n` tokens back (never above the capacity): a refund.
    pub fn add_tokens(&self, n: u32) {
        let _ = self.refund_n_at(n, Instant::<HZ>::from_ticks(0));
    }

    /// Changes the quota at `now`, carrying over the tokens in use (rounded
    /// up, at most the new capacity). The refill mode stays.
    ///
    /// The instant rule of [`Gcra::set_quota_at`](crate::Gcra::set_quota_at)
    /// holds here too: `now` should be the latest instant the bucket has
    /// seen. At a stale `now` a greedy bucket forgives at most what a `Gcra`
    /// does; an interval bucket can forgive more, the refills of the
    /// interval boundaries between `now` and the latest instant.
    /// [`Reconfigurable`](crate::kernel::Reconfigurable) has no such gap.
    ///
    /// # Errors
    ///
    /// A [`QuotaError`] for an invalid quota; the bucket is then unchanged.
    pub fn set_quota_at(&mut self, quota: Quota, now: Instant<HZ>) -> Result<(), QuotaError> {
        let next = TokenBucketConfig::<HZ>::new(quota, self.mode())?;
        let now = now.as_ticks();
        let state = match (&self.algorithm().schedule, &next.schedule) {
            (Schedules::Greedy(old), Schedules::Greedy(new)) => {
                old.carry_over(self.state(), new, now)
            }
            (Schedules::Interval(old), Schedules::Interval(new)) => {
                old.carry_over(self.state(), new, now)
            }
            // The mode stays, so the two schedules have the same mode; were
            // they not, a fresh bucket is the only state both can read.
            _ => 0,
        };
        self.replace(next, state);
        Ok(())
    }
}
