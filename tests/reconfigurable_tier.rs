//! `Reconfigurable` as a tier of `Tiers`: tiered checks with a
//! `Reconfigurable` tier answer as all-or-nothing tiers of reference models
//! (at fresh and stale instants), and its `Charge` keeps the undo rules: an
//! undo right after a charge restores the state bit for bit, an undo after
//! another check or a plan change keeps the charge.

use proptest::prelude::*;
use ratecore::algorithms::{GcraConfig, TokenBucketConfig};
use ratecore::compose::Tier;
use ratecore::kernel::{Carry, Charge, Reconfigurable};
use ratecore::{Gcra, Instant, Limiter, Quota, RefillMode, Tiers};
use ratecore_testkit::model::tier_gcra::{
    Kind, Model, Spec, check_tiers, from_decision, from_status, from_tiers,
};

const HZ: u64 = 1_000;

fn at(ticks: u64) -> Instant<HZ> {
    Instant::<HZ>::from_ticks(ticks)
}

/// A second plan, never switched to in the model runs: a switch is not part
/// of the model, so plan 0 must be the one in force.
fn other() -> Quota {
    Quota::per_second(100).burst(50)
}

fn spec() -> impl Strategy<Value = Spec> {
    ratecore_testkit::strategy::tier_spec(&[Kind::Gcra, Kind::Greedy, Kind::Interval], 8)
}

/// Tiered checks on `[reconfigurable, plain]`, against the models of both
/// specs: at the steps' instants, stale ones included, when `stale` (the
/// GCRA model takes any instant), else at the latest instant so far.
fn run<A: Charge<HZ> + Sync>(
    reconfigurable: &A,
    plain: Spec,
    mut models: [Model; 2],
    steps: &[(u64, [u32; 2])],
    stale: bool,
) -> Result<(), TestCaseError> {
    let plain_limiter = Gcra::<HZ>::new(plain.quota::<HZ>()).unwrap();
    let tiers = Tiers::new([
        Tier::new("plans", reconfigurable as &(dyn Charge<HZ> + Sync)),
        Tier::new("plain", &plain_limiter as &(dyn Charge<HZ> + Sync)),
    ]);
    let mut latest = 0;
    for &(now, costs) in steps {
        latest = latest.max(now);
        let now = if stale { now } else { latest };
        let got = tiers.check_costs_at(costs, at(now));
        prop_assert_eq!(
            from_tiers(&got),
            check_tiers(&mut models, &costs, now),
            "costs {:?} at {}",
            costs,
            now
        );
        prop_assert_eq!(
            from_status(&reconfigurable.snapshot_at(at(now))),
            models[0].status(now)
        );
    }
    Ok(())
}

fn steps() -> impl Strategy<Value = Vec<(u64, [u32; 2])>> {
    prop::collection::vec((0u64..200_000, [0u32..=4, 0u32..=4]), 1..60).prop_map(|mut steps| {
        // Mostly forward, with some stale instants left as drawn.
        let mut now = 0;
        for (i, step) in steps.iter_mut().enumerate() {
            if i % 4 != 3 {
                now += step.0 % 5_000;
                step.0 = now;
            }
        }
        steps
    })
}

proptest! {
    #![proptest_config(ratecore_testkit::config(300))]

    #[test]
    fn a_reconfigurable_tier_matches_the_model(
        first in spec(),
        plain in spec().prop_map(|s| Spec { kind: Kind::Gcra, ..s }),
        steps in steps(),
    ) {
        let models = [first.model(), plain.model()];
        match first.kind {
            Kind::Gcra => {
                let plans = [GcraConfig::new(first.quota::<HZ>()).unwrap(), GcraConfig::new(other()).unwrap()];
                run(&Reconfigurable::new(plans), plain, models, &steps, true)?;
            }
            Kind::Greedy | Kind::Interval => {
                let mode = if first.kind == Kind::Greedy { RefillMode::Greedy } else { RefillMode::Interval };
                let plans = [
                    TokenBucketConfig::new(first.quota::<HZ>(), mode).unwrap(),
                    TokenBucketConfig::new(other(), mode).unwrap(),
                ];
                run(&Reconfigurable::new(plans), plain, models, &steps, false)?;
            }
        }
    }

    /// Charge, then undo at once: the limiter is back bit for bit, and
    /// decides on as the model that never saw the charge. Charge, let
    /// another check act, then undo: the charge is kept (a GCRA cannot take
    /// units back exactly), as the model that saw both.
    #[test]
    fn undo_is_exact_only_while_untouched(
        first in spec().prop_map(|s| Spec { kind: Kind::Gcra, ..s }),
        steps in prop::collection::vec((0u64..3_000, 0u32..=3, any::<bool>()), 1..40),
    ) {
        let limiter = Reconfigurable::new([
            GcraConfig::<HZ>::new(first.quota::<HZ>()).unwrap(),
            GcraConfig::new(other()).unwrap(),
        ]);
        let mut model = first.model();
        let mut now = 0;
        for (dt, n, touched) in steps {
            now += dt;
            let state = limiter.state();
            prop_assert_eq!(from_decision(&limiter.peek_n_at(n, at(now))), model.peek(n, now));
            prop_assert_eq!(limiter.state(), state, "a peek changed the state");
            let Ok((status, receipt)) = limiter.charge_n_at(n, at(now)) else {
                prop_assert_eq!(limiter.state(), state, "a denied charge changed the state");
                continue;
            };
            if touched {
                model.check(n, now);
                let other = limiter.check_at(at(now));
                prop_assert_eq!(from_decision(&other), model.check(1, now));
                let unchanged = limiter.state();
                let undone = limiter.undo(receipt);
                // Undone only if the check stored nothing (denied).
                prop_assert_eq!(undone, other.is_err() || n == 0);
                if other.is_err() && n > 0 {
                    // The word was still the charged one: restored exactly,
                    // and the model must forget the charge; it cannot, so
                    // the run ends here.
                    prop_assert_eq!(limiter.state(), state);
                    return Ok(());
                }
                prop_assert_eq!(limiter.state(), unchanged);
            } else {
                prop_assert_eq!(from_status(&status), model.peek(n, now));
                prop_assert!(limiter.undo(receipt));
                prop_assert_eq!(limiter.state(), state, "an undo at once is not exact");
            }
        }
    }
}

/// A plan change between a charge and its undo keeps the charge: the word
/// moved on under another plan.
#[test]
fn a_switch_since_the_charge_keeps_it() {
    let limiter = Reconfigurable::new([
        GcraConfig::<HZ>::new(Quota::per_second(1).burst(4)).unwrap(),
        GcraConfig::new(Quota::per_second(1).burst(8)).unwrap(),
    ]);
    let (_, receipt) = limiter.charge_n_at(3, at(0)).unwrap();
    limiter.switch_at(1, Carry::InUse, at(0)).unwrap();
    let switched = limiter.state();
    assert!(!limiter.undo(receipt));
    assert_eq!(limiter.state(), switched);
    assert_eq!(limiter.snapshot_at(at(0)).remaining(), 5);
}
