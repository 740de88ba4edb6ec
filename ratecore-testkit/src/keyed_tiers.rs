//! Tiers per key (`ratecore::keyed::KeyedTiers`) against the kit's model of
//! them: a map from (key, plan) to independent reference tiers
//! ([`check_tiers`]), all or nothing, the answer naming the tier that bound
//! it. Costs of 0 and above the burst, peeks and idleness are in the
//! scripts.
//!
//! With the clock moving forwards the answers are the model's exactly. With
//! stale instants they cannot be: a key idle at the latest instant may have
//! given its slot up and is then decided as a fresh one, as documented, where
//! the model still holds its old state. Then every tier of every key stays
//! within its span bound over the instants the table has seen, and a denial
//! charges no tier.

use std::collections::BTreeMap;

use ratecore::keyed::{KeyedTier, KeyedTiers, Plan, WhenFull};
use ratecore::{Gcra, KeyedLimiter};

use crate::at;
use crate::model::tier_gcra::{
    Answer, Kind, Model, Spec, TierModelAnswer, check_tiers, from_status, from_tiers,
};

/// Ticks per second.
pub const MS: u64 = 1_000;
/// Plans per table (free and pro).
pub const PLANS: usize = 2;
/// Tiers (a short and a long limit).
pub const TIERS: usize = 2;
/// The tiers' names, for the answers.
pub const NAMES: [&str; TIERS] = ["short", "long"];
/// Keys are taken modulo this: few enough that no table's probe window
/// fills, many enough that keys meet.
pub const KEYS: u8 = 6;

type Table = KeyedLimiter<Gcra<MS>, MS, 64, PLANS>;

/// One step of a script.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Op {
    /// Charge each tier its cost for a key under a plan (costs are taken
    /// modulo 20: 0, within and above the bursts).
    Check {
        key: u8,
        pro: bool,
        costs: [u8; TIERS],
    },
    /// Every tier's status for a key, and whether it is idle.
    Peek { key: u8, pro: bool },
    /// The clock forwards, up to about 4 s.
    Forward(u16),
    /// The clock backwards (a stale instant), up to about 4 s.
    Back(u16),
}

/// A plan of one tier from raw numbers: 1 to 16 units per 1 to 4,096 ms,
/// a burst of 1 to 16.
pub fn spec((count, period, burst): (u8, u16, u8)) -> Spec {
    Spec {
        kind: Kind::Gcra,
        count: u32::from(count % 16) + 1,
        period: u64::from(period % 4_096) + 1,
        burst: u32::from(burst % 16) + 1,
    }
}

/// Units admitted per (key, plan, tier) with a stale clock: the earliest
/// instant seen and the units.
type Spent = BTreeMap<(u8, usize, usize), (u64, u64)>;

/// No tier of the key has admitted more than its burst plus its rate over
/// the span from the earliest instant it saw to the latest the table saw.
fn within_bounds(spent: &Spent, plans: &[[Spec; PLANS]; TIERS], latest: u64) {
    for (&(key, p, tier), &(earliest, units)) in spent {
        let s = plans[tier][p];
        let span = u128::from(latest - earliest);
        assert!(
            u128::from(units) * u128::from(s.period)
                <= u128::from(s.burst) * u128::from(s.period) + span * u128::from(s.count),
            "key {key} plan {p} tier {tier}: {units} units in [{earliest}, {latest}], {s:?}"
        );
    }
}

/// Runs `ops` through `KeyedTiers` over one table per tier (`plans[tier][plan]`);
/// with the clock moving forwards only (`stale` false), also through the
/// model, and demands the same answers, the same tier named, the same
/// statuses, and idleness exactly when every tier is full. With `stale`,
/// see the module's documentation. With `alike`, every table is seeded
/// with `seed` (a check then hashes its key once for all of them), else
/// each with a seed of its own.
pub fn run(
    plans: [[Spec; PLANS]; TIERS],
    seed: [u64; 2],
    (stale, alike): (bool, bool),
    ops: &[Op],
) {
    let gcra = |s: &Spec| Gcra::<MS>::new(s.quota::<MS>()).expect("a valid plan");
    let tables: [Table; TIERS] = std::array::from_fn(|tier| {
        let apart = if alike { 0 } else { tier as u64 };
        let seed = [seed[0], seed[1].wrapping_add(apart)];
        Table::new(plans[tier].each_ref().map(gcra), seed, WhenFull::Deny)
    });
    let keyed = KeyedTiers::new(std::array::from_fn(|tier| {
        KeyedTier::new(NAMES[tier], &tables[tier])
    }));
    let mut model: BTreeMap<(u8, usize), Vec<Model>> = BTreeMap::new();
    let (mut now, mut latest) = (0u64, 0u64);
    let mut spent = Spent::new();
    for &op in ops {
        match op {
            Op::Forward(dt) => now = now.saturating_add(u64::from(dt % 4_096)),
            Op::Back(dt) if stale => now = now.saturating_sub(u64::from(dt % 4_096)),
            Op::Back(_) => {}
            Op::Check { key, pro, costs } if stale => {
                let (key, p) = (key % KEYS, usize::from(pro));
                let costs = costs.map(|c| u32::from(c % 20));
                let before = keyed.snapshot_all_at(&key, plan(p), at(now));
                match keyed.check_costs_at(&key, plan(p), costs, at(now)) {
                    Ok(_) => {
                        for (tier, &cost) in costs.iter().enumerate() {
                            let entry = spent.entry((key, p, tier)).or_insert((now, 0));
                            *entry = (entry.0.min(now), entry.1 + u64::from(cost));
                        }
                    }
                    Err(denied) => {
                        assert_eq!(denied.name, NAMES[denied.tier]);
                        let after = keyed.snapshot_all_at(&key, plan(p), at(now));
                        assert_eq!(after, before, "a denial charged a tier");
                    }
                }
                latest = latest.max(now);
                within_bounds(&spent, &plans, latest);
            }
            Op::Check { key, pro, costs } => {
                let (key, p) = (key % KEYS, usize::from(pro));
                let tiers = model
                    .entry((key, p))
                    .or_insert_with(|| plans.iter().map(|tier| tier[p].model()).collect());
                let costs = costs.map(|c| u32::from(c % 20));
                let want: TierModelAnswer = check_tiers(tiers, &costs, now);
                let got = keyed.check_costs_at(&key, plan(p), costs, at(now));
                let named = match &got {
                    Ok(a) => (a.tier, a.name),
                    Err(a) => (a.tier, a.name),
                };
                assert_eq!(named.1, NAMES[named.0], "the answer names another tier");
                assert_eq!(
                    from_tiers(&got),
                    want,
                    "key {key} plan {p} costs {costs:?} at {now}"
                );
            }
            Op::Peek { .. } if stale => {}
            Op::Peek { key, pro } => {
                let (key, p) = (key % KEYS, usize::from(pro));
                let fresh = || plans.iter().map(|tier| tier[p].model()).collect();
                let tiers: Vec<Model> = model.get(&(key, p)).cloned().unwrap_or_else(fresh);
                let got = keyed.snapshot_all_at(&key, plan(p), at(now));
                for (tier, (status, reference)) in got.iter().zip(&tiers).enumerate() {
                    assert_eq!(
                        from_status(status),
                        reference.status(now).as_status(),
                        "tier {tier} of key {key} plan {p} at {now}"
                    );
                }
                let idle = tiers.iter().all(|t| {
                    matches!(
                        t.status(now).as_status(),
                        Answer::Admit { reset_after: 0, .. }
                    )
                });
                assert_eq!(
                    keyed.is_idle_at(&key, plan(p), at(now)),
                    idle,
                    "idleness of key {key} plan {p} at {now}"
                );
            }
        }
    }
}

fn plan(p: usize) -> Plan<PLANS> {
    Plan::<PLANS>::new(p).expect("a plan of the table")
}
