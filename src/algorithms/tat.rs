//! The decision shared by [`Gcra`](crate::Gcra) and [`TokenBucket`](crate::TokenBucket):
//! a pure function of `(state, now, n)`.
//!
//! The state is a *theoretical arrival time* `tat` on a virtual time line `v`.
//! The limiter is full when `tat <= v`; its backlog is `d = max(tat, v) - v`.
//! A check of `n` units costs `n * cost` virtual units and is admitted iff
//! `d + n * cost <= capacity` (`capacity = burst * cost`), which moves `tat`
//! to `max(tat, v) + n * cost`. This is GCRA; a token bucket holding
//! `(capacity - d) / cost` tokens is the same machine read the other way.
//!
//! The two refill modes differ only in how a clock tick maps to `v`:
//!
//! - continuous: `v = now * scale` (`scale` virtual units per tick, chosen so
//!   that the cost per unit is exact whenever the 64-bit range allows);
//! - interval: `v = floor(now / period) * count`, with `cost = 1`: all `count`
//!   tokens arrive together at each multiple of `period` ticks.
//!
//! Instants later than the schedule's `horizon` are evaluated as the horizon,
//! which keeps every sum below `u64::MAX` without any wrapping; it is over a
//! century away for every quota a real clock can express (see `Gcra`'s docs).

use core::num::NonZeroU32;

use crate::algorithms::divisor::Divisor;
use crate::answer::{Denied, ExceedsBurst, RateLimited, Status};
use crate::kernel::{Carry, Step};
use crate::quota::{Quota, QuotaError};
use crate::time::Instant;
use crate::vocabulary::arith::{div, div_ceil};

/// How clock ticks become virtual time: [`Continuous`] or [`Interval`].
///
/// A type per mode, not an enum: a schedule's decision is compiled for its
/// one mode, so a [`Gcra`](crate::Gcra) check carries no dispatch on a mode
/// it can never have, and no code of the other mode.
pub(crate) trait Refill: Copy {
    /// The virtual time of tick `now`, for `now <= horizon`.
    fn virtual_time(&self, now: u64) -> u64;

    /// Ticks from `now` until virtual time reaches `target`, rounded up to
    /// the first tick whose virtual time is at least `target`.
    fn ticks_until(&self, target: u64, now: u64) -> u64;

    /// The time until virtual time `target` (at least `v`, the virtual time
    /// of the evaluated tick `now`), in `1 / answer_scale()` of a tick: a
    /// numerator that the answer divides only when it is read.
    fn wait(&self, target: u64, now: u64, v: u64) -> u64;

    /// Parts of a tick [`wait`](Refill::wait) is counted in.
    fn answer_scale(&self) -> u64;

    /// The numbers of the mode, for a configuration fingerprint.
    fn words(&self) -> [u64; 2];
}

/// `v = now * scale`: GCRA and the greedy token bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct Continuous {
    pub(crate) scale: u64,
}

/// `v = floor(now / period) * count`: all `count` tokens arrive together at
/// each multiple of `period` ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct Interval {
    /// The period in ticks, with its reciprocal: a check finds its interval
    /// without a division.
    pub(crate) period: Divisor,
    pub(crate) count: u64,
}

impl Refill for Continuous {
    #[inline(always)]
    fn virtual_time(&self, now: u64) -> u64 {
        // `now <= horizon = (u64::MAX - capacity) / scale`, so the product
        // is at most `u64::MAX - capacity`: it never wraps (and a wrapping
        // multiply is one instruction, where a saturating one is three).
        now.wrapping_mul(self.scale)
    }

    #[inline(always)]
    fn ticks_until(&self, target: u64, now: u64) -> u64 {
        div_ceil(target, self.scale).saturating_sub(now)
    }

    #[inline(always)]
    fn wait(&self, target: u64, _now: u64, v: u64) -> u64 {
        // `ceil(target / scale) - now == ceil((target - v) / scale)` since
        // `v = now * scale`: the wait stays a numerator until read. Every
        // caller passes `target >= v` (the trait's rule: a state's drain
        // time `max(tat, v)`, a stored `max(tat, v) + need`, or a denied
        // check's fit time, `> v`), so the subtraction does not wrap; a
        // saturating one cost a compare and a move on every answer.
        target.wrapping_sub(v)
    }

    #[inline(always)]
    fn answer_scale(&self) -> u64 {
        self.scale
    }

    fn words(&self) -> [u64; 2] {
        [self.scale, 0]
    }
}

impl Refill for Interval {
    #[inline(always)]
    fn virtual_time(&self, now: u64) -> u64 {
        // `now <= horizon`, chosen so that this is at most `u64::MAX - capacity`.
        self.period.quotient(now).saturating_mul(self.count)
    }

    /// Computed in 128 bits: near the end of the `u64` range that first tick
    /// can lie past `u64::MAX` (an interval boundary, say), and the wait is
    /// still the exact number of ticks, saturated only if it exceeds `u64::MAX`.
    #[inline(always)]
    fn ticks_until(&self, target: u64, now: u64) -> u64 {
        // At most 2^64 * 2^64: fits in a u128 with room to spare.
        let at = (div_ceil(target, self.count) as u128).saturating_mul(self.period.d as u128);
        let wait = at.saturating_sub(now as u128);
        if wait > u64::MAX as u128 {
            u64::MAX
        } else {
            wait as u64
        }
    }

    #[inline(always)]
    fn wait(&self, target: u64, now: u64, _v: u64) -> u64 {
        self.ticks_until(target, now)
    }

    #[inline(always)]
    fn answer_scale(&self) -> u64 {
        1
    }

    fn words(&self) -> [u64; 2] {
        [self.period.d, self.count]
    }
}

/// A quota converted to virtual units; immutable once built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct Schedule<R> {
    /// Non-zero (the quota checks it), and typed so: a check of one unit
    /// then needs no comparison with the burst.
    pub(crate) burst: NonZeroU32,
    /// Virtual units one admitted unit costs (at least 1).
    pub(crate) cost: u64,
    /// GCRA's tau, `capacity - cost` (the capacity, `burst * cost`, is the
    /// largest backlog, below `u64::MAX`): the largest backlog a check of
    /// one unit finds room behind, stored so that such a check subtracts
    /// nothing from it.
    pub(crate) tau: u64,
    /// The last tick evaluated as itself: `v(horizon) + capacity <= u64::MAX`.
    pub(crate) horizon: u64,
    pub(crate) refill: R,
}

const fn gcd(mut a: u128, mut b: u128) -> u128 {
    while let Some(r) = a.checked_rem(b) {
        a = b;
        b = r;
    }
    a
}

/// Finest continuous scale: keeps the horizon at least 2^32 seconds
/// (136 years) from tick 0 at any clock rate.
const fn max_scale(hz: u64) -> u64 {
    match (1u64 << 32).checked_div(hz) {
        Some(s) if s > 0 => s,
        _ => 1,
    }
}

/// `(cost, capacity)` as `u64`s, with `capacity = burst * cost < u64::MAX`.
const fn cost_and_capacity(burst: NonZeroU32, cost: u128) -> Result<(u64, u64), QuotaError> {
    if cost == 0 || cost > u64::MAX as u128 {
        return Err(QuotaError::TooLarge);
    }
    match cost.checked_mul(burst.get() as u128) {
        Some(c) if c < u64::MAX as u128 => Ok((cost as u64, c as u64)),
        _ => Err(QuotaError::TooLarge),
    }
}

impl Schedule<Continuous> {
    /// Continuous refill (GCRA, greedy token bucket) at `hz` ticks per second.
    pub(crate) const fn continuous(quota: &Quota, hz: u64) -> Result<Self, QuotaError> {
        let (num, den) = match quota.period_in_ticks(hz) {
            Ok(f) => f,
            Err(e) => return Err(e),
        };
        // One unit takes num / (den * count) ticks. With `scale` virtual units
        // per tick it costs num * scale / (den * count) units: exact when
        // `scale` is a multiple of (den * count) / gcd(num, den * count).
        // Both factors are below 2^64: the product cannot saturate.
        let per = den.saturating_mul(quota.count() as u128);
        let exact = match per.checked_div(gcd(num, per)) {
            Some(q) => q,
            None => return Err(QuotaError::ZeroCount),
        };
        let max = max_scale(hz) as u128;
        let scale = if exact <= max { exact } else { max };
        let cost = match num.checked_mul(scale) {
            Some(units) => units.div_ceil(per),
            None => return Err(QuotaError::TooLarge),
        };
        let Some(burst) = NonZeroU32::new(quota.burst_size()) else {
            return Err(QuotaError::ZeroBurst);
        };
        let (cost, capacity) = match cost_and_capacity(burst, cost) {
            Ok(pair) => pair,
            Err(e) => return Err(e),
        };
        // `capacity < u64::MAX`, checked above.
        let scale = scale as u64;
        Ok(Schedule {
            burst,
            cost,
            tau: capacity.wrapping_sub(cost),
            horizon: div(u64::MAX.saturating_sub(capacity), scale),
            refill: Continuous { scale },
        })
    }
}

impl Schedule<Interval> {
    /// Interval refill: `count` tokens at every multiple of the period, which
    /// is rounded up to whole ticks.
    pub(crate) const fn interval(quota: &Quota, hz: u64) -> Result<Self, QuotaError> {
        let period = match quota.period_in_whole_ticks(hz) {
            Ok(ticks) => ticks,
            Err(e) => return Err(e),
        };
        let Some(burst) = NonZeroU32::new(quota.burst_size()) else {
            return Err(QuotaError::ZeroBurst);
        };
        let (cost, capacity) = match cost_and_capacity(burst, 1) {
            Ok(pair) => pair,
            Err(e) => return Err(e),
        };
        let count = quota.count() as u64;
        Ok(Schedule {
            burst,
            cost,
            tau: capacity.wrapping_sub(cost),
            horizon: div(u64::MAX.saturating_sub(capacity), count).saturating_mul(period),
            refill: Interval {
                period: Divisor::new(period),
                count,
            },
        })
    }
}

impl<R: Refill> Schedule<R> {
    /// `burst * cost`, the largest backlog: below `u64::MAX` (checked when
    /// the schedule is built), so the sum does not wrap.
    #[inline(always)]
    pub(crate) const fn capacity(&self) -> u64 {
        self.tau.wrapping_add(self.cost)
    }

    /// The instant actually evaluated for `now`, and its virtual time.
    #[inline(always)]
    pub(crate) fn virtual_now(&self, now: u64) -> (u64, u64) {
        let now = if now > self.horizon {
            self.horizon
        } else {
            now
        };
        (now, self.refill.virtual_time(now))
    }

    /// Ticks from `now` until virtual time reaches `target`.
    #[inline(always)]
    pub(crate) fn ticks_until(&self, target: u64, now: u64) -> u64 {
        self.refill.ticks_until(target, now)
    }

    /// The answer for a backlog of `backlog` virtual units that drains at
    /// virtual time `full`, at the evaluated tick `now` (virtual time `v`):
    /// the numbers only, divided when read.
    #[inline(always)]
    fn answer<const HZ: u64>(&self, backlog: u64, full: u64, now: u64, v: u64) -> Status<HZ> {
        self.answer_room(self.capacity().saturating_sub(backlog), full, now, v)
    }

    /// [`answer`](Schedule::answer) for `room` virtual units of room left
    /// (`capacity - backlog`), when the caller has it already.
    #[inline(always)]
    fn answer_room<const HZ: u64>(&self, room: u64, full: u64, now: u64, v: u64) -> Status<HZ> {
        let wait = self.refill.wait(full, now, v);
        Status::scaled(
            self.burst.get(),
            room,
            self.cost,
            wait,
            self.refill.answer_scale(),
        )
    }

    /// The pure decision: may `n` units go at `now` given state `tat`?
    ///
    /// Admits iff `max(tat, v) + n*cost - v <= capacity`, storing
    /// `max(tat, v) + n*cost`. Zero units are always admitted and store
    /// nothing (storing `max(tat, v)` would make later stale readings
    /// stricter for no admitted unit).
    ///
    /// The hot path: every step below is one instruction or two, and the
    /// wrapping operations are each proved not to wrap where they stand.
    #[inline(always)]
    pub(crate) fn decide<const HZ: u64>(&self, tat: u64, n: u32, now: u64) -> Step<HZ> {
        self.decide_with(tat, n, || self.virtual_now(now))
    }

    /// [`decide`](Schedule::decide) as a function of `tat`, with the
    /// evaluated instant and its virtual time computed first (see
    /// `Algorithm::decider`).
    #[cfg(not(target_os = "none"))]
    #[inline(always)]
    pub(crate) fn decider<const HZ: u64>(&self, n: u32, now: u64) -> impl Fn(u64) -> Step<HZ> + '_ {
        let clamped = self.virtual_now(now);
        crate::kernel::sync::config_before_word();
        #[inline(always)]
        move |tat| self.decide_with(tat, n, || clamped)
    }

    /// [`decide`](Schedule::decide) with the evaluated tick (at most the
    /// horizon) and its virtual time from `clamp`, called once a check fits
    /// the burst: a configuration that clamps `now` in its own way
    /// ([`PackedGcra`](crate::algorithms::PackedGcra)) shares this decision.
    #[inline(always)]
    pub(crate) fn decide_with<const HZ: u64>(
        &self,
        tat: u64,
        n: u32,
        clamp: impl FnOnce() -> (u64, u64),
    ) -> Step<HZ> {
        if n > self.burst.get() {
            return Step::Deny(Denied::ExceedsBurst(ExceedsBurst::new(n, self.burst.get())));
        }
        let (now, v) = clamp();
        // `n <= burst`, so `need <= burst * cost = capacity < u64::MAX`: the
        // product does not wrap.
        let need = (n as u64).wrapping_mul(self.cost);
        let start = if tat > v { tat } else { v };
        // `start >= v`: no wrap.
        let backlog = start.wrapping_sub(v);
        if n == 0 {
            return Step::Keep(self.answer(backlog, start, now, v));
        }
        // `need <= capacity` (above): no wrap. For one unit, `need = cost`
        // and `room = tau + cost - cost` folds to `tau`, a load.
        let room = self.capacity().wrapping_sub(need);
        if backlog <= room {
            // `start + need = v + backlog + need <= v + capacity <= u64::MAX`
            // (the horizon's definition): no wrap. And `need >= 1` (`n >= 1`,
            // `cost >= 1`), so `next > start >= tat`: always a store.
            let next = start.wrapping_add(need);
            // Room left: `capacity - (backlog + need) = room - backlog`,
            // and `backlog <= room`: no wrap.
            Step::Store(
                next,
                self.answer_room(room.wrapping_sub(backlog), next, now, v),
            )
        } else {
            // The virtual time at which it fits is `start + need - capacity`
            // = `start - room`; `backlog > room` gives `start > v + room`, so
            // it does not wrap and the result is `> v`.
            let fits = start.wrapping_sub(room);
            let status = self.answer(backlog, start, now, v);
            let limited = RateLimited::scaled(status, self.refill.wait(fits, now, v));
            Step::Deny(Denied::RateLimited(limited))
        }
    }

    /// The status at `now` of `tat`, changing nothing.
    #[inline]
    pub(crate) fn status<const HZ: u64>(&self, tat: u64, now: u64) -> Status<HZ> {
        let (now, v) = self.virtual_now(now);
        let start = if tat > v { tat } else { v };
        self.answer(start.saturating_sub(v), start, now, v)
    }

    /// The pure reservation: books `n` units at `now` for the first tick at
    /// which a check of `n` units succeeds, if it is at most `max_wait` ticks
    /// away.
    ///
    /// A booking for tick `ready` stores exactly what a check admitted at
    /// `ready` would store (`tat = max(tat, v(ready)) + n * cost`), so a run
    /// of reservations and checks is a run of checks at the instants the
    /// units are used: the GCRA bound (at most `burst + rate * span` in any
    /// span) holds for the units by the instants they are used at. `ready`
    /// is `now` plus the check's exact `retry_after`; past the horizon, where
    /// `retry_after` stops being exact, the booking is refused rather than
    /// made for an instant that would not admit it.
    #[inline]
    pub(crate) fn reserve<const HZ: u64>(
        &self,
        tat: u64,
        n: u32,
        now: u64,
        max_wait: u64,
    ) -> Step<HZ, Instant<HZ>> {
        match self.decide::<HZ>(tat, n, now) {
            Step::Store(next, _) => Step::Store(next, Instant::<HZ>::from_ticks(now)),
            Step::Keep(_) => Step::Keep(Instant::<HZ>::from_ticks(now)),
            Step::Deny(Denied::RateLimited(limited)) => {
                let retry_after = limited.retry_after().as_ticks();
                if retry_after <= max_wait {
                    let ready = now.saturating_add(retry_after);
                    if let Step::Store(next, _) = self.decide::<HZ>(tat, n, ready) {
                        return Step::Store(next, Instant::<HZ>::from_ticks(ready));
                    }
                    // Past the horizon, where the wait is not exact: not booked.
                }
                Step::Deny(Denied::RateLimited(limited))
            }
            Step::Deny(denied) => Step::Deny(denied),
        }
    }

    /// The state after giving back `n` units, clamped at "full since tick 0".
    #[inline]
    pub(crate) const fn refund(&self, tat: u64, n: u32) -> u64 {
        tat.saturating_sub((n as u64).saturating_mul(self.cost))
    }

    /// `idle_after(tat, now) == Some(0)` as a function of `tat` alone: full
    /// at `now`'s virtual time (`idle_after`'s first test is this one).
    #[inline(always)]
    pub(crate) fn idleness(&self, now: u64) -> impl Fn(u64) -> bool + use<R> {
        let (_, v) = self.virtual_now(now);
        move |tat| tat <= v
    }

    /// Ticks from `now` until `tat` is full (so idle: from a full state every
    /// decision depends on `v` alone, exactly as from `0`, and virtual time
    /// never decreases as `now` grows); `None` if that lies past the horizon,
    /// where virtual time stops.
    #[inline]
    pub(crate) fn idle_after(&self, tat: u64, now: u64) -> Option<u64> {
        if self.idleness(now)(tat) {
            return Some(0);
        }
        let (_, v_end) = self.virtual_now(self.horizon);
        if tat > v_end {
            return None;
        }
        let real = if now > self.horizon {
            self.horizon
        } else {
            now
        };
        Some(self.ticks_until(tat, real))
    }

    /// The state that carries the units in use under `self` over to `next`
    /// (rounded up, at most the new burst), so that a change of plan neither
    /// forgives nor invents usage.
    ///
    /// The units are counted at `now`, or at the first tick at which the
    /// backlog of `tat` fits the old capacity if that is later: a stale
    /// `now`, or a state booked ahead by reservations. Counting them at an
    /// earlier instant would see more than the burst in use, cap it at the
    /// burst, and so forgive the excess (the units admitted at the state's
    /// own, later, instants). Counted at that later tick, the new state holds
    /// at every later instant at least the units the old state would, under
    /// the same quota, and it is stricter still at the instants before it.
    pub(crate) fn carry_over(&self, tat: u64, next: &Schedule<R>, now: u64) -> u64 {
        self.carry_scaled(tat, next, now, 1, 1, true)
    }

    /// [`carry_over`](Schedule::carry_over) with the units in use scaled by
    /// `num / den` (rounded up), and capped at the new burst if `cap`.
    ///
    /// Uncapped, units in use beyond the new burst stay in use (the new
    /// state is empty until they drain at the new rate), so that a change
    /// there and back forgives nothing; capped, a change to a smaller burst
    /// and back forgives the difference.
    ///
    /// `next` may refill in another mode (a token bucket's plans): the units
    /// in use are counted under `self` and booked under `next`.
    pub(crate) fn carry_scaled<S: Refill>(
        &self,
        tat: u64,
        next: &Schedule<S>,
        now: u64,
        num: u64,
        den: u64,
        cap: bool,
    ) -> u64 {
        // Capped, the units are counted where the backlog fits the old
        // capacity (see `carry_over`). Uncapped, the whole backlog at `now`
        // carries over, beyond the burst if need be: nothing to forgive.
        let settled = self.ticks_until(tat.saturating_sub(self.capacity()), 0);
        let now = if cap && settled > now { settled } else { now };
        let (_, v_old) = self.virtual_now(now);
        let used = div_ceil(tat.saturating_sub(v_old), self.cost);
        // `used <= 2^64 / cost`, `num < 2^32`: the product fits in 128 bits.
        let product = (used as u128).saturating_mul(num as u128);
        let scaled = match product.checked_div(den as u128) {
            Some(q) if q.saturating_mul(den as u128) == product => q,
            Some(q) => q.saturating_add(1),
            None => used as u128,
        };
        let used = if scaled > u64::MAX as u128 {
            u64::MAX
        } else {
            scaled as u64
        };
        let used = if cap && used > next.burst.get() as u64 {
            next.burst.get() as u64
        } else {
            used
        };
        let (_, v_new) = next.virtual_now(now);
        // Capped, `used <= burst`, so `used * cost <= capacity` and
        // `v_new + capacity` fits. Uncapped, a sum that saturates is a state
        // that never admits again: stricter, and only for configurations
        // whose bursts cost nearly the whole 64-bit line.
        v_new.saturating_add(used.saturating_mul(next.cost))
    }

    /// [`Reconfigure::carry`](crate::kernel::Reconfigure::carry) under
    /// `carry`'s rule, from `self` to `next` at tick `at`: every
    /// configuration made of schedules (GCRA, packed or not, and the token
    /// bucket, across its refill modes) carries its states through this.
    pub(crate) fn carry_by<S: Refill>(
        &self,
        tat: u64,
        next: &Schedule<S>,
        carry: Carry,
        at: u64,
    ) -> u64 {
        match carry {
            // Nothing in use, from `at` on: a state of 0 would have seen no
            // instant, and units booked at a stale one would drain before `at`.
            Carry::Full => self.carry_scaled(tat, next, at, 0, 1, false),
            Carry::InUse => self.carry_scaled(tat, next, at, 1, 1, false),
            Carry::Scaled => self.carry_scaled(
                tat,
                next,
                at,
                u64::from(next.burst.get()),
                u64::from(self.burst.get()),
                true,
            ),
        }
    }

    /// The numbers the decision reads, for a configuration fingerprint.
    pub(crate) fn words(&self) -> [u64; 5] {
        let [a, b] = self.refill.words();
        [self.burst.get() as u64, self.cost, self.horizon, a, b]
    }
}
