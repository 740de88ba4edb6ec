//! Reference model of `SlidingLog`, written from the specification alone.
//!
//! The model remembers every admitted check as `(at, units)` in a plain list,
//! forever. A unit admitted at `at` counts at every instant `t` with
//! `at <= t < at + width`: the trailing span of a check at `t` is the half-open
//! `(t - width, t]`. So at most `limit` units are admitted in any half-open
//! span of `width` ticks.
//!
//! - A check at `now` is evaluated at `t = max(now, latest at)`: a stale `now`
//!   (earlier than an admitted check) is treated as the latest admitted
//!   instant, and charged there.
//! - A check of `n` is admitted iff `n <= limit` and the units in the trailing
//!   span at `t` plus `n` are at most `limit`.
//! - `retry_after`: the earliest expiry instant `at + width` after `t` at
//!   which the check would be admitted, found by trying every expiry instant;
//!   `reset_after`: the latest expiry among the units still counted (zero if
//!   none); both from `now`, saturated at `u64::MAX`, at least 1 (when not zero).
//!
//! All arithmetic is in `u128`; an expiry past `u64::MAX` never comes.

pub use crate::window::Outcome;

#[derive(Clone, Debug)]
pub struct SlidingLogModel {
    pub limit: u32,
    pub width: u64,
    /// Every admitted check, `(at, units)`.
    pub admitted: Vec<(u64, u32)>,
}

impl SlidingLogModel {
    pub fn new(limit: u32, width: u64) -> Self {
        Self {
            limit,
            width,
            admitted: Vec::new(),
        }
    }

    fn expiry(&self, at: u64) -> u128 {
        at as u128 + self.width as u128
    }

    /// Units counted at instant `t`.
    pub fn units_at(&self, t: u128) -> u128 {
        self.admitted
            .iter()
            .filter(|&&(at, _)| at as u128 <= t && t < self.expiry(at))
            .map(|&(_, units)| units as u128)
            .sum()
    }

    /// The instant a check at `now` is evaluated at.
    pub fn evaluated_at(&self, now: u64) -> u64 {
        self.admitted.iter().map(|a| a.0).fold(now, u64::max)
    }

    fn until(&self, target: u128, now: u64) -> u64 {
        (target.min(u64::MAX as u128) as u64).saturating_sub(now)
    }

    fn reset_after(&self, t: u64, now: u64) -> u64 {
        let last_expiry = self
            .admitted
            .iter()
            // A zero-unit entry (a charge taken back) counts for nothing,
            // but still marks an instant the log has seen.
            .filter(|&&(at, units)| units > 0 && self.expiry(at) > t as u128)
            .map(|&(at, _)| self.expiry(at))
            .max();
        match last_expiry {
            Some(expiry) => self.until(expiry, now).max(1),
            None => 0,
        }
    }

    pub fn check(&mut self, n: u32, now: u64) -> Outcome {
        if n > self.limit {
            return Outcome::Never;
        }
        let t = self.evaluated_at(now);
        let limit = self.limit as u128;
        let units = self.units_at(t as u128);
        if units + n as u128 <= limit {
            if n > 0 {
                self.admitted.push((t, n));
            }
            Outcome::Admitted {
                remaining: (limit - units - n as u128) as u32,
                reset_after: self.reset_after(t, now),
            }
        } else {
            let retry = self
                .admitted
                .iter()
                .map(|&(at, _)| self.expiry(at))
                .filter(|&e| e > t as u128 && self.units_at(e) + n as u128 <= limit)
                .min()
                .expect("model: admitted once every unit has expired");
            Outcome::Limited {
                remaining: (limit - units) as u32,
                retry_after: self.until(retry, now).max(1),
                reset_after: self.reset_after(t, now),
            }
        }
    }

    /// `(remaining, reset_after)` at `now`, changing nothing.
    pub fn peek(&self, now: u64) -> (u32, u64) {
        let t = self.evaluated_at(now);
        let remaining = self.limit as u128 - self.units_at(t as u128);
        (remaining as u32, self.reset_after(t, now))
    }
}
