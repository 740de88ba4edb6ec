//! Live reconfiguration of a keyed table's plans (`reconfigure_at`):
//!
//! - against a model: a map of independent `Reconfigurable`s, one per key
//!   and plan, each switched when its plan is, at the latest instant the
//!   table has seen (the instant the table's docs state);
//! - against the span bound of all configurations, with checks and changes
//!   at stale and fresh instants: no key is ever admitted more than the
//!   largest burst plus the fastest rate over any span;
//! - a seed plan ("Premium ten times Standard") changed while running.

use std::collections::HashMap;

use proptest::prelude::*;
use ratecore::algorithms::GcraConfig;
use ratecore::kernel::{Carry, Reconfigurable};
use ratecore::keyed::{Admitted, Plan, WhenFull};
use ratecore::{Gcra, Instant, KeyedLimiter, Limiter, Quota};

const HZ: u64 = 1_000;
const P: usize = 3;

fn at(t: u64) -> Instant<HZ> {
    Instant::<HZ>::from_ticks(t)
}

/// Three configurations: (count per second, burst).
const CONFIGS: [(u32, u32); P] = [(1, 3), (10, 6), (2, 1)];

fn quota(i: usize) -> Quota {
    let (count, burst) = CONFIGS[i];
    Quota::per_second(count).burst(burst)
}

fn table() -> KeyedLimiter<Gcra<HZ>, HZ, 256, P> {
    KeyedLimiter::new(
        core::array::from_fn(|i| Gcra::new(quota(i)).unwrap()),
        [11, 12],
        WhenFull::Deny,
    )
}

fn configs() -> [GcraConfig<HZ>; P] {
    core::array::from_fn(|i| GcraConfig::new(quota(i)).unwrap())
}

#[derive(Clone, Copy, Debug)]
enum Op {
    /// Key, plan, units.
    Check(u8, usize, u32),
    /// Plan, configuration, rule.
    Reconfigure(usize, usize, Carry),
}

fn carry() -> impl Strategy<Value = Carry> {
    prop_oneof![Just(Carry::Full), Just(Carry::InUse), Just(Carry::Scaled)]
}

fn op(carries: impl Strategy<Value = Carry>) -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u8..12, 0..P, 0u32..4).prop_map(|(k, p, n)| Op::Check(k, p, n)),
        1 => (0..P, 0..P, carries).prop_map(|(p, c, r)| Op::Reconfigure(p, c, r)),
    ]
}

/// The model: one `Reconfigurable` per key and plan, made on first use
/// under the plan's configuration then.
struct Model {
    routes: [usize; P],
    keys: HashMap<(u8, usize), Reconfigurable<GcraConfig<HZ>, P>>,
    /// The latest instant of any check.
    seen: u64,
}

impl Model {
    fn key(&mut self, key: u8, plan: usize, now: u64) -> &Reconfigurable<GcraConfig<HZ>, P> {
        let route = self.routes[plan];
        self.keys.entry((key, plan)).or_insert_with(|| {
            let fresh = Reconfigurable::new(configs());
            fresh.switch_at(route, Carry::Full, at(now)).unwrap();
            fresh
        })
    }

    fn reconfigure(&mut self, plan: usize, config: usize, carry: Carry, now: u64) -> usize {
        let previous = std::mem::replace(&mut self.routes[plan], config);
        let when = at(now.max(self.seen));
        for ((_, p), limiter) in &self.keys {
            if *p == plan {
                limiter.switch_at(config, carry, when).unwrap();
            }
        }
        previous
    }
}

proptest! {
    #![proptest_config(ratecore_testkit::config(300))]

    /// Every decision, status and reconfiguration answer equals the
    /// model's, with time moving forward.
    #[test]
    fn a_reconfigured_table_matches_a_map_of_reconfigurables(
        steps in prop::collection::vec((op(carry()), 0u64..700), 1..150),
    ) {
        let table = table();
        let mut model = Model { routes: [0, 1, 2], keys: HashMap::new(), seen: 0 };
        let mut now = 0;
        for (op, dt) in steps {
            now += dt;
            match op {
                Op::Check(key, plan, n) => {
                    let got = table.check_n_at(&key, Plan::new(plan).unwrap(), n, at(now));
                    model.seen = model.seen.max(now);
                    let want = model.key(key, plan, now).check_n_at(n, at(now));
                    prop_assert_eq!(got, want.map(Admitted::Limited), "{:?} at {}", op, now);
                }
                Op::Reconfigure(plan, config, carry) => {
                    let got = table.reconfigure_at(Plan::new(plan).unwrap(), config, carry, at(now));
                    prop_assert_eq!(got, Ok(model.reconfigure(plan, config, carry, now)));
                    prop_assert_eq!(table.configuration(Plan::new(plan).unwrap()), config);
                }
            }
            for ((key, plan), limiter) in &model.keys {
                let status = table.snapshot_at(key, Plan::new(*plan).unwrap(), at(now));
                prop_assert_eq!(status, limiter.snapshot_at(at(now)), "key {} plan {}", key, plan);
            }
        }
        prop_assert_eq!(table.full_count(), 0);
    }

    /// Checks and any number of `Carry::InUse` changes at any instants,
    /// stale ones included: over every span `[t0, t1]` a key is admitted at
    /// most the largest burst plus the fastest rate times the span, rounded
    /// up. (`Carry::Scaled` keeps that bound for one change, as
    /// `reconfigure_props` tests, not for a chain: scaled down to a smaller
    /// burst and back up, the units in use shrink and stay shrunk, and 3 + 4
    /// units pass at one instant against a largest burst of 6.)
    ///
    /// Each admitted check counts at the latest instant its key's state has
    /// been decided or carried at, as `reconfigure_props` counts a single
    /// `Reconfigurable`'s (a stale check is decided no looser than there).
    /// A check is decided at the later of its instant and the table's floor
    /// ("Stale readings"); a change carries the plan's keys at the latest of
    /// its instant, the latest instant any check was made at, and the floor
    /// (`reconfigure_at`'s "Stale instants"), and raises the floor there.
    /// (Counted at its own instant, a stale check of a busy key decided at
    /// the floor another key's reclaim raised seems to exceed the bound: 9
    /// units in 200 ms against 8, for a check at 3,228 decided at 3,728.
    /// Before a change raised the floor, a stale check after one was decided
    /// before the instant its key's state had been carried at, and did
    /// exceed it: 7 units at one instant against a burst of 6.)
    #[test]
    fn no_span_admits_more_than_the_loosest_configuration(
        steps in prop::collection::vec(
            (op(Just(Carry::InUse)), 0u64..6_000),
            1..120,
        ),
    ) {
        let table = table();
        let mut admitted: HashMap<(u8, usize), Vec<(u64, u32)>> = HashMap::new();
        // Per key and plan, the latest instant its state was decided or
        // carried at; and the latest instant of any check.
        let mut latest: HashMap<(u8, usize), u64> = HashMap::new();
        let mut checked = 0;
        for (op, t) in steps {
            let floor = table.floor().as_ticks();
            match op {
                Op::Check(key, plan, n) => {
                    checked = checked.max(t);
                    // A reclaim by this very check raises the floor to the
                    // instant it decides at, which the floor before it gives.
                    let decided = t.max(floor);
                    let answer = table.check_n_at(&key, Plan::new(plan).unwrap(), n, at(t));
                    // (A check of no units stores nothing: nothing to count.)
                    if n > 0 && matches!(answer, Ok(Admitted::Limited(_))) {
                        let latest = latest.entry((key, plan)).or_default();
                        *latest = (*latest).max(decided);
                        admitted.entry((key, plan)).or_default().push((*latest, n));
                    }
                }
                Op::Reconfigure(plan, config, carry) => {
                    let previous = table
                        .reconfigure_at(Plan::new(plan).unwrap(), config, carry, at(t))
                        .unwrap();
                    if previous != config {
                        let carried = t.max(checked).max(floor);
                        // The change raised the floor to where it carried.
                        prop_assert_eq!(table.floor().as_ticks(), carried);
                        for latest in latest.iter_mut().filter(|((_, p), _)| *p == plan) {
                            *latest.1 = (*latest.1).max(carried);
                        }
                    }
                }
            }
        }
        let burst = CONFIGS.iter().map(|c| u64::from(c.1)).max().unwrap();
        let per_second = CONFIGS.iter().map(|c| u64::from(c.0)).max().unwrap();
        for (key, units) in &admitted {
            for &(t0, _) in units {
                for &(t1, _) in units {
                    if t1 < t0 {
                        continue;
                    }
                    let inside: u64 = units
                        .iter()
                        .filter(|(t, _)| (t0..=t1).contains(t))
                        .map(|&(_, n)| u64::from(n))
                        .sum();
                    let bound = burst + (per_second * (t1 - t0)).div_ceil(HZ);
                    prop_assert!(
                        inside <= bound,
                        "{:?}: {} units in [{}, {}], bound {}",
                        key, inside, t0, t1, bound
                    );
                }
            }
        }
    }
}

/// A check at an instant older than a change is decided at the change's
/// instant, the instant its key's state was carried at: it answers as the
/// same check made then. (Decided at its own instant, the 7 units found by
/// the span test above: 6 at 3,895, then 1 more on a state carried at
/// 4,395 that counted 5 of them drained.)
#[test]
fn a_check_older_than_a_change_is_decided_at_the_change() {
    let plan = Plan::<P>::FIRST;
    let run = |last: u64| {
        let table = table();
        table
            .reconfigure_at(plan, 1, Carry::InUse, at(3_895))
            .unwrap();
        for _ in 0..2 {
            assert!(table.check_n_at(&11u8, plan, 3, at(3_895)).is_ok());
        }
        table
            .reconfigure_at(plan, 0, Carry::InUse, at(4_395))
            .unwrap();
        assert_eq!(table.floor(), at(4_395));
        (
            table.check_n_at(&11u8, plan, 1, at(last)),
            table.snapshot_at(&11u8, plan, at(4_395)),
        )
    };
    // 1 unit of 6 in use at 4,395 carried to 1 per second, burst 3: 2 left.
    let fresh = run(4_395);
    assert_eq!(fresh.1.remaining(), 1);
    assert_eq!(run(0), fresh);
    assert_eq!(run(3_895), fresh);
}

/// A change of plan raises the floor, so an undo of a charge made before
/// a later change keeps the charge (stricter, as after a reclaim), while a
/// charge made at the change's own instant is still given back.
#[test]
fn an_undo_keeps_a_charge_made_before_a_later_change() {
    let (standard, other) = (Plan::<P>::FIRST, Plan::<P>::new(1).unwrap());
    let table = table();
    // Configuration 0: 1 per second, burst 3.
    let (_, receipt) = table.charge_n_at("k", standard, 2, at(1_000)).unwrap();
    table
        .reconfigure_at(other, 2, Carry::InUse, at(1_000))
        .unwrap();
    assert_eq!(table.floor(), at(1_000));
    assert!(table.undo(receipt));
    assert_eq!(table.snapshot_at("k", standard, at(1_000)).remaining(), 3);

    let (_, receipt) = table.charge_n_at("k", standard, 2, at(1_000)).unwrap();
    table
        .reconfigure_at(other, 0, Carry::InUse, at(1_500))
        .unwrap();
    assert_eq!(table.floor(), at(1_500));
    assert!(!table.undo(receipt));
    assert_eq!(table.snapshot_at("k", standard, at(1_000)).remaining(), 1);
}

/// "Standard: 100 requests per minute with a burst of 120, per API key;
/// Premium ten times that", and Premium doubled while the table runs: every
/// Premium key keeps the units it has in use, Standard keys are untouched,
/// and a stale instant for the change forgives nothing.
#[test]
fn premium_doubles_while_running() {
    const STANDARD: Plan<3> = Plan::FIRST;
    let premium = Plan::<3>::new(1).unwrap();
    let api: KeyedLimiter<Gcra<HZ>, HZ, 256, 3> = KeyedLimiter::new(
        [
            Gcra::new(Quota::per_minute(100).burst(120)).unwrap(),
            Gcra::new(Quota::per_minute(1_000).burst(1_200)).unwrap(),
            Gcra::new(Quota::per_minute(2_000).burst(2_400)).unwrap(),
        ],
        [1, 2],
        WhenFull::Deny,
    );
    // At 10 s: acme (Premium) uses its whole burst, bob (Standard) 100.
    let ten = at(10_000);
    assert!(api.check_n_at("acme", premium, 1_200, ten).is_ok());
    assert!(api.check_n_at("bob", STANDARD, 100, ten).is_ok());
    assert!(api.check_at("acme", premium, ten).is_err());

    // The change is made with an instant read before those checks (0 s).
    assert_eq!(api.reconfigure_at(premium, 2, Carry::InUse, at(0)), Ok(1));
    // Counted at 10 s, not 0 s: the 1,200 units are still in use at 10 s,
    // so acme has exactly the 1,200 the new burst adds, not more.
    assert_eq!(api.snapshot_at("acme", premium, ten).remaining(), 1_200);
    assert!(api.check_n_at("acme", premium, 1_200, ten).is_ok());
    assert!(api.check_at("acme", premium, ten).is_err());
    // Standard is untouched; a new Premium key starts under the new plan.
    assert_eq!(api.snapshot_at("bob", STANDARD, ten).remaining(), 20);
    assert_eq!(api.snapshot_at("new", premium, ten).remaining(), 2_400);
    // 2,000 per minute from now on: one unit back every 30 ms.
    assert!(api.check_at("acme", premium, at(10_029)).is_err());
    assert!(api.check_at("acme", premium, at(10_030)).is_ok());
    // And back to ten times Standard, the units still in use.
    assert_eq!(
        api.reconfigure_at(premium, 1, Carry::InUse, at(10_030)),
        Ok(2)
    );
    assert_eq!(api.snapshot_at("acme", premium, at(10_030)).remaining(), 0);
    // An index past the table is refused, and changes nothing.
    assert!(api.reconfigure_at(premium, 3, Carry::Full, ten).is_err());
    assert_eq!(api.configuration(premium), 1);
}
