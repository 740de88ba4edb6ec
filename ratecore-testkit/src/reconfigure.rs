//! Live reconfiguration (`ratecore::kernel::Reconfigurable` over GCRA
//! plans, `switch_at` with every `Carry`, at fresh and stale instants)
//! against the model [`Reconfigured`], and against the span bound of both
//! plans: checks after a change are never looser than the looser plan.

use ratecore::algorithms::GcraConfig;
use ratecore::kernel::{Carry, Reconfigurable};
use ratecore::{Limiter, Refund};

use crate::at;
use crate::model::reconfigured::Reconfigured;
use crate::model::tier_gcra::{Spec, from_decision, from_status};

/// Ticks per second.
pub const MS: u64 = 1_000;

/// One step of a script.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Op {
    /// Check `n % 20` units (0, within and above the bursts).
    Check(u8),
    /// The limiter's status.
    Peek,
    /// The clock forwards, up to about 4 s.
    Forward(u16),
    /// The clock backwards (a stale instant), up to about 4 s.
    Back(u16),
    /// `switch_at(plan % 2, carry, now - back % 4096)`: `carry % 3` is
    /// `Full`, `InUse` or `Scaled`.
    Switch { plan: bool, carry: u8, back: u16 },
}

/// Units admitted since the bound last started over, each at the latest
/// instant seen when it was admitted (a stale check is decided no looser
/// than there), and the changes within: any number that keep the units in
/// use, or one that scales them.
#[derive(Default)]
struct Stretch {
    units: Vec<(u64, u32)>,
    changes: Option<Carry>,
}

impl Stretch {
    /// No span of admitted units holds more than the larger burst plus the
    /// larger rate times the span.
    fn check(&self, plans: [Spec; 2]) {
        crate::requota::within_looser(&plans, &self.units);
    }
}

/// Runs `ops` through `Reconfigurable` over the GCRA plans `plans` and the
/// model: every answer, status and plan index equal the model's; and no span
/// admits more than the larger burst plus the larger rate times the span,
/// across any number of `InUse` changes or one `Scaled` change (a `Full`
/// change starts afresh by design, and a chain through `Scaled` compounds,
/// as documented: the bound starts over there).
pub fn run(plans: [Spec; 2], ops: &[Op]) {
    let config = |s: Spec| GcraConfig::<MS>::new(s.quota::<MS>()).expect("a valid plan");
    let limiter = Reconfigurable::new(plans.map(config));
    let mut model = Reconfigured::new(&plans);
    let (mut now, mut latest) = (10_000u64, 0u64);
    let mut stretch = Stretch::default();
    for &op in ops {
        match op {
            Op::Forward(dt) => now = now.saturating_add(u64::from(dt % 4_096)),
            Op::Back(dt) => now = now.saturating_sub(u64::from(dt % 4_096)),
            Op::Peek => assert_eq!(
                from_status(&limiter.snapshot_at(at(now))),
                model.status(now),
                "status at {now}"
            ),
            Op::Check(n) => {
                let n = u32::from(n % 20);
                let got = from_decision(&limiter.check_n_at(n, at(now)));
                assert_eq!(got, model.check(n, now), "check {n} at {now}");
                if n > 0 && matches!(got, crate::model::tier_gcra::Answer::Admit { .. }) {
                    latest = latest.max(now);
                    stretch.units.push((latest, n));
                }
            }
            Op::Switch { plan, carry, back } => {
                let when = now.saturating_sub(u64::from(back % 4_096));
                let carry = [Carry::Full, Carry::InUse, Carry::Scaled][usize::from(carry % 3)];
                let previous = limiter.switch_at(usize::from(plan), carry, at(when));
                assert_eq!(previous, Ok(model.switch(usize::from(plan), carry, when)));
                if previous != Ok(usize::from(plan)) {
                    // A change is an instant the limiter has seen.
                    latest = latest.max(when);
                    let within = match stretch.changes {
                        None => carry != Carry::Full,
                        Some(before) => before == Carry::InUse && carry == Carry::InUse,
                    };
                    if !within {
                        stretch.check(plans);
                        stretch = Stretch::default();
                    }
                    stretch.changes = (carry != Carry::Full).then_some(carry);
                }
            }
        }
        assert_eq!(limiter.plan(), model.plan());
    }
    stretch.check(plans);
    // A refund of nothing changes nothing, under any plan.
    let before = limiter.snapshot_at(at(now));
    assert_eq!(limiter.refund_n_at(0, at(now)), before);
}
