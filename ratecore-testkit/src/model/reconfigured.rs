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
        // Times of the GCRA are kept multiplied by its count.
        let (count, period) = (u128::from(old.count), u128::from(old.period));
        let capacity = u128::from(old.burst) * period;
        let counted = match carry {
            Carry::Scaled => {
                let fits = self.gcra.tat.saturating_sub(capacity).div_ceil(count);
                u128::from(at).max(fits)
            }
            _ => u128::from(at),
        };
        let used = self
            .gcra
            .tat
            .saturating_sub(counted * count)
            .div_ceil(period);
        let used = match carry {
            Carry::InUse => used,
            Carry::Scaled => {
                let scaled = (used * u128::from(new.burst)).div_ceil(u128::from(old.burst));
                scaled.min(u128::from(new.burst))
            }
            _ => 0,
        };
        let mut next = Gcra::new(new.count, new.period, new.burst);
        next.tat = counted * u128::from(new.count) + used * u128::from(new.period);
        self.gcra = next;
        self.plan = plan;
        self.latest = at;
        previous
    }
}
