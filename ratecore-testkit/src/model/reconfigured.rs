//! Reference model of a GCRA limiter that changes plan while it runs
//! (`ratecore::kernel::Reconfigurable` over GCRA plans), written from the
//! documented rules (`Carry`, `Reconfigure`) alone, on the plain GCRA of
//! [`super::tier_gcra`]:
//!
//! - a check decides with the plan in force, as that plan's GCRA;
//! - the limiter remembers the latest instant an admitted check (of `n > 0`)
//!   or a plan change has seen; a change at an earlier (stale) instant is
//!   made at that latest instant;
//! - the units in use at the change instant `at` are the backlog
//!   `max(tat - at, 0)` over the old plan's emission interval, rounded up;
//! - `Full`: nothing stays in use (the new plan is full from `at` on, and
//!   no looser at an earlier instant); `InUse`: those units stay in use
//!   under the new plan, all of them (beyond its burst if need be);
//!   `Scaled`: they are counted where the backlog first fits the old burst
//!   (if that is after `at`), scaled by new burst over old burst, rounded
//!   up and at most the new burst;
//! - units in use are booked from the counting instant at the new plan's
//!   emission interval;
//! - a change to the plan in force changes nothing.

use ratecore::kernel::Carry;

use super::tier_gcra::{Answer, Gcra, Spec};

/// A GCRA that can change plan.
#[derive(Clone, Debug)]
pub struct Reconfigured {
    plans: Vec<Spec>,
    plan: usize,
    gcra: Gcra,
    latest: u64,
}

impl Reconfigured {
    /// Fresh, on plan 0 of `plans`.
    pub fn new(plans: &[Spec]) -> Self {
        let first = plans[0];
        Self {
            plans: plans.to_vec(),
            plan: 0,
            gcra: Gcra::new(first.count, first.period, first.burst),
            latest: 0,
        }
    }

    /// The plan in force.
    pub fn plan(&self) -> usize {
        self.plan
    }

    pub fn check(&mut self, n: u32, now: u64) -> Answer {
        let answer = self.gcra.check(n, now);
        if n > 0 && matches!(answer, Answer::Admit { .. }) {
            self.latest = self.latest.max(now);
        }
        answer
    }

    pub fn status(&self, now: u64) -> Answer {
        self.gcra.status(now).as_status()
    }

    /// Changes to plan `plan` at `now` by `carry`; the plan it replaced.
    pub fn switch(&mut self, plan: usize, carry: Carry, now: u64) -> usize {
        let previous = self.plan;
        if plan == previous {
            return previous;
        }
        let (old, new) = (self.plans[previous], self.plans[plan]);
        let at = now.max(self.latest);
        let next = match carry {
            Carry::InUse => rebook(&self.gcra, old, new, at, Counted::AtAll),
            Carry::Scaled => rebook(&self.gcra, old, new, at, Counted::Scaled),
            _ => rebook(&self.gcra, old, new, at, Counted::None),
        };
        self.gcra = next;
        self.plan = plan;
        self.latest = at;
        previous
    }
}

/// How the units in use carry over to a new plan.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Counted {
    /// None stay in use.
    None,
    /// All of them, at `at`.
    AtAll,
    /// Where the backlog first fits the old burst (if after `at`), scaled
    /// by new burst over old burst, rounded up, at most the new burst.
    Scaled,
    /// Where the backlog first fits the old burst (if after `at`), at most
    /// the new burst (`set_quota_at`).
    Capped,
}

/// The GCRA of plan `new` that replaces `gcra` (of plan `old`) at `at`.
fn rebook(gcra: &Gcra, old: Spec, new: Spec, at: u64, rule: Counted) -> Gcra {
    // Times of the GCRA are kept multiplied by its count.
    let (count, period) = (u128::from(old.count), u128::from(old.period));
    let capacity = u128::from(old.burst) * period;
    let counted = match rule {
        Counted::Scaled | Counted::Capped => {
            let fits = tat(gcra).saturating_sub(capacity).div_ceil(count);
            u128::from(at).max(fits)
        }
        _ => u128::from(at),
    };
    let used = tat(gcra).saturating_sub(counted * count).div_ceil(period);
    let cap = u128::from(new.burst);
    let used = match rule {
        Counted::None => 0,
        Counted::AtAll => used,
        Counted::Scaled => (used * cap).div_ceil(u128::from(old.burst)).min(cap),
        Counted::Capped => used.min(cap),
    };
    let tat = counted * u128::from(new.count) + used * u128::from(new.period);
    with_tat(new, tat)
}

/// The theoretical arrival time of the reference GCRA (times its count):
/// the one place this model reads the reference's state.
fn tat(gcra: &Gcra) -> u128 {
    gcra.tat()
}

/// The reference GCRA of `spec` with this theoretical arrival time (times
/// its count): the one place this model writes the reference's state.
fn with_tat(spec: Spec, tat: u128) -> Gcra {
    Gcra::new(spec.count, spec.period, spec.burst).with_tat(tat)
}

/// `set_quota_at(new, now)` of a plain limiter of quota `old` (GCRA, or a
/// token bucket refilled greedily): the units in use carry over, counted at
/// `now` or where the backlog first fits the old burst if that is later (a
/// stale `now` forgives nothing), at most the new burst.
pub fn set_quota(gcra: &Gcra, old: Spec, new: Spec, now: u64) -> Gcra {
    rebook(gcra, old, new, now, Counted::Capped)
}
