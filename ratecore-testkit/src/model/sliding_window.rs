//! Reference model of `SlidingWindow` (the sliding-window counter), written
//! from the specification alone.
//!
//! Windows are cut as for the fixed window: boundaries at `first + k * width`
//! (`k >= 0`), window 0 is `[0, first)`. The model keeps every admitted check
//! as `(window, units)` in a plain list (the [`WindowLedger`]). At an instant `t` in window `i`, with
//! `r = end(i) - t` ticks left in the window (`1..=width`), the estimate of the
//! units in the trailing `width` ticks is
//!
//! ```text
//! estimate(t) = ceil(units(i - 1) * r / width) + units(i)
//! ```
//!
//! (the previous window's count weighted by the part of it the trailing span
//! still covers, rounded up). A check of `n` is admitted iff `n <= limit` and
//! `estimate + n <= limit`; it is charged to window `i`.
//!
//! - Instants after `horizon` are evaluated as `horizon`.
//! - A stale `now`, in a window older than the latest charged one `J`, is
//!   evaluated at the start of window `J` (the strictest instant of that
//!   window) and charged to `J`.
//! - `retry_after` is found by *searching* (binary search over the instants
//!   after the evaluated one, on the monotone predicate "admitted at t") for
//!   the first instant at which the same check is admitted, as if time went
//!   on past the horizon, saturated at `u64::MAX`; `reset_after` likewise for
//!   the first instant with a zero estimate (zero if the estimate is zero now);
//!   both at least 1 when not zero.
//! - A refund takes units back from the evaluated window, then from the one
//!   before it.
//!
//! All arithmetic is in `u128`.

pub use crate::window::Outcome;

use super::window_ledger::WindowLedger;

#[derive(Clone, Debug)]
pub struct SlidingWindowModel {
    pub limit: u32,
    windows: WindowLedger,
}

impl SlidingWindowModel {
    /// `epoch` is any boundary; `horizon` is the limiter's documented horizon.
    pub fn new(limit: u32, width: u64, epoch: u64, horizon: u64) -> Self {
        Self {
            limit,
            windows: WindowLedger::new(width, epoch, horizon),
        }
    }

    /// Window of instant `t` (any `u128`, so searches may run past `u64::MAX`).
    pub fn index(&self, t: u128) -> u128 {
        self.windows.index(t)
    }

    /// Start of window `i` (window 0 starts at tick 0).
    pub fn start(&self, i: u128) -> u128 {
        self.windows.start(i)
    }

    /// End (exclusive) of window `i`.
    pub fn end(&self, i: u128) -> u128 {
        self.windows.end(i)
    }

    /// The latest window any admitted check was charged to (0 if none).
    pub fn latest(&self) -> u128 {
        self.windows.latest()
    }

    fn units(&self, window: u128) -> u128 {
        self.windows.units(window)
    }

    /// The instant a check at `now` is evaluated at.
    pub fn evaluated_at(&self, now: u64) -> u128 {
        let t = u128::from(now.min(self.windows.horizon));
        let latest = self.latest();
        if self.index(t) < latest {
            self.start(latest)
        } else {
            t
        }
    }

    /// The estimate at instant `t` (not stale), rounded up.
    pub fn estimate(&self, t: u128) -> u128 {
        let i = self.index(t);
        let r = self.end(i) - t;
        let prev = if i == 0 { 0 } else { self.units(i - 1) };
        (prev * r).div_ceil(u128::from(self.windows.width)) + self.units(i)
    }

    /// The first instant in `(from, ...)` at which `ok` holds, for a predicate
    /// that is false at `from` and true from some instant on (monotone).
    fn search(&self, from: u128, ok: impl Fn(u128) -> bool) -> u128 {
        let mut lo = from; // ok(lo) is false
        let mut hi = self.end(self.index(from)) + u128::from(self.windows.width); // two windows on: estimate 0
        assert!(ok(hi), "model: predicate must hold two windows later");
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if ok(mid) { hi = mid } else { lo = mid }
        }
        hi
    }

    fn until(&self, target: u128, now: u64) -> u64 {
        WindowLedger::until(target, now)
    }

    fn reset_after(&self, t: u128, now: u64) -> u64 {
        if self.estimate(t) == 0 {
            0
        } else {
            self.until(self.search(t, |x| self.estimate(x) == 0), now)
                .max(1)
        }
    }

    pub fn check(&mut self, n: u32, now: u64) -> Outcome {
        if n > self.limit {
            return Outcome::Never;
        }
        let t = self.evaluated_at(now);
        let limit = self.limit as u128;
        let estimate = self.estimate(t);
        // A check of nothing is always admitted and reports the state.
        if n == 0 || estimate + n as u128 <= limit {
            if n > 0 {
                self.windows.charge(self.index(t), n as i64);
            }
            Outcome::Admitted {
                remaining: limit.saturating_sub(estimate + n as u128) as u32,
                reset_after: self.reset_after(t, now),
            }
        } else {
            let at = self.search(t, |x| self.estimate(x) + n as u128 <= limit);
            Outcome::Limited {
                remaining: limit.saturating_sub(estimate) as u32,
                retry_after: self.until(at, now).max(1),
                reset_after: self.reset_after(t, now),
            }
        }
    }

    /// `(remaining, reset_after)` at `now`, changing nothing.
    pub fn peek(&self, now: u64) -> (u32, u64) {
        let t = self.evaluated_at(now);
        let remaining = (self.limit as u128).saturating_sub(self.estimate(t));
        (remaining as u32, self.reset_after(t, now))
    }

    pub fn refund(&mut self, n: u32, now: u64) {
        let i = self.index(self.evaluated_at(now));
        let mut left = n as u128;
        for window in [Some(i), i.checked_sub(1)].into_iter().flatten() {
            let back = left.min(self.units(window));
            if back > 0 {
                self.windows.charge(window, -(back as i64));
                left -= back;
            }
        }
    }
}
