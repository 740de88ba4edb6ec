//! Differential fuzzing of `KeyedLimiter` against the reference model (an
//! unbounded map of GCRA limiters, tests/model/keyed_gcra.rs).
//!
//! Two tables run the same operations: 4 slots (one window: fullness is
//! predicted exactly) and 40 slots (two groups per key). With time moving
//! forwards every answer must equal the model's; with time allowed to move
//! backwards (or jump back to the instant of an earlier check), no key may be admitted more than its burst plus its rate over
//! the span of instants seen.

#![no_main]

use ratecore_testkit::model::keyed_gcra as model;

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use model::{Answer, KeyedModel, PlanSpec, Window, observe, observe_status};
use ratecore::{Duration, Gcra, Instant, KeyedLimiter, Quota, keyed::Plan, keyed::WhenFull};

const HZ: u64 = 1_000;
const PLANS: usize = 2;

#[derive(Arbitrary, Debug)]
struct Input {
    seed: [u64; 2],
    allow_when_full: bool,
    stale: bool,
    /// The two plans: (count 1..=16, period 1..=4096 ms, burst 1..=16).
    plans: [(u8, u16, u8); PLANS],
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Check {
        key: u8,
        plan: bool,
        n: u8,
    },
    Snapshot {
        key: u8,
        plan: bool,
    },
    Refund {
        key: u8,
        plan: bool,
        n: u8,
    },
    Forward(u16),
    Back(u16),
    /// Back to the instant of the `k`-th latest check (stale runs).
    Replay(u8),
}

fn spec((count, period, burst): (u8, u16, u8)) -> PlanSpec {
    PlanSpec {
        count: u32::from(count % 16) + 1,
        period: u64::from(period % 4096) + 1,
        burst: u32::from(burst % 16) + 1,
    }
}

fn gcra(spec: PlanSpec) -> Gcra<HZ> {
    let quota = Quota::with_period(spec.count, Duration::<HZ>::from_ticks(spec.period));
    Gcra::new(quota.burst(spec.burst)).unwrap()
}

/// One table and what is known about it.
struct Run<const N: usize> {
    table: KeyedLimiter<Gcra<HZ>, HZ, N, PLANS>,
    model: KeyedModel,
    window: Window,
    full: u64,
}

impl<const N: usize> Run<N> {
    fn new(specs: &[PlanSpec; PLANS], seed: [u64; 2], when_full: WhenFull) -> Self {
        Self {
            table: KeyedLimiter::new(specs.map(gcra), seed, when_full),
            model: KeyedModel::new(specs),
            // At least one full group of 16 and the short last group of 8.
            window: Window {
                slots: N.min(24),
                whole: N <= 32,
            },
            full: 0,
        }
    }

    fn exact(&mut self, op: &Op, now: u64) {
        let at = Instant::<HZ>::from_ticks(now);
        let plan = |p: bool| Plan::<PLANS>::new(usize::from(p)).unwrap();
        match *op {
            Op::Check { key, plan: p, n } => {
                let n = u32::from(n % 24);
                let observed = observe(&self.table.check_n_at(&key, plan(p), n, at));
                let call = (u64::from(key), usize::from(p), n, now);
                match self.model.verify_check(call, self.window, observed) {
                    Ok(full) => self.full += u64::from(full),
                    Err(message) => panic!("{message}"),
                }
            }
            Op::Snapshot { key, plan: p } => {
                let status = self.table.snapshot_at(&key, plan(p), at);
                let expected = self.model.snapshot(u64::from(key), usize::from(p), now);
                assert_eq!(observe_status(&status), expected);
            }
            Op::Refund { key, plan: p, n } => {
                let n = u32::from(n % 24);
                let status = self.table.refund_n_at(&key, plan(p), n, at);
                let expected = self.model.refund(u64::from(key), usize::from(p), n, now);
                assert_eq!(observe_status(&status), expected);
            }
            Op::Forward(_) | Op::Back(_) | Op::Replay(_) => {}
        }
        assert_eq!(self.table.full_count(), self.full);
        assert_eq!(self.table.occupancy_at(at), self.model.active(now));
    }
}

/// Per (key, plan): earliest instant seen and units admitted.
type Spent = BTreeMap<(u8, bool), (u64, u64)>;

fn stale<const N: usize>(
    run: &Run<N>,
    specs: &[PlanSpec; PLANS],
    op: &Op,
    now: u64,
    latest: u64,
    spent: &mut Spent,
) {
    if let Op::Check { key, plan: p, n } = *op {
        // A few keys, so that they meet again after losing their slots.
        let key = key % 6;
        let n = u32::from(n % 24);
        let plan = Plan::<PLANS>::new(usize::from(p)).unwrap();
        let answer = observe(
            &run.table
                .check_n_at(&key, plan, n, Instant::<HZ>::from_ticks(now)),
        );
        let entry = spent.entry((key, p)).or_insert((now, 0));
        entry.0 = entry.0.min(now);
        if matches!(answer, Answer::Admitted { .. }) {
            entry.1 += u64::from(n);
        }
        let spec = specs[usize::from(p)];
        let bound = u128::from(spec.burst)
            + u128::from(latest - entry.0) * u128::from(spec.count) / u128::from(spec.period);
        assert!(
            u128::from(entry.1) <= bound,
            "key {key} plan {p}: {} units in [{}, {latest}], more than {bound}",
            entry.1,
            entry.0
        );
    }
}

fuzz_target!(|input: Input| {
    let specs = input.plans.map(spec);
    let when_full = if input.allow_when_full {
        WhenFull::Allow
    } else {
        WhenFull::Deny
    };
    let mut small = Run::<4>::new(&specs, input.seed, when_full);
    let mut large = Run::<40>::new(&specs, input.seed, when_full);
    let (mut now, mut latest) = (0u64, 0u64);
    let (mut spent_small, mut spent_large) = (Spent::new(), Spent::new());
    let mut checks = Vec::new();
    for op in input.ops.iter().take(512) {
        match *op {
            // Moves on the scale of the plans' periods (up to 4 s).
            Op::Forward(dt) => now += u64::from(dt % 4096),
            Op::Back(dt) if input.stale => now = now.saturating_sub(u64::from(dt % 4096)),
            Op::Replay(k) if input.stale => {
                if let Some(&then) = checks.iter().rev().nth(usize::from(k % 16)) {
                    now = then;
                }
            }
            Op::Check { .. } => checks.push(now),
            _ => {}
        }
        latest = latest.max(now);
        if input.stale {
            stale(&small, &specs, op, now, latest, &mut spent_small);
            stale(&large, &specs, op, now, latest, &mut spent_large);
        } else {
            small.exact(op, now);
            large.exact(op, now);
        }
    }
});
