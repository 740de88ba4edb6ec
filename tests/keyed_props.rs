//! `KeyedLimiter` against an unbounded map of reference GCRA limiters
//! (tests/model/keyed_gcra.rs): random keys, plans, unit counts, peeks,
//! refunds, clock moves, seeds, policies and capacities.

use ratecore_testkit::model::keyed_gcra as keyed_gcra_model;

use keyed_gcra_model::{Answer, KeyedModel, PlanSpec, Window, observe, observe_status};
use proptest::prelude::*;
use ratecore::{Gcra, Instant, KeyedLimiter, keyed::Plan, keyed::WhenFull};

const HZ: u64 = 1_000;
const PLANS: usize = 3;

/// Small rates so that keys go idle and come back within a short run.
const SPECS: [PlanSpec; PLANS] = [
    PlanSpec {
        count: 2,
        period: 1_000,
        burst: 3,
    },
    PlanSpec {
        count: 5,
        period: 700,
        burst: 5,
    },
    PlanSpec {
        count: 1,
        period: 3_000,
        burst: 1,
    },
];

fn gcra(spec: PlanSpec) -> Gcra<HZ> {
    Gcra::new(spec.quota::<HZ>()).unwrap()
}

fn table<const N: usize>(
    seed: [u64; 2],
    when_full: WhenFull,
) -> KeyedLimiter<Gcra<HZ>, HZ, N, PLANS> {
    KeyedLimiter::new(SPECS.map(gcra), seed, when_full)
}

fn plan(index: usize) -> Plan<PLANS> {
    Plan::new(index).unwrap()
}

/// The fewest slots any key's window has in a table of `n` slots: all of
/// them up to 32, else one full group of 16 plus the shortest group.
fn min_window(n: usize) -> usize {
    if n <= 32 {
        n
    } else {
        let last = n - 16 * (n.div_ceil(16) - 1);
        16 + last.min(16)
    }
}

#[derive(Clone, Debug)]
enum Op {
    Check {
        key: u64,
        plan: usize,
        n: u32,
    },
    Snapshot {
        key: u64,
        plan: usize,
    },
    Refund {
        key: u64,
        plan: usize,
        n: u32,
    },
    /// Moves the clock by this many ticks (backwards when negative).
    Move(i64),
    /// Sets the clock back to the instant of an earlier check (stale runs),
    /// counted from the latest.
    Replay(usize),
}

fn op(keys: u64, backwards: bool, capacity: i64) -> impl Strategy<Value = Op> {
    // Exact runs: many checks between clock moves that shrink with the table,
    // so that about as many keys as slots are active at once and tables fill;
    // now and then a longer pause. Stale runs: fewer checks per move, the
    // clock swinging back and forth over a few emission intervals, so that
    // keys go idle, lose their slots and come back with earlier instants.
    let (checks, back, near, far) = if backwards {
        (6, 3_000i64, 1_500i64, 3_000i64)
    } else {
        (16, 0, (300 / capacity).max(1), (3_000 / capacity).max(10))
    };
    let replays = if backwards { 2 } else { 0 };
    prop_oneof![
        checks => (0..keys, 0..PLANS, 0u32..=6).prop_map(|(key, plan, n)| Op::Check { key, plan, n }),
        1 => (0..keys, 0..PLANS).prop_map(|(key, plan)| Op::Snapshot { key, plan }),
        1 => (0..keys, 0..PLANS, 0u32..=6).prop_map(|(key, plan, n)| Op::Refund { key, plan, n }),
        3 => (-back..=near).prop_map(Op::Move),
        1 => (-back..=far).prop_map(Op::Move),
        replays => (0..8usize).prop_map(Op::Replay),
    ]
}

/// Monotone time: every answer equals the model's, fullness is predicted
/// exactly when the window is the whole table, and the table's occupancy and
/// full-table counter agree with the model.
fn exact<const N: usize>(
    seed: [u64; 2],
    when_full: WhenFull,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let table = table::<N>(seed, when_full);
    let mut model = KeyedModel::new(&SPECS);
    let window = Window {
        slots: min_window(N),
        whole: N <= 32,
    };
    let mut now = 0u64;
    let mut full = 0u64;
    for op in ops {
        let at = Instant::<HZ>::from_ticks(now);
        match *op {
            Op::Check { key, plan: p, n } => {
                let decision = table.check_n_at(&key, plan(p), n, at);
                let observed = observe(&decision);
                if observed == Answer::NoRoom {
                    full += 1;
                    let expected_shape = match when_full {
                        WhenFull::Deny => matches!(decision, Err(ratecore::Denied::TableFull(_))),
                        WhenFull::Allow => {
                            matches!(decision, Ok(ratecore::keyed::Admitted::Unlimited))
                        }
                    };
                    prop_assert!(expected_shape, "{decision:?} under {when_full:?}");
                }
                model
                    .verify_check((key, p, n, now), window, observed)
                    .map_err(TestCaseError::fail)?;
            }
            Op::Snapshot { key, plan: p } => {
                let status = table.snapshot_at(&key, plan(p), at);
                prop_assert_eq!(observe_status(&status), model.snapshot(key, p, now));
            }
            Op::Refund { key, plan: p, n } => {
                let status = table.refund_n_at(&key, plan(p), n, at);
                prop_assert_eq!(observe_status(&status), model.refund(key, p, n, now));
            }
            Op::Move(dt) => now = now.saturating_add(dt.unsigned_abs()),
            Op::Replay(_) => {}
        }
        let at = Instant::<HZ>::from_ticks(now);
        prop_assert_eq!(
            table.occupancy_at(at),
            model.active(now),
            "occupancy at {}",
            now
        );
        prop_assert_eq!(table.full_count(), full);
    }
    Ok(())
}

/// Time going backwards (stale readings): decisions may be stricter than the
/// model's, never looser. Every key's admitted units over the run stay within
/// `burst + rate * (latest instant - its earliest instant)`: what a single
/// limiter guarantees, here also across reclaims of idle keys.
fn stale<const N: usize>(
    seed: [u64; 2],
    when_full: WhenFull,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let table = table::<N>(seed, when_full);
    let mut now = 0i64;
    let mut latest = 0u64;
    // (key, plan) -> (earliest instant, units admitted)
    let mut admitted = std::collections::BTreeMap::<(u64, usize), (u64, u64)>::new();
    let mut full = 0u64;
    let mut history = Vec::new();
    for op in ops {
        let t = u64::try_from(now.max(0)).unwrap();
        latest = latest.max(t);
        let at = Instant::<HZ>::from_ticks(t);
        match *op {
            Op::Check { key, plan: p, n } => {
                let decision = table.check_n_at(&key, plan(p), n, at);
                history.push(now);
                let entry = admitted.entry((key, p)).or_insert((t, 0));
                entry.0 = entry.0.min(t);
                match observe(&decision) {
                    Answer::Admitted { .. } => entry.1 += u64::from(n),
                    Answer::NoRoom => full += 1,
                    _ => {}
                }
                let spec = SPECS[p];
                let span = u128::from(latest - entry.0);
                let bound = u128::from(spec.burst)
                    + span * u128::from(spec.count) / u128::from(spec.period);
                prop_assert!(
                    u128::from(entry.1) <= bound,
                    "key {} plan {} admitted {} units in [{}, {}]: more than {}",
                    key,
                    p,
                    entry.1,
                    entry.0,
                    latest,
                    bound
                );
            }
            Op::Snapshot { key, plan: p } => {
                let _ = table.snapshot_at(&key, plan(p), at);
            }
            // Refunds give units back on purpose: not part of this run.
            Op::Refund { .. } => {}
            Op::Move(dt) => now = now.saturating_add(dt),
            Op::Replay(back) => {
                if let Some(&then) = history.iter().rev().nth(back) {
                    now = then;
                }
            }
        }
        prop_assert_eq!(table.full_count(), full);
    }
    Ok(())
}

fn policy() -> impl Strategy<Value = WhenFull> {
    prop_oneof![Just(WhenFull::Deny), Just(WhenFull::Allow)]
}

/// Exact runs on a table of `N` slots: `N` to `2N + 4` keys, so that tables
/// fill, and runs long enough for keys to go idle and come back.
fn exact_ops<const N: usize>() -> impl Strategy<Value = Vec<Op>> {
    let n = N as u64;
    (n..=2 * n + 4)
        .prop_flat_map(|keys| prop::collection::vec(op(keys, false, N as i64), 1..200 + 5 * N))
}

/// Stale runs on a table of `N` slots: 1 to `N + 2` keys.
fn stale_ops<const N: usize>() -> impl Strategy<Value = Vec<Op>> {
    (1..=N as u64 + 2).prop_flat_map(|keys| prop::collection::vec(op(keys, true, N as i64), 1..160))
}

/// For each `name: slots`, a test `exact_time::name` (exact instants,
/// [`exact`]) and `stale_time::name` (instants that go back, [`stale`]), 48
/// cases each.
macro_rules! capacities {
    ($($name:ident: $n:literal,)*) => {
        capacities!(@mode exact_time, exact_ops, exact; $($name: $n,)*);
        capacities!(@mode stale_time, stale_ops, stale; $($name: $n,)*);
    };
    (@mode $mode:ident, $ops:ident, $run:ident; $($name:ident: $n:literal,)*) => {
        mod $mode {
            use super::*;
            proptest! {
                #![proptest_config(ratecore_testkit::config(48))]
                $(
                    #[test]
                    fn $name(
                        seed in any::<[u64; 2]>(),
                        when_full in policy(),
                        ops in $ops::<$n>(),
                    ) {
                        $run::<$n>(seed, when_full, &ops)?;
                    }
                )*
            }
        }
    };
}

capacities! {
    one_slot: 1,
    two_slots: 2,
    three_slots: 3,
    five_slots: 5,
    eight_slots: 8,
    thirty_two_slots: 32,
    forty_slots: 40,
    hundred_slots: 100,
}

/// Fullness is predicted exactly only if keys really overflow small tables:
/// make sure the runs above reach it, with a fixed case.
#[test]
fn a_full_two_slot_table_refuses_a_third_active_key_until_one_goes_idle() {
    let table = table::<2>([1, 2], WhenFull::Deny);
    let t = Instant::<HZ>::from_ticks;
    assert!(table.check_at(&1u64, plan(0), t(0)).is_ok());
    assert!(table.check_at(&2u64, plan(0), t(0)).is_ok());
    let Err(ratecore::Denied::TableFull(full)) = table.check_at(&3u64, plan(0), t(0)) else {
        panic!("no room expected")
    };
    assert_eq!(full.window, 2);
    assert_eq!(table.full_count(), 1);
    // Keys 1 and 2 are idle 500 ms later (one unit at 2 per second): key 3
    // takes one of their slots.
    assert!(table.check_at(&3u64, plan(0), t(500)).is_ok());
    // Key 1 is either still there, idle, or takes key 2's idle slot: fresh.
    let Ok(ratecore::keyed::Admitted::Limited(status)) = table.check_at(&1u64, plan(0), t(500))
    else {
        panic!("key 1 should find room")
    };
    assert_eq!(status.remaining(), 2);
    assert_eq!(table.occupancy_at(t(500)), 2);
}

/// A key reclaimed while idle at a later instant, then checked with an
/// earlier (stale) instant, must not get more than its own limiter allows
/// over the run: the table decides keys it inserts at its latest reclaim
/// instant when that is later than the caller's.
#[test]
fn a_reclaimed_key_checked_with_a_stale_instant_gets_no_extra_burst() {
    let table = table::<3>([7, 7], WhenFull::Deny);
    let t = Instant::<HZ>::from_ticks;
    let (a, b, c) = (1u64, 2u64, 3u64);
    // A spends its burst of 3 at 0 (one unit per 500 ms): full again at 1,500.
    assert!(table.check_n_at(&a, plan(0), 3, t(0)).is_ok());
    assert!(table.check_at(&c, plan(0), t(0)).is_ok());
    // At 1,500 B takes an idle slot: A's or C's (both idle), or the free one.
    assert!(table.check_at(&b, plan(0), t(1_500)).is_ok());
    // Over [0, 1500] A may have 3 + 1500 / 500 = 6 units: 3 more at most,
    // whatever instants the next checks carry.
    let stale = table.check_n_at(&a, plan(0), 3, t(0));
    let later = table.check_n_at(&a, plan(0), 3, t(1_500));
    let more = [stale, later].iter().filter(|d| d.is_ok()).count() * 3;
    assert!(
        more <= 3,
        "A got {more} more units after its burst of 3 (at most 3 fit)"
    );
}
