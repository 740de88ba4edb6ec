//! The decision shared by [`Gcra`](crate::Gcra) and [`TokenBucket`](crate::TokenBucket):
//! a pure function of `(state, now, n)`, and the one compare-and-swap loop that applies it.
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

use crate::quota::{Quota, QuotaError};
use crate::sync::{AtomicU64, Ordering};

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

/// The outcome of one decision, in ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Admitted; `tat` is the state to store.
    Admit {
        tat: u64,
        remaining: u32,
        reset_after: u64,
    },
    /// Not now; nothing is stored.
    Deny {
        remaining: u32,
        retry_after: u64,
        reset_after: u64,
    },
    /// `n` exceeds the burst.
    TooLarge,
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
    match a.checked_rem(b) {
        Some(0) | None => div(a, b),
        Some(_) => div(a, b).saturating_add(1),
    }
}

/// `a / b`; every divisor in this module is non-zero by construction, and the
/// `0` for `b == 0` only keeps the function total.
const fn div(a: u64, b: u64) -> u64 {
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
    #[inline]
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
    #[inline]
    pub(crate) const fn ticks_until(&self, target: u64, now: u64) -> u64 {
        let at = match self.refill {
            Refill::Continuous { scale } => div_ceil(target, scale),
            Refill::Interval { period, count } => div_ceil(target, count).saturating_mul(period),
        };
        at.saturating_sub(now)
    }

    /// Whole units that fit in the room left by `backlog`.
    #[inline]
    const fn units(&self, backlog: u64) -> u32 {
        // At most `capacity / cost = burst`, so the cast cannot truncate.
        div(self.capacity.saturating_sub(backlog), self.cost) as u32
    }

    /// The pure decision: may `n` units go at `now` given state `tat`?
    #[inline]
    pub(crate) const fn decide(&self, tat: u64, n: u32, now: u64) -> Verdict {
        if n > self.burst {
            return Verdict::TooLarge;
        }
        let (now, v) = self.virtual_now(now);
        // `n <= burst`, so `need <= capacity`.
        let need = (n as u64).saturating_mul(self.cost);
        let start = if tat > v { tat } else { v };
        // `start >= v` and `need <= capacity`: neither subtraction saturates.
        let backlog = start.saturating_sub(v);
        if backlog <= self.capacity.saturating_sub(need) {
            // `start + need <= v + capacity <= u64::MAX`: no saturation.
            let tat = start.saturating_add(need);
            Verdict::Admit {
                tat,
                remaining: self.units(backlog.saturating_add(need)),
                reset_after: self.ticks_until(tat, now),
            }
        } else {
            // `start + need - capacity` is the virtual time at which it fits;
            // it lies in (v, start].
            Verdict::Deny {
                remaining: self.units(backlog),
                // `backlog > capacity - need`, so `start + need - capacity > v`;
                // and `start + need <= u64::MAX` unless `tat` is at the very
                // top of the range, where saturating only delays the retry.
                retry_after: self.ticks_until(
                    start.saturating_add(need).saturating_sub(self.capacity),
                    now,
                ),
                reset_after: self.ticks_until(start, now),
            }
        }
    }

    /// The state after giving back `n` units, clamped at "full since tick 0".
    #[inline]
    pub(crate) const fn refund(&self, tat: u64, n: u32) -> u64 {
        tat.saturating_sub((n as u64).saturating_mul(self.cost))
    }

    /// Applies [`decide`](Self::decide) to `state` with one compare-and-swap loop.
    ///
    /// A denial, and an admission of zero units, write nothing.
    #[inline]
    pub(crate) fn check(&self, state: &AtomicU64, n: u32, now: u64) -> Verdict {
        // Relaxed: `state` is the limiter's only shared datum, so the decision
        // depends on nothing but this word, and the compare-exchange below
        // orders all updates of it in its modification order by itself.
        let mut tat = state.load(Ordering::Relaxed);
        loop {
            let verdict = self.decide(tat, n, now);
            let Verdict::Admit { tat: next, .. } = verdict else {
                return verdict;
            };
            // Zero units are a peek: nothing to store (and storing `max(tat, v)`
            // would make later stale readings stricter for no admitted unit).
            if n == 0 || next == tat {
                return verdict;
            }
            // Relaxed on both paths, for the same reason as the load above; a
            // failure hands back the value that won, and we decide again on it.
            match state.compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return verdict,
                Err(actual) => tat = actual,
            }
        }
    }

    /// The decision a unit check would get, without storing anything.
    #[inline]
    pub(crate) fn peek(&self, state: &AtomicU64, now: u64) -> Verdict {
        // Relaxed: a single read of the only shared datum (see `check`).
        self.decide(state.load(Ordering::Relaxed), 0, now)
    }

    /// Gives back `n` units with one atomic read-modify-write.
    #[inline]
    pub(crate) fn give_back(&self, state: &AtomicU64, n: u32) {
        // Relaxed: as in `check`; fetch_update is a compare-exchange loop on
        // the same single word.
        let _ = state.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tat| {
            Some(self.refund(tat, n))
        });
    }
}
