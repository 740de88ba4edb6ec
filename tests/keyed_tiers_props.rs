//! Tiers per key: `KeyedTiers` over keyed tables decides, key by key,
//! exactly as the kit's independent model of tiers per (key, plan)
//! (`ratecore_testkit::keyed_tiers`, which the `keyed_tiers` fuzz target
//! also runs), and exactly as `Tiers` over each key's own limiters (whose
//! all-or-nothing decisions `tiers_props` checks against a model); and a
//! keyed charge is undone exactly.

use std::collections::HashMap;

use proptest::prelude::*;
use ratecore::compose::{Tier, Tiers};
use ratecore::keyed::{KeyedTier, KeyedTiers, Plan, WhenFull};
use ratecore::{Duration, Gcra, KeyedLimiter, Limiter, Quota};
use ratecore_testkit::at;
use ratecore_testkit::gcra_table;
use ratecore_testkit::keyed_tiers::{Op, PLANS, TIERS, run, spec};

const MS: u64 = 1_000;

fn quota(count: u32, period: u64, burst: u32) -> Quota {
    Quota::with_period(count, Duration::<MS>::from_ticks(period)).burst(burst)
}

type Table = KeyedLimiter<Gcra<MS>, MS, 64, 2>;

/// A step of a script for the kit's runner: checks and peeks of six keys
/// under two plans, the clock forwards and (in a stale run) backwards.
fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<u8>(), any::<bool>(), any::<[u8; TIERS]>())
            .prop_map(|(key, pro, costs)| Op::Check { key, pro, costs }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(key, pro)| Op::Peek { key, pro }),
        2 => any::<u16>().prop_map(Op::Forward),
        1 => any::<u16>().prop_map(Op::Back),
    ]
}

proptest! {
    #![proptest_config(ratecore_testkit::config(256))]

    /// Against the kit's model: the same answers, the same tier named, the
    /// same statuses and idleness with the clock moving forwards; with
    /// stale instants, every tier within its span bound and no denial
    /// charging a tier (see the runner's docs). The tables seeded alike
    /// (a key hashed once a check) or apart (once a table).
    #[test]
    fn keyed_tiers_follow_the_model(
        plans in any::<[[(u8, u16, u8); PLANS]; TIERS]>(),
        seed in any::<[u64; 2]>(),
        stale in any::<bool>(),
        alike in any::<bool>(),
        ops in prop::collection::vec(op(), 1..200),
    ) {
        run(plans.map(|tier| tier.map(spec)), seed, (stale, alike), &ops);
    }

    #[test]
    fn keyed_tiers_are_tiers_per_key(
        // Two tiers (a short and a long limit), two plans each.
        limits in prop::array::uniform4((1u32..10, 10u64..2_000, 1u32..10)),
        ops in prop::collection::vec((0u8..5, 0usize..2, 0u32..6, 0u32..6, 0u64..300), 1..150),
    ) {
        let gcra = |(c, p, b): (u32, u64, u32)| Gcra::<MS>::new(quota(c, p, b)).unwrap();
        let short = Table::new([gcra(limits[0]), gcra(limits[1])], [1, 2], WhenFull::Deny);
        let long = Table::new([gcra(limits[2]), gcra(limits[3])], [3, 4], WhenFull::Deny);
        let keyed = KeyedTiers::new([KeyedTier::new("short", &short), KeyedTier::new("long", &long)]);
        let mut own: HashMap<(u8, usize), (Gcra<MS>, Gcra<MS>)> = HashMap::new();
        let mut now = 0;
        for (key, plan, c0, c1, dt) in ops {
            now += dt;
            let (a, b) = own
                .entry((key, plan))
                .or_insert_with(|| (gcra(limits[plan]), gcra(limits[2 + plan])));
            let tiers = Tiers::new([Tier::new("short", &*a), Tier::new("long", &*b)]);
            let want = tiers.check_costs_at([c0, c1], at(now));
            let got = keyed.check_costs_at(&key, Plan::<2>::new(plan).unwrap(), [c0, c1], at(now));
            prop_assert_eq!(got, want, "key {} plan {} costs {:?} at {}", key, plan, [c0, c1], now);
            let idle = keyed.is_idle_at(&key, Plan::<2>::new(plan).unwrap(), at(now));
            prop_assert_eq!(idle, a.snapshot_at(at(now)).reset_after().as_ticks() == 0
                && b.snapshot_at(at(now)).reset_after().as_ticks() == 0);
        }
    }
}

#[test]
fn a_keyed_charge_is_undone_exactly() {
    let table: Table = gcra_table([Quota::per_second(10), Quota::per_second(1)], [7, 8]);
    let p = Plan::FIRST;
    // A new key: undone, it is fresh again (and idle).
    let (_, receipt) = table.charge_n_at("k", p, 4, at(0)).unwrap();
    assert_eq!(table.snapshot_at("k", p, at(0)).remaining(), 6);
    assert!(table.undo(receipt));
    assert_eq!(table.snapshot_at("k", p, at(0)).remaining(), 10);
    assert!(table.is_idle_at("k", p, at(0)));
    // A live key, charged twice: the first charge cannot be taken back
    // exactly once the second is on top of it (GCRA has no safe take-back),
    // so it is kept; the second can.
    let (_, first) = table.charge_n_at("k", p, 2, at(0)).unwrap();
    let (_, second) = table.charge_n_at("k", p, 3, at(0)).unwrap();
    assert!(!table.undo(first));
    assert_eq!(table.snapshot_at("k", p, at(0)).remaining(), 5);
    assert!(table.undo(second));
    assert_eq!(table.snapshot_at("k", p, at(0)).remaining(), 8);
    // A charge that stored nothing has nothing to undo.
    let (_, nothing) = table.charge_n_at("k", p, 0, at(0)).unwrap();
    assert!(table.undo(nothing));
}

#[test]
fn a_denied_tier_charges_no_tier_per_key() {
    // "Free: 5 per minute, 100 per day", per key.
    let minute: Table = gcra_table([Quota::per_minute(5), Quota::per_minute(60)], [1, 1]);
    let day: Table = gcra_table([Quota::per_day(100), Quota::per_day(1_000)], [2, 2]);
    let plan = KeyedTiers::new([
        KeyedTier::new("minute", &minute),
        KeyedTier::new("daily", &day),
    ]);
    let free = Plan::FIRST;
    for k in 1..=5 {
        let admitted = plan.check_at("alice", free, at(0)).unwrap();
        // The minute binds: 5 - k left of it, 100 - k of the day.
        assert_eq!(
            (admitted.name, admitted.answer.remaining()),
            ("minute", 5 - k)
        );
    }
    let denied = plan.check_at("alice", free, at(0)).unwrap_err();
    assert_eq!(denied.name, "minute");
    assert_eq!(
        plan.snapshot_all_at("alice", free, at(0))
            .map(|s| s.remaining()),
        [0, 95]
    );
    // Bob is untouched.
    assert_eq!(
        plan.check_at("bob", free, at(0))
            .unwrap()
            .answer
            .remaining(),
        4
    );
    // Alice is idle once both tiers are: the minute after 60 s, the day
    // after 5 * 864 s.
    assert!(!plan.is_idle_at("alice", free, at(60_000)));
    assert!(plan.is_idle_at("alice", free, at(5 * 864_000)));
}

/// Tables of more than 8,192 slots take SipHash-1-3's 128-bit output, its
/// halves the identity and the window: seeded alike, one such hash serves
/// both tiers. Where a key is placed changes no decision while no window
/// fills, so tiers seeded alike answer every check as tiers seeded apart
/// (each table its own hash) do; a shared hash that lost its window half
/// would put every key in one window, and fill it.
#[test]
fn wide_tables_seeded_alike_decide_as_tables_seeded_apart() {
    type Wide = KeyedLimiter<Gcra<MS>, MS, 16_384>;
    const MINUTE: Quota = Quota::per_minute(1).burst(2);
    const DAY: Quota = Quota::per_day(1_000).burst(6);
    const fn table(quota: Quota, seed: [u64; 2]) -> Wide {
        match Gcra::new(quota) {
            Ok(gcra) => KeyedLimiter::new([gcra], seed, WhenFull::Deny),
            Err(_) => panic!("a valid quota"),
        }
    }
    static MINUTE_ALIKE: Wide = table(MINUTE, [1, 2]);
    static DAY_ALIKE: Wide = table(DAY, [1, 2]);
    static MINUTE_APART: Wide = table(MINUTE, [5, 6]);
    static DAY_APART: Wide = table(DAY, [7, 8]);
    let alike = KeyedTiers::new([
        KeyedTier::new("minute", &MINUTE_ALIKE),
        KeyedTier::new("day", &DAY_ALIKE),
    ]);
    let apart = KeyedTiers::new([
        KeyedTier::new("minute", &MINUTE_APART),
        KeyedTier::new("day", &DAY_APART),
    ]);
    let mut denied = HashMap::<&str, u32>::new();
    for step in 0..6_000u64 {
        // 500 keys, each checked every 500 steps (18.5 s): all live at once.
        let key = step * 7_919 % 500;
        let costs = [(step % 3) as u32, (step % 2) as u32];
        let now = at(step * 37);
        let want = apart.check_costs_at(&key, Plan::FIRST, costs, now);
        let got = alike.check_costs_at(&key, Plan::FIRST, costs, now);
        assert_eq!(got, want, "key {key} costs {costs:?} at step {step}");
        if let Err(refusal) = got {
            *denied.entry(refusal.name).or_default() += 1;
        }
    }
    // Both tiers refused some checks (the comparison is not of admissions
    // alone), and the tables never filled.
    assert!(denied.get("minute").is_some_and(|&n| n > 0), "{denied:?}");
    assert!(denied.get("day").is_some_and(|&n| n > 0), "{denied:?}");
    assert_eq!(MINUTE_ALIKE.full_count(), 0);
    assert_eq!(DAY_ALIKE.full_count(), 0);
}
