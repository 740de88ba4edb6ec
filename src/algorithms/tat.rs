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

use crate::answer::{Denied, ExceedsBurst, RateLimited, Status};
use crate::kernel::Step;
use crate::quota::{Quota, QuotaError};
use crate::time::Instant;

/// How clock ticks become virtual time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) enum Refill {
    /// `v = now * scale`.
    Continuous { scale: u64 },
    /// `v = floor(now / period) * count`.
    Interval { period: u64, count: u64 },
}

/// A quota converted to virtual units; immutable once built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct Schedule {
    pub(crate) burst: u32,
    /// Virtual units one admitted unit costs.
    pub(crate) cost: u64,
    /// `burst * cost`: the largest backlog.
    pub(crate) capacity: u64,
    /// The last tick evaluated as itself.
    pub(crate) horizon: u64,
    pub(crate) refill: Refill,
}

const fn gcd(mut a: u128, mut b: u128) -> u128 {
    while let Some(r) = a.checked_rem(b) {
        a = b;
        b = r;
    }
    a
}

/// `ceil(a / b)`, total like [`div`].
const fn div_ceil(a: u64, b: u64) -> u64 {
    // Dividing by 1 is the common case (a scale or cost of 1), and a
    // hardware division costs tens of cycles: skip it.
    if b == 1 {
        return a;
    }
    match a.checked_rem(b) {
        Some(0) | None => div(a, b),
        Some(_) => div(a, b).saturating_add(1),
    }
}

/// `a / b`; every divisor in this module is non-zero by construction, and the
/// `0` for `b == 0` only keeps the function total.
const fn div(a: u64, b: u64) -> u64 {
    // See `div_ceil`: a divisor of 1 is common and costs a division.
    if b == 1 {
        return a;
    }
    match a.checked_div(b) {
        Some(q) => q,
        None => 0,
    }
}

/// Finest continuous scale: keeps the horizon at least 2^32 seconds
/// (136 years) from tick 0 at any clock rate.
const fn max_scale(hz: u64) -> u64 {
    match (1u64 << 32).checked_div(hz) {
        Some(s) if s > 0 => s,
        _ => 1,
    }
}

const fn finish(burst: u32, cost: u128, refill: Refill) -> Result<Schedule, QuotaError> {
    if cost == 0 || cost > u64::MAX as u128 {
        return Err(QuotaError::TooLarge);
    }
    let capacity = match cost.checked_mul(burst as u128) {
        Some(c) if c < u64::MAX as u128 => c as u64,
        _ => return Err(QuotaError::TooLarge),
    };
    // `capacity < u64::MAX`, checked above.
    let room = u64::MAX.saturating_sub(capacity);
    let horizon = match refill {
        Refill::Continuous { scale } => div(room, scale),
        Refill::Interval { period, count } => div(room, count).saturating_mul(period),
    };
    Ok(Schedule {
        burst,
        cost: cost as u64,
        capacity,
        horizon,
        refill,
    })
}

impl Schedule {
    /// Continuous refill (GCRA, greedy token bucket) at `hz` ticks per second.
    pub(crate) const fn continuous(quota: &Quota, hz: u64) -> Result<Self, QuotaError> {
        if let Err(e) = quota.validate() {
            return Err(e);
        }
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
        finish(
            quota.burst_size(),
            cost,
            Refill::Continuous {
                scale: scale as u64,
            },
        )
    }

    /// Interval refill: `count` tokens at every multiple of the period, which
    /// is rounded up to whole ticks.
    pub(crate) const fn interval(quota: &Quota, hz: u64) -> Result<Self, QuotaError> {
        if let Err(e) = quota.validate() {
            return Err(e);
        }
        let (num, den) = match quota.period_in_ticks(hz) {
            Ok(f) => f,
            Err(e) => return Err(e),
        };
        let period = num.div_ceil(den);
        if period == 0 || period > u64::MAX as u128 {
            return Err(QuotaError::TooLarge);
        }
        finish(
            quota.burst_size(),
            1,
            Refill::Interval {
                period: period as u64,
                count: quota.count() as u64,
            },
        )
    }

    /// The instant actually evaluated for `now`, and its virtual time.
    #[inline(always)]
    pub(crate) const fn virtual_now(&self, now: u64) -> (u64, u64) {
        let now = if now > self.horizon {
            self.horizon
        } else {
            now
        };
        // No overflow: `now <= horizon`, which was chosen so that
        // `v(horizon) + capacity <= u64::MAX`.
        let v = match self.refill {
            Refill::Continuous { scale } => now.saturating_mul(scale),
            Refill::Interval { period, count } => div(now, period).saturating_mul(count),
        };
        (now, v)
    }

    /// Ticks from `now` until virtual time reaches `target`, rounded up to the
    /// first tick whose virtual time is at least `target`.
    ///
    /// Computed in 128 bits: near the end of the `u64` range that first tick
    /// can lie past `u64::MAX` (an interval boundary, say), and the wait is
    /// still the exact number of ticks, saturated only if it exceeds `u64::MAX`.
    #[inline(always)]
    pub(crate) const fn ticks_until(&self, target: u64, now: u64) -> u64 {
        let at: u128 = match self.refill {
            Refill::Continuous { scale } => div_ceil(target, scale) as u128,
            Refill::Interval { period, count } => {
                // At most 2^64 * 2^64: fits in a u128 with room to spare.
                (div_ceil(target, count) as u128).saturating_mul(period as u128)
            }
        };
        let wait = at.saturating_sub(now as u128);
        if wait > u64::MAX as u128 {
            u64::MAX
        } else {
            wait as u64
        }
    }

    /// The answer for a backlog of `backlog` virtual units that drains at
    /// virtual time `full`, at the evaluated tick `now` (virtual time `v`):
    /// the numbers only, divided when read.
    #[inline(always)]
    const fn answer<const HZ: u64>(&self, backlog: u64, full: u64, now: u64, v: u64) -> Status<HZ> {
        let room = self.capacity.saturating_sub(backlog);
        match self.refill {
            // `ceil(full / scale) - now == ceil((full - v) / scale)` since
            // `v = now * scale`: the wait stays a numerator until read.
            Refill::Continuous { scale } => {
                Status::scaled(self.burst, room, self.cost, full.saturating_sub(v), scale)
            }
            Refill::Interval { .. } => {
                Status::scaled(self.burst, room, self.cost, self.ticks_until(full, now), 1)
            }
        }
    }

    /// The time until virtual time `target`, in the answer's scale (see
    /// [`answer`](Schedule::answer)).
    #[inline(always)]
    const fn wait<const HZ: u64>(&self, target: u64, now: u64, v: u64) -> u64 {
        match self.refill {
            Refill::Continuous { .. } => target.saturating_sub(v),
            Refill::Interval { .. } => self.ticks_until(target, now),
        }
    }

    /// The pure decision: may `n` units go at `now` given state `tat`?
    ///
    /// Admits iff `max(tat, v) + n*cost - v <= capacity`, storing
    /// `max(tat, v) + n*cost`. Zero units are always admitted and store
    /// nothing (storing `max(tat, v)` would make later stale readings
    /// stricter for no admitted unit).
    #[inline(always)]
    pub(crate) const fn decide<const HZ: u64>(&self, tat: u64, n: u32, now: u64) -> Step<HZ> {
        if n > self.burst {
            return Step::Deny(Denied::ExceedsBurst(ExceedsBurst::new(n, self.burst)));
        }
        let (now, v) = self.virtual_now(now);
        // `n <= burst`, so `need <= capacity`.
        let need = (n as u64).saturating_mul(self.cost);
        let start = if tat > v { tat } else { v };
        // `start >= v`: the subtraction cannot saturate.
        let backlog = start.saturating_sub(v);
        if n == 0 {
            return Step::Keep(self.answer(backlog, start, now, v));
        }
        if backlog <= self.capacity.saturating_sub(need) {
            // `start + need <= v + capacity <= u64::MAX`: no saturation.
            let next = start.saturating_add(need);
            let status = self.answer(backlog.saturating_add(need), next, now, v);
            if next == tat {
                Step::Keep(status)
            } else {
                Step::Store(next, status)
            }
        } else {
            // The virtual time at which it fits is `start + need - capacity`,
            // written so that nothing can saturate: `backlog > capacity - need`
            // gives `start > capacity - need`, and the result is `> v`.
            let fits = start.saturating_sub(self.capacity.saturating_sub(need));
            let status = self.answer(backlog, start, now, v);
            let limited = RateLimited::scaled(status, self.wait::<HZ>(fits, now, v));
            Step::Deny(Denied::RateLimited(limited))
        }
    }

    /// The status at `now` of `tat`, changing nothing.
    #[inline]
    pub(crate) const fn status<const HZ: u64>(&self, tat: u64, now: u64) -> Status<HZ> {
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

    /// Ticks from `now` until `tat` is full (so idle: from a full state every
    /// decision depends on `v` alone, exactly as from `0`, and virtual time
    /// never decreases as `now` grows); `None` if that lies past the horizon,
    /// where virtual time stops.
    #[inline]
    pub(crate) const fn idle_after(&self, tat: u64, now: u64) -> Option<u64> {
        let (_, v) = self.virtual_now(now);
        if tat <= v {
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
    pub(crate) const fn carry_over(&self, tat: u64, next: &Schedule, now: u64) -> u64 {
        self.carry_scaled(tat, next, now, 1, 1, true)
    }

    /// [`carry_over`](Schedule::carry_over) with the units in use scaled by
    /// `num / den` (rounded up), and capped at the new burst if `cap`.
    ///
    /// Uncapped, units in use beyond the new burst stay in use (the new
    /// state is empty until they drain at the new rate), so that a change
    /// there and back forgives nothing; capped, a change to a smaller burst
    /// and back forgives the difference.
    pub(crate) const fn carry_scaled(
        &self,
        tat: u64,
        next: &Schedule,
        now: u64,
        num: u64,
        den: u64,
        cap: bool,
    ) -> u64 {
        // Capped, the units are counted where the backlog fits the old
        // capacity (see `carry_over`). Uncapped, the whole backlog at `now`
        // carries over, beyond the burst if need be: nothing to forgive.
        let settled = self.ticks_until(tat.saturating_sub(self.capacity), 0);
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
        let used = if cap && used > next.burst as u64 {
            next.burst as u64
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

    /// The numbers the decision reads, for a configuration fingerprint.
    pub(crate) const fn words(&self) -> [u64; 5] {
        let (a, b) = match self.refill {
            Refill::Continuous { scale } => (scale, 0),
            Refill::Interval { period, count } => (period, count),
        };
        [self.burst as u64, self.cost, self.horizon, a, b]
    }
}
