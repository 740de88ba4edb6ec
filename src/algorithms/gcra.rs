//! The generic cell rate algorithm.

use crate::algorithms::tat::{Continuous, Schedule};
use crate::answer::Status;
use crate::kernel::{Algorithm, Booking, Carry, Reconfigure, Step, WordLimiter, fingerprint};
use crate::quota::{Quota, QuotaError};
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
/// from tick 0 minus the burst's duration and one tick, for clock rates up
/// to 2^32 Hz; faster clocks' whole `u64` line is shorter than that) are
/// evaluated as the horizon: decisions there only get stricter, and
/// `retry_after` is no longer exact. Earlier instants than the state has
/// seen (a stale reading, or a clock that went backwards) are evaluated as
/// they are, which can only lower what is admitted.
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
pub type Gcra<const HZ: u64 = NANOS> = WordLimiter<GcraConfig<HZ>>;

/// The configuration of a [`Gcra`]: the quota in ticks of `1 / HZ` seconds,
/// and the decision as a pure function over the theoretical arrival time.
///
/// A `const` of this type and a `static` [`AtomicU64`](crate::kernel::AtomicU64)
/// make an 8-byte limiter ([`WordRef`](crate::kernel::WordRef)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct GcraConfig<const HZ: u64 = NANOS> {
    schedule: Schedule<Continuous>,
}

impl<const HZ: u64> GcraConfig<HZ> {
    /// The configuration for `quota`, in ticks of `1 / HZ` seconds.
    ///
    /// # Errors
    ///
    /// A [`QuotaError`] if the quota is zero somewhere or does not fit 64-bit ticks.
    pub const fn new(quota: Quota) -> Result<Self, QuotaError> {
        match Schedule::continuous(&quota, HZ) {
            Ok(schedule) => Ok(Self { schedule }),
            Err(e) => Err(e),
        }
    }

    /// The burst: the most units admitted at one instant.
    pub const fn burst(&self) -> u32 {
        self.schedule.burst.get()
    }

    /// The emission interval `T` as `(units, scale)`: one admitted unit costs
    /// `units / scale` ticks, exactly.
    pub const fn emission_interval(&self) -> (u64, u64) {
        (self.schedule.cost, self.schedule.refill.scale)
    }

    /// The last instant evaluated as itself; later ones are evaluated as this one.
    pub const fn horizon(&self) -> Instant<HZ> {
        Instant::<HZ>::from_ticks(self.schedule.horizon)
    }
}

/// The state word is the theoretical arrival time in `1 / scale` ticks; `0`
/// is a limiter that has been full since tick 0.
impl<const HZ: u64> Algorithm<HZ> for GcraConfig<HZ> {
    const NAME: &'static str = "gcra";

    fn fingerprint(&self) -> u64 {
        let [a, b, c, d, e] = self.schedule.words();
        fingerprint(b"gcra", &[HZ, a, b, c, d, e])
    }

    #[inline(always)]
    fn decide(&self, state: u64, n: u32, now: Instant<HZ>) -> Step<HZ> {
        self.schedule.decide(state, n, now.as_ticks())
    }

    /// Reads the horizon and the scale, and computes the evaluated instant
    /// and its virtual time, before the word is loaded: with two threads
    /// on one `Gcra`, a check then took about 0.85 times governor's time
    /// instead of about 1.1 (the README's "Time per check"), with the same
    /// instructions on x86-64. Not on bare-metal targets (`target_os =
    /// "none"`): keeping those values across the load cost a Cortex-M4
    /// `is_ok` check 22 to 54 bytes, over its size guards, and firmware
    /// rarely has two cores on one limiter.
    #[cfg(not(target_os = "none"))]
    #[inline(always)]
    fn decider(&self, n: u32, now: Instant<HZ>) -> impl Fn(u64) -> Step<HZ> {
        self.schedule.decider(n, now.as_ticks())
    }

    #[inline]
    fn status(&self, state: u64, now: Instant<HZ>) -> Status<HZ> {
        self.schedule.status(state, now.as_ticks())
    }

    #[inline]
    fn refund(&self, state: u64, n: u32, _now: Instant<HZ>) -> u64 {
        self.schedule.refund(state, n)
    }

    #[inline]
    fn idle_after(&self, state: u64, now: Instant<HZ>) -> Option<Duration<HZ>> {
        self.schedule
            .idle_after(state, now.as_ticks())
            .map(Duration::<HZ>::from_ticks)
    }

    /// The instant's virtual time, computed once: each state is then one
    /// compare (a keyed insertion's scan of a window).
    #[inline(always)]
    fn idleness(&self, now: Instant<HZ>) -> impl Fn(u64) -> bool {
        self.schedule.idleness(now.as_ticks())
    }

    #[inline]
    fn reserve(&self, state: u64, n: u32, now: Instant<HZ>, max_wait: Duration<HZ>) -> Booking<HZ> {
        self.schedule
            .reserve(state, n, now.as_ticks(), max_wait.as_ticks())
    }
}

/// Carries the units in use at `at` (see [`Reconfigure`]'s rules), counted
/// where the state is booked if that is later, so a stale instant or a state
/// booked ahead forgives nothing.
impl<const HZ: u64> Reconfigure<HZ> for GcraConfig<HZ> {
    fn carry(&self, state: u64, next: &Self, carry: Carry, at: Instant<HZ>) -> u64 {
        self.schedule
            .carry_by(state, &next.schedule, carry, at.as_ticks())
    }
}

impl<const HZ: u64> WordLimiter<GcraConfig<HZ>> {
    crate::macros::forward_gcra_config!(GcraConfig);

    /// Changes the quota at `now`, carrying over the units in use (rounded up,
    /// at most the new burst).
    ///
    /// `now` should be the latest instant the limiter has seen. The state
    /// word does not hold that instant, and the same word can come from
    /// different histories (3 units at 10 s, or 10 units at 9.5 s, leave the
    /// same theoretical arrival time), so the units in use are counted at
    /// `now` and drain under the new quota from `now`. At a stale `now`, where
    /// the units in use there fit the new burst, the same or a slower rate
    /// forgives nothing (the same quota never does: a backlog beyond the old
    /// burst is counted where it first fits it), and a faster one at most
    /// `(r_new - r_old) * (l - now)` units, rounded up, at the latest instant
    /// `l`; where they are capped at the new burst, at most `r_new * (l -
    /// now)`. (`tests/set_quota_stale.rs` checks these bounds.)
    /// [`Reconfigurable`](crate::kernel::Reconfigurable) keeps the latest
    /// instant in its word and counts there: use it where the instant of a
    /// change may be stale (several threads reading one clock), or to change
    /// a quota through `&self`.
    ///
    /// # Errors
    ///
    /// A [`QuotaError`] for an invalid quota; the limiter is then unchanged.
    pub fn set_quota_at(&mut self, quota: Quota, now: Instant<HZ>) -> Result<(), QuotaError> {
        let next = GcraConfig::<HZ>::new(quota)?;
        let state =
            self.algorithm()
                .schedule
                .carry_over(self.state(), &next.schedule, now.as_ticks());
        self.replace(next, state);
        Ok(())
    }
}
