//! GCRA in 24 bytes: [`Gcra`](crate::Gcra)'s decisions from a 16-byte
//! configuration.

use core::num::NonZeroU32;

use crate::algorithms::tat::{Continuous, Schedule};
use crate::answer::Status;
use crate::kernel::{Algorithm, Booking, Carry, Reconfigure, Step, WordLimiter, fingerprint};
use crate::quota::{Quota, QuotaError};
use crate::time::{Duration, Instant, NANOS};
use crate::vocabulary::arith::div;

/// GCRA in 24 bytes: the same decisions as [`Gcra`](crate::Gcra), bit for
/// bit, from a configuration of 16 bytes instead of 40.
///
/// For the same quota and `HZ`, a `PackedGcra` and a `Gcra` given the same
/// checks, refunds and reservations at the same instants store the same
/// words and give the same answers, range and precision included (see
/// [`Gcra`](crate::Gcra)'s docs): the state word means the same, and one
/// decision serves both. The configuration keeps what no other part can be
/// computed from: the cost of a unit (`u64`), the burst (`u32`) and the
/// scale (`u32`). The capacity and GCRA's tau are computed on each check (a
/// multiply and a subtraction) and the horizon is never computed on it: an
/// instant is past the horizon exactly when `now * scale + capacity`
/// exceeds `u64::MAX`, and `now * scale` is a multiply that the check makes
/// anyway; only then does a check find the horizon, dividing, out of line.
/// What it costs: 9 more instructions per admitted check on x86-64 than
/// `Gcra` (36 for 27), 7 per denied one (30 for 23), counted by callgrind
/// (`.ci/instructions packed_gcra_admit packed_gcra_deny`); on Cortex-M and
/// RISC-V, 70 to 170 more bytes of flash for an `is_ok()` check, and less
/// for one that returns the whole answer (`.ci/firmware-size`). The other
/// operations (a status, an idle time, a reservation, a carry to another
/// plan in a [`Reconfigurable`](crate::kernel::Reconfigurable)) unpack the
/// whole schedule, the horizon's division included, and there is no
/// `set_quota_at`: a `Reconfigurable` of packed plans changes quotas.
///
/// Choose it where many self-contained limiters live in RAM (an array of
/// them, per-device limiters on a microcontroller): 24 bytes on every target,
/// where a `Gcra` takes 48. With one configuration for many words, a keyed
/// table or a `const` configuration with a `static` word
/// ([`WordRef`](crate::kernel::WordRef), 8 bytes) is smaller still, and a
/// `Gcra` there costs no RAM for its configuration at all.
///
/// ```
/// use ratecore::algorithms::PackedGcra;
/// use ratecore::{Gcra, Instant, Limiter, Quota};
///
/// let quota = Quota::per_second(10).burst(2);
/// let packed = PackedGcra::<1_000>::new(quota).unwrap();
/// let gcra = Gcra::<1_000>::new(quota).unwrap();
/// assert_eq!(size_of_val(&packed), 24);
/// for ms in [0, 0, 0, 50, 100, 100] {
///     let t = Instant::<1_000>::from_ticks(ms);
///     assert_eq!(packed.check_at(t), gcra.check_at(t));
/// }
/// let denied = packed.check_at(Instant::<1_000>::from_ticks(100)).unwrap_err();
/// assert_eq!(denied.retry_after().unwrap().as_ticks(), 100); // one unit per 100 ms
/// ```
pub type PackedGcra<const HZ: u64 = NANOS> = WordLimiter<PackedGcraConfig<HZ>>;

// 24 bytes: the word and 16 bytes of configuration, on 64-bit and 32-bit
// targets alike (a `u64` is 8-aligned on both). `.ci/firmware-size` checks
// the firmware targets too.
const _: () = assert!(size_of::<PackedGcraConfig>() == 16);
const _: () = assert!(size_of::<PackedGcra>() == 24);

/// The configuration of a [`PackedGcra`]: a [`GcraConfig`](crate::algorithms::GcraConfig)'s
/// quota in 16 bytes.
///
/// The scale (virtual units per tick) is at least 1 and at most `2^32 / HZ`
/// (at most `2^32`, at 1 Hz): it is stored as `scale - 1`, which fits a
/// `u32` exactly, and read back with one addition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PackedGcraConfig<const HZ: u64 = NANOS> {
    /// Virtual units one admitted unit costs (at least 1).
    cost: u64,
    burst: NonZeroU32,
    /// `scale - 1`.
    scale_less_one: u32,
}

impl<const HZ: u64> PackedGcraConfig<HZ> {
    /// The configuration for `quota`, in ticks of `1 / HZ` seconds.
    ///
    /// # Errors
    ///
    /// A [`QuotaError`] if the quota is zero somewhere or does not fit 64-bit
    /// ticks: exactly where [`GcraConfig::new`](crate::algorithms::GcraConfig::new) refuses it.
    pub const fn new(quota: Quota) -> Result<Self, QuotaError> {
        let schedule = match Schedule::continuous(&quota, HZ) {
            Ok(schedule) => schedule,
            Err(e) => return Err(e),
        };
        // `1 <= scale <= 2^32` (see `max_scale`); checked all the same.
        match schedule.refill.scale.checked_sub(1) {
            Some(less_one) if less_one <= u32::MAX as u64 => Ok(Self {
                cost: schedule.cost,
                burst: schedule.burst,
                scale_less_one: less_one as u32,
            }),
            _ => Err(QuotaError::TooLarge),
        }
    }

    /// The burst: the most units admitted at one instant.
    pub const fn burst(&self) -> u32 {
        self.burst.get()
    }

    /// The emission interval `T` as `(units, scale)`: one admitted unit costs
    /// `units / scale` ticks, exactly.
    pub const fn emission_interval(&self) -> (u64, u64) {
        (self.cost, self.scale())
    }

    /// The last instant evaluated as itself; later ones are evaluated as this one.
    pub const fn horizon(&self) -> Instant<HZ> {
        Instant::<HZ>::from_ticks(self.schedule().horizon)
    }

    /// At least 1 and at most `2^32`: the sum does not wrap.
    #[inline(always)]
    const fn scale(&self) -> u64 {
        (self.scale_less_one as u64).wrapping_add(1)
    }

    /// `burst * cost`, below `u64::MAX` (checked when built): no wrap.
    #[inline(always)]
    const fn capacity(&self) -> u64 {
        (self.burst.get() as u64).wrapping_mul(self.cost)
    }

    /// The [`Gcra`](crate::Gcra)'s schedule, unpacked. Its horizon is a
    /// division: code that does not read it (the check's hot path) does not
    /// compute it once inlined.
    #[inline(always)]
    const fn schedule(&self) -> Schedule<Continuous> {
        let (capacity, scale) = (self.capacity(), self.scale());
        Schedule {
            burst: self.burst,
            cost: self.cost,
            // `cost <= capacity`: no wrap.
            tau: capacity.wrapping_sub(self.cost),
            // `capacity <= u64::MAX`: no wrap.
            horizon: div(u64::MAX.wrapping_sub(capacity), scale),
            refill: Continuous { scale },
        }
    }

    /// The horizon's clamp without its division: the horizon is `(u64::MAX -
    /// capacity) / scale`, rounded down, so for a whole `now`, `now >
    /// horizon` holds exactly when `now * scale > u64::MAX - capacity`, that
    /// is when `now * scale + capacity` does not fit 64 bits; and `now *
    /// scale` is the virtual time the decision needs anyway. The evaluated
    /// tick and its virtual time.
    #[inline(always)]
    fn clamp(&self, now: u64) -> (u64, u64) {
        // `now < 2^64` and `scale <= 2^32`: the product is below 2^96 and
        // the sum below 2^97, neither wraps.
        let product = u128::from(now).wrapping_mul(u128::from(self.scale()));
        let end = product.wrapping_add(u128::from(self.capacity()));
        if end >> 64 == 0 {
            // At most `u64::MAX - capacity`: the virtual time, exactly.
            (now, product as u64)
        } else {
            self.past_horizon()
        }
    }

    /// The tick a check past the horizon is evaluated at, the horizon, and
    /// its virtual time: a division, out of the check's way.
    #[cold]
    #[inline(never)]
    fn past_horizon(&self) -> (u64, u64) {
        let schedule = self.schedule();
        schedule.virtual_now(schedule.horizon)
    }
}

/// The state word is the theoretical arrival time in `1 / scale` ticks, as
/// a [`Gcra`](crate::Gcra)'s.
impl<const HZ: u64> Algorithm<HZ> for PackedGcraConfig<HZ> {
    const NAME: &'static str = "packed_gcra";

    fn fingerprint(&self) -> u64 {
        let [a, b, c, d, e] = self.schedule().words();
        fingerprint(b"packed_gcra", &[HZ, a, b, c, d, e])
    }

    #[inline(always)]
    fn decide(&self, state: u64, n: u32, now: Instant<HZ>) -> Step<HZ> {
        self.schedule()
            .decide_with(state, n, || self.clamp(now.as_ticks()))
    }

    /// Clamps `now` and computes its virtual time before the word is
    /// loaded, as [`Gcra`](crate::Gcra)'s check does (and not on bare-metal
    /// targets, for the same reason).
    #[cfg(not(target_os = "none"))]
    #[inline(always)]
    fn decider(&self, n: u32, now: Instant<HZ>) -> impl Fn(u64) -> Step<HZ> {
        let clamped = self.clamp(now.as_ticks());
        crate::kernel::sync::config_before_word();
        #[inline(always)]
        move |state| self.schedule().decide_with(state, n, || clamped)
    }

    #[inline]
    fn status(&self, state: u64, now: Instant<HZ>) -> Status<HZ> {
        self.schedule().status(state, now.as_ticks())
    }

    #[inline]
    fn refund(&self, state: u64, n: u32, _now: Instant<HZ>) -> u64 {
        self.schedule().refund(state, n)
    }

    #[inline]
    fn idle_after(&self, state: u64, now: Instant<HZ>) -> Option<Duration<HZ>> {
        self.schedule()
            .idle_after(state, now.as_ticks())
            .map(Duration::<HZ>::from_ticks)
    }

    #[inline]
    fn reserve(&self, state: u64, n: u32, now: Instant<HZ>, max_wait: Duration<HZ>) -> Booking<HZ> {
        self.schedule()
            .reserve(state, n, now.as_ticks(), max_wait.as_ticks())
    }
}

/// As [`GcraConfig`](crate::algorithms::GcraConfig)'s: the same states for
/// the same quotas.
impl<const HZ: u64> Reconfigure<HZ> for PackedGcraConfig<HZ> {
    fn carry(&self, state: u64, next: &Self, carry: Carry, at: Instant<HZ>) -> u64 {
        self.schedule()
            .carry_by(state, &next.schedule(), carry, at.as_ticks())
    }
}

impl<const HZ: u64> WordLimiter<PackedGcraConfig<HZ>> {
    crate::macros::forward_gcra_config!(PackedGcraConfig);
}
