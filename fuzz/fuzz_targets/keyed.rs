//! Differential fuzzing of `KeyedLimiter` against the reference model (an
//! unbounded map of GCRA limiters, tests/model/keyed_gcra.rs).
//!
//! Two tables run the same operations: 4 slots (one window: fullness is
//! predicted exactly) and 40 slots (two groups per key). With time moving
//! forwards every answer must equal the model's; with time allowed to move
//! backwards (or jump back to the instant of an earlier check), no key may be admitted more than its burst plus its rate over
//! the span of instants seen.
//!
//! Charges keep their receipts, and undos take them back: an undo of a
//! charge whose key changed since must give nothing back (GCRA has no safe
//! take-back), one that gives back takes exactly its units (the model
//! refunds them; stale runs count them off the key's units), and a charge
//! of 0 units has nothing to undo.

#![no_main]

use ratecore_testkit::model::keyed_gcra as model;

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use model::{Answer, KeyedModel, PlanSpec, Window, observe, observe_status};
use ratecore::keyed::{KeyedReceipt, Plan, WhenFull};
use ratecore::{Duration, Gcra, Instant, KeyedLimiter, Quota};

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
    /// A check with a receipt, kept for an undo.
    Charge {
        key: u8,
        plan: bool,
        n: u8,
    },
    /// Undo the live receipt at this index (modulo their number).
    Undo(u8),
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

type Table<const N: usize> = KeyedLimiter<Gcra<HZ>, HZ, N, PLANS>;

/// A live receipt: its key, plan and units, the instant charged, and the
/// numbers of the key's states around the charge.
struct Pending<'t> {
    receipt: KeyedReceipt<'t>,
    key: u8,
    plan: bool,
    n: u32,
    at: u64,
    /// The key's state before and after the charge (see `Run::state`).
    states: (u64, u64),
}

/// One table and what is known about it.
struct Run<'t, const N: usize> {
    table: &'t Table<N>,
    model: KeyedModel,
    window: Window,
    full: u64,
    receipts: Vec<Pending<'t>>,
    /// Per key, a number for its state: a new one at every change, the old
    /// one back when an undo restores it (a refund's change may be undone
    /// later, and the model's refund is exact only from the refund's
    /// instant on: this says "untouched" where the status cannot).
    states: BTreeMap<(u8, bool), u64>,
    changes: u64,
}

impl<'t, const N: usize> Run<'t, N> {
    fn new(table: &'t Table<N>, specs: &[PlanSpec; PLANS]) -> Self {
        Self {
            table,
            model: KeyedModel::new(specs),
            // At least one full group of 16 and the short last group of 8.
            window: Window {
                slots: N.min(24),
                whole: N <= 32,
            },
            full: 0,
            receipts: Vec::new(),
            states: BTreeMap::new(),
            changes: 0,
        }
    }

    /// The number of `key`'s state under plan `p`.
    fn state(&self, key: u8, p: bool) -> u64 {
        self.states.get(&(key, p)).copied().unwrap_or(0)
    }

    /// `key`'s state under plan `p` changed: its new number.
    fn changed(&mut self, key: u8, p: bool) -> u64 {
        self.changes += 1;
        self.states.insert((key, p), self.changes);
        self.changes
    }

    /// Charges `n` units of `key` under plan `p` at `now`: the answer; the
    /// receipt is kept if admitted.
    fn charge(&mut self, (key, p, n, now): (u8, bool, u32, u64)) -> Answer {
        let plan = Plan::<PLANS>::new(usize::from(p)).unwrap();
        let charged = self
            .table
            .charge_n_at(&key, plan, n, Instant::from_ticks(now));
        let receipt = charged.as_ref().ok().map(|c| c.1);
        let answer = observe(&charged.map(|c| c.0));
        if let Some(receipt) = receipt {
            // Admitted unlimited (a full table that allows): nothing stored,
            // nothing to give back.
            let n = if answer == Answer::NoRoom { 0 } else { n };
            // `states` is set by an exact run.
            let (plan, states) = (p, (0, 0));
            self.receipts.push(Pending {
                receipt,
                key,
                plan,
                n,
                at: now,
                states,
            });
        }
        answer
    }

    /// Undoes receipt `i`: whether it gave its units back, and the receipt.
    fn undo(&mut self, i: u8) -> Option<(bool, Pending<'t>)> {
        if self.receipts.is_empty() {
            return None;
        }
        let pending = self.receipts.remove(usize::from(i) % self.receipts.len());
        let undone = self.table.undo(pending.receipt);
        assert!(undone || pending.n > 0, "an undo of nothing failed");
        Some((undone, pending))
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
                if n > 0 && matches!(observed, Answer::Admitted { .. }) {
                    self.changed(key, p);
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
                let was = self.model.snapshot(u64::from(key), usize::from(p), now);
                let expected = self.model.refund(u64::from(key), usize::from(p), n, now);
                assert_eq!(observe_status(&status), expected);
                if expected != was {
                    self.changed(key, p);
                }
                // The key's receipts are dropped (their units stay used): a
                // refund and a check could bring the state back to a
                // charge's, and an undo then rightly restores it, which the
                // model's refunds cannot follow exactly at earlier instants.
                self.receipts.retain(|r| (r.key, r.plan) != (key, p));
            }
            Op::Charge { key, plan: p, n } => {
                let n = u32::from(n % 24);
                let (call, live) = (
                    (u64::from(key), usize::from(p), n, now),
                    self.receipts.len(),
                );
                let charged = self.charge((key, p, n, now));
                match self.model.verify_check(call, self.window, charged) {
                    Ok(full) => self.full += u64::from(full),
                    Err(message) => panic!("{message}"),
                }
                // The numbers of the key's states around a kept receipt.
                if self.receipts.len() > live {
                    let before = self.state(key, p);
                    let states = if n > 0 && charged != Answer::NoRoom {
                        (before, self.changed(key, p))
                    } else {
                        (before, before)
                    };
                    if let Some(pending) = self.receipts.last_mut() {
                        pending.states = states;
                    }
                }
            }
            Op::Undo(i) => {
                if let Some((undone, pending)) = self.undo(i) {
                    let (key, p) = (u64::from(pending.key), usize::from(pending.plan));
                    // The key's state is the one the charge left iff no
                    // change since was left standing (a refund drops the
                    // key's receipts: no units operations cancel out here).
                    let untouched = self.state(pending.key, pending.plan) == pending.states.1;
                    assert!(
                        !undone || pending.n == 0 || untouched,
                        "an undo of {} gave back units other checks took",
                        pending.n
                    );
                    if undone && pending.n > 0 {
                        // With the clock moving forwards, a refund at the
                        // charge's instant is its undo.
                        self.model.refund(key, p, pending.n, pending.at);
                        self.states
                            .insert((pending.key, pending.plan), pending.states.0);
                    }
                }
            }
            Op::Forward(_) | Op::Back(_) | Op::Replay(_) => {}
        }
        assert_eq!(self.table.full_count(), self.full);
        assert_eq!(self.table.occupancy_at(at), self.model.active(now));
    }
}

/// Per (key, plan): earliest instant seen and units admitted.
type Spent = BTreeMap<(u8, bool), (u64, i64)>;

fn stale<const N: usize>(
    run: &mut Run<'_, N>,
    specs: &[PlanSpec; PLANS],
    op: &Op,
    now: u64,
    latest: u64,
    spent: &mut Spent,
) {
    // A few keys, so that they meet again after losing their slots.
    let (key, p, units) = match *op {
        Op::Check { key, plan: p, n } => {
            let (key, n) = (key % 6, u32::from(n % 24));
            let plan = Plan::<PLANS>::new(usize::from(p)).unwrap();
            let at = Instant::<HZ>::from_ticks(now);
            let admitted = observe(&run.table.check_n_at(&key, plan, n, at));
            (
                key,
                p,
                if matches!(admitted, Answer::Admitted { .. }) {
                    i64::from(n)
                } else {
                    0
                },
            )
        }
        Op::Charge { key, plan: p, n } => {
            let (key, n) = (key % 6, u32::from(n % 24));
            let admitted = run.charge((key, p, n, now));
            (
                key,
                p,
                if matches!(admitted, Answer::Admitted { .. }) {
                    i64::from(n)
                } else {
                    0
                },
            )
        }
        Op::Undo(i) => match run.undo(i) {
            Some((true, pending)) => (pending.key, pending.plan, -i64::from(pending.n)),
            _ => return,
        },
        _ => return,
    };
    let entry = spent.entry((key, p)).or_insert((now, 0));
    entry.0 = entry.0.min(now);
    entry.1 += units;
    let spec = specs[usize::from(p)];
    let bound = i128::from(spec.burst)
        + i128::from(latest - entry.0) * i128::from(spec.count) / i128::from(spec.period);
    assert!(
        i128::from(entry.1) <= bound,
        "key {key} plan {p}: {} units in [{}, {latest}], more than {bound}",
        entry.1,
        entry.0
    );
}

fuzz_target!(|input: Input| {
    let specs = input.plans.map(spec);
    let when_full = if input.allow_when_full {
        WhenFull::Allow
    } else {
        WhenFull::Deny
    };
    let small_table = Table::<4>::new(specs.map(gcra), input.seed, when_full);
    let large_table = Table::<40>::new(specs.map(gcra), input.seed, when_full);
    let mut small = Run::new(&small_table, &specs);
    let mut large = Run::new(&large_table, &specs);
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
            Op::Check { .. } | Op::Charge { .. } => checks.push(now),
            _ => {}
        }
        latest = latest.max(now);
        if input.stale {
            stale(&mut small, &specs, op, now, latest, &mut spent_small);
            stale(&mut large, &specs, op, now, latest, &mut spent_large);
        } else {
            small.exact(op, now);
            large.exact(op, now);
        }
    }
});
