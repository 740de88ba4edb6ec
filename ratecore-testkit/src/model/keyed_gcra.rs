//! Reference model of a keyed table: an unbounded map of independent GCRA
//! limiters, one per (key, plan), written from the documented semantics alone.
//!
//! GCRA (ARCHITECTURE.md): rate `r = count / period`, emission interval
//! `T = period / count` ticks, burst `b`; a check of `n` units at `now` is
//! admitted iff `max(tat, now) + n*T - now <= b*T`, and then
//! `tat = max(tat, now) + n*T`. To keep `T` exact, time is counted here in
//! "fine ticks" of `1 / count` tick, where `T = period` fine ticks.
//!
//! The answers, from the same spec:
//! - `remaining`: how many more single units would pass at the same instant:
//!   `floor((b*T - backlog) / T)` with `backlog = max(tat, now) - now`;
//! - `reset_after`: whole ticks until the limiter is full again (`tat <= t`),
//!   rounded up;
//! - `retry_after` (denied): the first whole tick `t` at which the same check
//!   passes: `tat + n*T - t <= b*T`;
//! - `n > b`: "exceeds burst", whatever the state. `n = 0`: a peek.
//! - refund of `n`: `tat` moves back by `n*T`, not below 0.
//! - idle: full now (`tat <= now`), hence full at every later instant, as a
//!   fresh limiter.
//!
//! The table side of the model: a check needs a slot only if it must store a
//! state for a key that is not active (absent, or idle); and the table can only
//! be full for it if at least as many *other* keys as the key's probe window
//! are active. When the window is the whole table, that is also sufficient.

use std::collections::BTreeMap;

/// One plan: `count` units per `period` ticks, burst `burst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanSpec {
    pub count: u32,
    pub period: u64,
    pub burst: u32,
}

impl PlanSpec {
    /// The crate's quota for this plan, on a clock of `HZ` ticks per second.
    pub fn quota<const HZ: u64>(&self) -> ratecore::Quota {
        let period = ratecore::Duration::<HZ>::from_ticks(self.period);
        ratecore::Quota::with_period(self.count, period).burst(self.burst)
    }
}

/// What a check answered, in plain numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Admitted {
        limit: u32,
        remaining: u32,
        reset_after: u64,
    },
    RateLimited {
        limit: u32,
        remaining: u32,
        retry_after: u64,
        reset_after: u64,
    },
    ExceedsBurst {
        requested: u32,
        burst: u32,
    },
    /// The table had no room (denied, or admitted unlimited).
    NoRoom,
}

/// A reference GCRA limiter.
#[derive(Clone, Copy, Debug)]
pub struct RefGcra {
    spec: PlanSpec,
    /// Theoretical arrival time, in fine ticks (`1 / count` tick).
    tat: u128,
}

fn ceil_div(a: u128, b: u128) -> u128 {
    a.div_ceil(b)
}

impl RefGcra {
    pub fn new(spec: PlanSpec) -> Self {
        assert!(spec.count > 0 && spec.period > 0 && spec.burst > 0);
        Self { spec, tat: 0 }
    }

    fn t(&self) -> u128 {
        u128::from(self.spec.period)
    }

    fn tau(&self) -> u128 {
        u128::from(self.spec.burst) * self.t()
    }

    fn fine(&self, now: u64) -> u128 {
        u128::from(now) * u128::from(self.spec.count)
    }

    /// Whole ticks, rounded up, of a span of fine ticks.
    fn ticks(&self, fine: u128) -> u64 {
        u64::try_from(ceil_div(fine, u128::from(self.spec.count))).unwrap()
    }

    fn remaining(&self, backlog: u128) -> u32 {
        u32::try_from((self.tau() - backlog) / self.t()).unwrap()
    }

    /// Full at `now`, and so at every later instant.
    pub fn is_idle(&self, now: u64) -> bool {
        self.tat <= self.fine(now)
    }

    /// Whether the check would store a state (admitted, `n > 0`).
    pub fn would_store(&self, n: u32, now: u64) -> bool {
        n > 0 && matches!(self.clone().check(n, now), Answer::Admitted { .. })
    }

    pub fn check(&mut self, n: u32, now: u64) -> Answer {
        let limit = self.spec.burst;
        if n > self.spec.burst {
            return Answer::ExceedsBurst {
                requested: n,
                burst: self.spec.burst,
            };
        }
        let now_f = self.fine(now);
        let start = self.tat.max(now_f);
        if n == 0 {
            // Zero units are always admitted and change nothing.
            let backlog = start - now_f;
            return Answer::Admitted {
                limit,
                remaining: if backlog > self.tau() {
                    0
                } else {
                    self.remaining(backlog)
                },
                reset_after: self.ticks(backlog),
            };
        }
        let need = u128::from(n) * self.t();
        if n == 0 {
            // A check of nothing is always admitted and reports the state.
            let backlog = start - now_f;
            return Answer::Admitted {
                limit,
                remaining: u32::try_from(self.tau().saturating_sub(backlog) / self.t()).unwrap(),
                reset_after: self.ticks(backlog),
            };
        }
        if start + need - now_f <= self.tau() {
            let tat = start + need;
            if n > 0 {
                self.tat = tat;
            }
            Answer::Admitted {
                limit,
                remaining: self.remaining(tat - now_f),
                reset_after: self.ticks(tat - now_f),
            }
        } else {
            // First tick t with start + need - t*count <= tau.
            let fits_at = start + need - self.tau();
            Answer::RateLimited {
                limit,
                remaining: self.remaining(start - now_f),
                retry_after: self.ticks(fits_at - now_f),
                reset_after: self.ticks(start - now_f),
            }
        }
    }

    pub fn status(&self, now: u64) -> Answer {
        self.clone().check(0, now)
    }

    pub fn refund(&mut self, n: u32, now: u64) -> Answer {
        self.tat = self.tat.saturating_sub(u128::from(n) * self.t());
        self.status(now)
    }
}

/// The unbounded map of independent limiters.
#[derive(Clone, Debug)]
pub struct KeyedModel {
    plans: Vec<PlanSpec>,
    limiters: BTreeMap<(u64, usize), RefGcra>,
}

/// The slots a key may use: at least `slots` of them; `whole` if that is the
/// whole table (then fullness is predicted exactly).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub slots: usize,
    pub whole: bool,
}

/// How a check met the table, as the model sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Room {
    /// The check must store a state for a key that is absent or idle.
    pub needs_slot: bool,
    /// Other (key, plan) pairs that are not idle.
    pub active_others: usize,
}

impl KeyedModel {
    pub fn new(plans: &[PlanSpec]) -> Self {
        Self {
            plans: plans.to_vec(),
            limiters: BTreeMap::new(),
        }
    }

    fn limiter(&self, key: u64, plan: usize) -> RefGcra {
        self.limiters
            .get(&(key, plan))
            .copied()
            .unwrap_or_else(|| RefGcra::new(self.plans[plan]))
    }

    pub fn room(&self, key: u64, plan: usize, n: u32, now: u64) -> Room {
        let mine = self.limiter(key, plan);
        Room {
            needs_slot: mine.is_idle(now) && mine.would_store(n, now),
            active_others: self
                .limiters
                .iter()
                .filter(|(k, l)| **k != (key, plan) && !l.is_idle(now))
                .count(),
        }
    }

    /// Keys (any plan) that are not idle at `now`.
    pub fn active(&self, now: u64) -> usize {
        self.limiters.values().filter(|l| !l.is_idle(now)).count()
    }

    /// The limiter of `(key, plan)`, a fresh one if the key was never seen.
    fn entry(&mut self, key: u64, plan: usize) -> &mut RefGcra {
        let spec = self.plans[plan];
        self.limiters
            .entry((key, plan))
            .or_insert_with(|| RefGcra::new(spec))
    }

    pub fn check(&mut self, key: u64, plan: usize, n: u32, now: u64) -> Answer {
        self.entry(key, plan).check(n, now)
    }

    pub fn snapshot(&self, key: u64, plan: usize, now: u64) -> Answer {
        self.limiter(key, plan).status(now)
    }

    pub fn refund(&mut self, key: u64, plan: usize, n: u32, now: u64) -> Answer {
        self.entry(key, plan).refund(n, now)
    }

    /// Checks a table's answer to `check(key, plan, n, now)` against the model
    /// and applies the check to the model. Returns whether the table had no room.
    pub fn verify_check(
        &mut self,
        (key, plan, n, now): (u64, usize, u32, u64),
        window: Window,
        observed: Answer,
    ) -> Result<bool, String> {
        let Window {
            slots: window,
            whole,
        } = window;
        let room = self.room(key, plan, n, now);
        let predicted_full = room.needs_slot && room.active_others >= window;
        if observed == Answer::NoRoom {
            if !room.needs_slot || room.active_others < window {
                return Err(format!(
                    "no room for key {key} plan {plan} n {n} at {now}, but {room:?} (window {window})"
                ));
            }
            // Nothing recorded, by the table or by the model.
            return Ok(true);
        }
        if whole && predicted_full {
            return Err(format!(
                "key {key} plan {plan} n {n} at {now} found room in a full table: {room:?}, answered {observed:?}"
            ));
        }
        let expected = self.check(key, plan, n, now);
        if expected != observed {
            return Err(format!(
                "key {key} plan {plan} n {n} at {now}: table {observed:?}, model {expected:?}"
            ));
        }
        Ok(false)
    }
}

/// A table's answer, in the model's terms.
pub fn observe<const HZ: u64>(decision: &ratecore::keyed::KeyedDecision<HZ>) -> Answer {
    use ratecore::{Denied, keyed::Admitted};
    match decision {
        Ok(Admitted::Limited(s)) => Answer::Admitted {
            limit: s.limit(),
            remaining: s.remaining(),
            reset_after: s.reset_after().as_ticks(),
        },
        Ok(Admitted::Unlimited) | Err(Denied::TableFull(_)) => Answer::NoRoom,
        Err(Denied::RateLimited(r)) => Answer::RateLimited {
            limit: r.limit(),
            remaining: r.remaining(),
            retry_after: r.retry_after().as_ticks(),
            reset_after: r.reset_after().as_ticks(),
        },
        Err(Denied::ExceedsBurst(e)) => Answer::ExceedsBurst {
            requested: e.requested,
            burst: e.burst,
        },
        Ok(other) => panic!("unknown admission {other:?}"),
        Err(other) => panic!("unknown denial {other:?}"),
    }
}

/// A status, in the model's terms (as an admitted answer).
pub fn observe_status<const HZ: u64>(status: &ratecore::Status<HZ>) -> Answer {
    Answer::Admitted {
        limit: status.limit(),
        remaining: status.remaining(),
        reset_after: status.reset_after().as_ticks(),
    }
}
