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
//! moves `tat` back by `n*T`, not below 0. A limiter is idle (full now, and
//! so at every later instant, as a fresh one) when `tat <= t'`.
//!
//! This is the one GCRA model: the keyed table's model
//! ([`super::keyed_gcra::RefGcra`]) and the tiers' ([`super::tier_gcra::Gcra`])
//! are this model with `count` units per `period` ticks
//! ([`Gcra::per_period`]), answering in their own terms.

use super::{Answer, Status, ceil_div, floor_div, ticks, units};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

    /// `count` units per `period` ticks (`T = period / count`, exact), burst
    /// `burst`, and no horizon (every instant is evaluated as itself).
    pub fn per_period(count: u32, period: u64, burst: u32) -> Self {
        Self::new(period, count.into(), burst, u64::MAX)
    }

    /// The burst: the most units at once.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Full at `t`, and so at every later instant (as a fresh limiter).
    pub fn is_idle(&self, t: u64) -> bool {
        self.tat <= self.now(t)
    }

    /// The theoretical arrival time, in fine ticks: for models built on this
    /// one that carry a state from one rate to another.
    pub fn tat(&self) -> i128 {
        self.tat
    }

    /// The same limiter with theoretical arrival time `tat` (fine ticks).
    pub fn with_tat(self, tat: i128) -> Self {
        Self { tat, ..self }
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

    /// The answer to a check of `n` units at `t`, and the `tat` to store if
    /// it stores one (admitted, `n > 0`); changes nothing.
    pub fn decide(&self, n: u32, t: u64) -> (Answer, Option<i128>) {
        if let Some(answer) = Answer::before_arithmetic(n, self.burst, || self.snapshot(t)) {
            return (answer, None);
        }
        let now = self.now(t);
        let start = self.tat.max(now);
        let new_tat = start + i128::from(n) * self.cost;
        if new_tat - now <= self.tau() {
            let answer = Answer::Admitted(Status {
                limit: self.burst,
                remaining: units(floor_div(self.tau() - (new_tat - now), self.cost)),
                reset_after: self.ticks(new_tat - now),
            });
            (answer, Some(new_tat))
        } else {
            let answer = Answer::RateLimited {
                limit: self.burst,
                remaining: units(floor_div((self.tau() - (start - now)).max(0), self.cost)),
                retry_after: self.ticks(new_tat - self.tau() - now),
                reset_after: self.ticks(start - now),
            };
            (answer, None)
        }
    }

    /// The units left after an admitted check of `n` units at `t`, as the
    /// exact fraction `(numerator, denominator)` of which `remaining` is
    /// the floor; `None` if the check is not admitted.
    pub fn units_left_after(&self, n: u32, t: u64) -> Option<(i128, i128)> {
        let now = self.now(t);
        let new_tat = self.tat.max(now) + i128::from(n) * self.cost;
        let room = self.tau() - (new_tat - now);
        (n <= self.burst && room >= 0).then_some((room, self.cost))
    }

    pub fn check(&mut self, n: u32, t: u64) -> Answer {
        let (answer, tat) = self.decide(n, t);
        if let Some(tat) = tat {
            self.tat = tat;
        }
        answer
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
