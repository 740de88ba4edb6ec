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

    /// Checks and changes at any instants, stale ones included, with the
    /// rules that never forgive (`InUse`, `Scaled`): over every span
    /// `[t0, t1]` a key is admitted at most the largest burst plus the
    /// fastest rate times the span, rounded up.
    #[test]
    fn no_span_admits_more_than_the_loosest_configuration(
        steps in prop::collection::vec(
            (op(prop_oneof![Just(Carry::InUse), Just(Carry::Scaled)]), 0u64..6_000),
            1..120,
        ),
    ) {
        let table = table();
        let mut admitted: HashMap<(u8, usize), Vec<(u64, u32)>> = HashMap::new();
        for (op, t) in steps {
            match op {
                Op::Check(key, plan, n) => {
                    if let Ok(Admitted::Limited(_)) =
                        table.check_n_at(&key, Plan::new(plan).unwrap(), n, at(t))
                    {
                        admitted.entry((key, plan)).or_default().push((t, n));
                    }
                }
                Op::Reconfigure(plan, config, carry) => {
                    table.reconfigure_at(Plan::new(plan).unwrap(), config, carry, at(t)).unwrap();
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
