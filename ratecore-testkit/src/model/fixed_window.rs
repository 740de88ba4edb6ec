//! Reference model of `FixedWindow`, written from the specification alone.
//!
//! Time is cut into windows by the boundaries `first + k * width` (`k >= 0`);
//! window 0 is `[0, first)`, window `k >= 1` is `[first + (k-1) * width,
//! first + k * width)`. The model keeps every admitted check as
//! `(window, units)` in a plain list (the [`WindowLedger`] it shares with
//! the sliding window's model) and answers from sums over it:
//!
//! - an admitted check of `n >= 1` units is charged to the window of `now`, or
//!   to the latest window charged so far if that is later (a stale `now` never
//!   opens an older window again);
//! - a check of `n` is admitted iff `n <= limit` and the units charged to that
//!   window plus `n` are at most `limit`;
//! - instants after `horizon` are evaluated as `horizon`;
//! - `retry_after` (and `reset_after` while anything is used) is the time from
//!   `now` to the end of that window, saturated at `u64::MAX`, at least 1;
//! - a refund takes units back from that window only if it is the latest
//!   charged one (units of an ended window are gone anyway).
//!
//! All arithmetic is in `u128`, so nothing here can overflow.

pub use crate::window::Outcome;

use super::window_ledger::WindowLedger;

#[derive(Clone, Debug)]
pub struct FixedWindowModel {
    pub limit: u32,
    windows: WindowLedger,
}

impl FixedWindowModel {
    /// `epoch` is any boundary; `horizon` is the limiter's documented horizon.
    pub fn new(limit: u32, width: u64, epoch: u64, horizon: u64) -> Self {
        Self {
            limit,
            windows: WindowLedger::new(width, epoch, horizon),
        }
    }

    pub fn index(&self, t: u64) -> u64 {
        narrow(self.windows.index(t.into()))
    }

    /// Start of window `i` (window 0 starts at tick 0).
    pub fn start(&self, i: u64) -> u128 {
        self.windows.start(i.into())
    }

    /// End (exclusive) of window `i`.
    pub fn end(&self, i: u64) -> u128 {
        self.windows.end(i.into())
    }

    /// The latest window any admitted check was charged to (0 if none).
    pub fn latest(&self) -> u64 {
        narrow(self.windows.latest())
    }

    /// The window a check at `now` is charged to.
    pub fn charge_window(&self, now: u64) -> u64 {
        self.index(now.min(self.windows.horizon)).max(self.latest())
    }

    fn used(&self, window: u64) -> u64 {
        narrow(self.windows.units(window.into()))
    }

    fn until(&self, target: u128, now: u64) -> u64 {
        WindowLedger::until(target, now)
    }

    pub fn check(&mut self, n: u32, now: u64) -> Outcome {
        if n > self.limit {
            return Outcome::Never;
        }
        let w = self.charge_window(now);
        let used = self.used(w);
        let limit = self.limit as u64;
        let to_end = self.until(self.end(w), now).max(1);
        if used + n as u64 <= limit {
            if n > 0 {
                self.windows.charge(w.into(), n as i64);
            }
            let after = used + n as u64;
            Outcome::Admitted {
                remaining: (limit - after) as u32,
                reset_after: if after == 0 { 0 } else { to_end },
            }
        } else {
            Outcome::Limited {
                remaining: (limit - used) as u32,
                retry_after: to_end,
                reset_after: to_end,
            }
        }
    }

    /// `(remaining, reset_after)` at `now`, changing nothing.
    pub fn peek(&self, now: u64) -> (u32, u64) {
        let w = self.charge_window(now);
        let used = self.used(w);
        let reset = if used == 0 {
            0
        } else {
            self.until(self.end(w), now).max(1)
        };
        ((self.limit as u64 - used) as u32, reset)
    }

    pub fn refund(&mut self, n: u32, now: u64) {
        let w = self.charge_window(now);
        if w == self.latest() {
            let back = (n as u64).min(self.used(w));
            if back > 0 {
                self.windows.charge(w.into(), -(back as i64));
            }
        }
    }
}

/// A window index or a unit count, which fit a `u64` (windows of `u64`
/// instants, units of admitted `u32` checks).
fn narrow(x: u128) -> u64 {
    u64::try_from(x).expect("model: fits a u64")
}
