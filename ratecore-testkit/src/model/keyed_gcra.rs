//! Reference model of a keyed table: an unbounded map of independent GCRA
//! limiters, one per (key, plan), written from the documented semantics alone.
//!
//! GCRA (ARCHITECTURE.md): rate `r = count / period`, emission interval
//! `T = period / count` ticks, burst `b`; a check of `n` units at `now` is
//! admitted iff `max(tat, now) + n*T - now <= b*T`, and then
//! `tat = max(tat, now) + n*T`. Each limiter is the one GCRA model,
//! [`super::gcra::Gcra`], which keeps `T` exact by counting time in "fine
//! ticks" of `1 / count` tick, where `T = period` fine ticks.
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

/// A reference GCRA limiter: the one GCRA model ([`super::gcra::Gcra`]) on
/// a plan, answering in the table's terms.
#[derive(Clone, Copy, Debug)]
pub struct RefGcra(super::gcra::Gcra);

impl RefGcra {
    pub fn new(spec: PlanSpec) -> Self {
        Self(super::gcra::Gcra::per_period(
            spec.count,
            spec.period,
            spec.burst,
        ))
    }

    /// Full at `now`, and so at every later instant.
    pub fn is_idle(&self, now: u64) -> bool {
        self.0.is_idle(now)
    }

    /// Whether the check would store a state (admitted, `n > 0`).
    pub fn would_store(&self, n: u32, now: u64) -> bool {
        self.0.decide(n, now).1.is_some()
    }

    pub fn check(&mut self, n: u32, now: u64) -> Answer {
        Answer::from(super::tier_gcra::Answer::from(self.0.check(n, now)))
    }

    pub fn status(&self, now: u64) -> Answer {
        self.clone().check(0, now)
    }

    pub fn refund(&mut self, n: u32, now: u64) -> Answer {
        let status = self.0.refund(n, now);
        Answer::from(super::tier_gcra::Answer::from(super::Answer::Admitted(
            status,
        )))
    }
}

impl From<super::tier_gcra::Answer> for Answer {
    /// A limiter's answer, in the table's terms.
    fn from(answer: super::tier_gcra::Answer) -> Self {
        use super::tier_gcra::Answer as Plain;
        match answer {
            Plain::Admit {
                limit,
                remaining,
                reset_after,
            } => Answer::Admitted {
                limit,
                remaining,
                reset_after,
            },
            Plain::Deny {
                limit,
                remaining,
                retry_after,
                reset_after,
            } => Answer::RateLimited {
                limit,
                remaining,
                retry_after,
                reset_after,
            },
            Plain::TooLarge { requested, burst } => Answer::ExceedsBurst { requested, burst },
        }
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
        Ok(Admitted::Limited(s)) => observe_status(s),
        Ok(Admitted::Unlimited) | Err(Denied::TableFull(_)) => Answer::NoRoom,
        Err(denied) => super::tier_gcra::from_decision::<HZ>(&Err(*denied)).into(),
        Ok(other) => panic!("unknown admission {other:?}"),
    }
}

/// A status, in the model's terms (as an admitted answer).
pub fn observe_status<const HZ: u64>(status: &ratecore::Status<HZ>) -> Answer {
    super::tier_gcra::from_status(status).into()
}
