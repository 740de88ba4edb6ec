//! GCRA in its textbook virtual-scheduling form, on an exact rational time line.
//!
//! One unit costs `T = units / scale` ticks. Counting time in `1 / scale` of a
//! tick ("fine ticks") makes `T` the whole number `units`, so everything below
//! is exact integer arithmetic. `tau = burst * T` is the tolerance.
//!
//! The limiter keeps one number, the theoretical arrival time `tat` (0 at the
//! start: a fresh limiter is full). A check of `n` units at `t`:
//!
//! ```text
//! t'    = min(t, horizon)                  (later instants are the horizon)
//! start = max(tat, t')
//! admit iff start + n*T - t' <= tau        (then, for n > 0, tat = start + n*T)
//! ```
//!
//! `n > burst` is refused as "never", whatever the state. A refund of `n`
//! moves `tat` back by `n*T`, not below 0.

use super::{Answer, Status, ceil_div, floor_div, ticks, units};

#[derive(Clone, Debug)]
pub struct Gcra {
    /// `T` in fine ticks.
    cost: i128,
    /// Fine ticks per tick.
    scale: i128,
    burst: u32,
    horizon: u64,
    /// Theoretical arrival time, in fine ticks.
    tat: i128,
}

impl Gcra {
    /// A full limiter: `T = units / scale` ticks per unit, `burst` units.
    pub fn new(units: u64, scale: u64, burst: u32, horizon: u64) -> Self {
        assert!(units > 0 && scale > 0 && burst > 0, "not a rate");
        Self {
            cost: units.into(),
            scale: scale.into(),
            burst,
            horizon,
            tat: 0,
        }
    }

    /// Full again, as if idle forever (no arrival is due after tick 0).
    pub fn reset(&mut self) {
        self.tat = 0;
    }

    fn tau(&self) -> i128 {
        i128::from(self.burst) * self.cost
    }

    /// `t'` in fine ticks.
    fn now(&self, t: u64) -> i128 {
        i128::from(t.min(self.horizon)) * self.scale
    }

    /// Whole ticks, rounded up, of a span in fine ticks.
    fn ticks(&self, fine: i128) -> u128 {
        ticks(ceil_div(fine, self.scale))
    }

    pub fn check(&mut self, n: u32, t: u64) -> Answer {
        if let Some(answer) = Answer::before_arithmetic(n, self.burst, || self.snapshot(t)) {
            return answer;
        }
        let now = self.now(t);
        let start = self.tat.max(now);
        let new_tat = start + i128::from(n) * self.cost;
        if new_tat - now <= self.tau() {
            if n > 0 {
                self.tat = new_tat;
            }
            Answer::Admitted(Status {
                limit: self.burst,
                remaining: units(floor_div(self.tau() - (new_tat - now), self.cost)),
                reset_after: self.ticks(new_tat - now),
            })
        } else {
            Answer::RateLimited {
                limit: self.burst,
                remaining: units(floor_div((self.tau() - (start - now)).max(0), self.cost)),
                retry_after: self.ticks(new_tat - self.tau() - now),
                reset_after: self.ticks(start - now),
            }
        }
    }

    /// The state at `t`, as a check of nothing would report it (with
    /// `remaining` 0 when the limiter is over-committed at `t`).
    pub fn snapshot(&self, t: u64) -> Status {
        let now = self.now(t);
        let start = self.tat.max(now);
        Status {
            limit: self.burst,
            remaining: units(floor_div((self.tau() - (start - now)).max(0), self.cost)),
            reset_after: self.ticks(start - now),
        }
    }

    /// Gives back `n` units; reports the state at `t`.
    pub fn refund(&mut self, n: u32, t: u64) -> Status {
        self.tat = (self.tat - i128::from(n) * self.cost).max(0);
        self.snapshot(t)
    }
}
