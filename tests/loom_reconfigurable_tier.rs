//! loom model of `Reconfigurable` as a tier: a charge and its undo race
//! checks and plan changes on the one 128-bit word.
//!
//! Under every interleaving loom explores, what each thread saw (the
//! charge's answer, whether the undo gave the units back, the checks'
//! answers, the plans the switches replaced) and the final plan and state
//! are exactly those of SOME sequential order of the same operations
//! (keeping each thread's program order), replayed on a fresh limiter: an
//! undo restores the state only while the word is still the one its charge
//! stored, never over a check or a switch that landed in between.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test --release --test loom_reconfigurable_tier`.
#![cfg(loom)]

use loom::{sync::Arc, thread};
use ratecore::{
    Decision, Instant, Limiter, Quota,
    algorithms::GcraConfig,
    const_unwrap,
    kernel::{Carry, Charge, Receipt, Reconfigurable},
};

/// Milliseconds; plan 0 is 10 per second with a burst of 3, plan 1 is 2
/// per second with a burst of 2.
const PLANS: [GcraConfig<1_000>; 2] = [
    const_unwrap!(GcraConfig::new(Quota::per_second(10).burst(3))),
    const_unwrap!(GcraConfig::new(Quota::per_second(2).burst(2))),
];
const HZ: u64 = 1_000;

type Subject = Reconfigurable<GcraConfig<HZ>, 2>;

fn fresh() -> Subject {
    Reconfigurable::new(PLANS)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    /// Charge `n` units, keeping the receipt for the thread's `Undo`.
    Charge(u32),
    Undo,
    Check(u32),
    Switch(usize),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Seen {
    Charged(Decision<HZ>),
    Undone(bool),
    Checked(Decision<HZ>),
    Switched(usize),
}

/// Runs one thread's `program` at `now`, each op tagged with what it saw.
fn perform(limiter: &Subject, program: &[Op], now: Instant<HZ>) -> Vec<(Op, Seen)> {
    let mut receipt = Receipt::NOTHING;
    let mut seen = Vec::new();
    for &op in program {
        let answer = match op {
            Op::Charge(n) => {
                let charged = limiter.charge_n_at(n, now);
                if let Ok((_, r)) = charged {
                    receipt = r;
                }
                Seen::Charged(charged.map(|(status, _)| status))
            }
            Op::Undo => Seen::Undone(limiter.undo(receipt)),
            Op::Check(n) => Seen::Checked(limiter.check_n_at(n, now)),
            Op::Switch(plan) => Seen::Switched(limiter.switch_at(plan, Carry::InUse, now).unwrap()),
        };
        seen.push((op, answer));
    }
    seen
}

/// Every merge of two histories that keeps each one's order: the bits of
/// `mask` say which history each position takes from.
fn merges<T: Copy>(one: &[T], two: &[T]) -> Vec<Vec<(usize, T)>> {
    let total = one.len() + two.len();
    (0u32..1 << total)
        .filter(|mask| mask.count_ones() as usize == one.len())
        .map(|mask| {
            let (mut a, mut b) = (one.iter(), two.iter());
            (0..total)
                .map(|bit| {
                    if mask >> bit & 1 == 1 {
                        (0, *a.next().unwrap())
                    } else {
                        (1, *b.next().unwrap())
                    }
                })
                .collect()
        })
        .collect()
}

fn race(first: &'static [Op], second: &'static [Op]) {
    let mut model = loom::model::Builder::new();
    if model.preemption_bound.is_none() {
        model.preemption_bound = Some(3);
    }
    model.check(move || {
        let now = Instant::<HZ>::from_ticks(1_000);
        let limiter = Arc::new(fresh());
        let other = Arc::clone(&limiter);
        let handle = thread::spawn(move || perform(&other, second, now));
        let one = perform(&limiter, first, now);
        let two = handle.join().unwrap();
        let last = (limiter.plan(), limiter.state());

        let explained = merges(&one, &two).iter().any(|order| {
            // Replay the order one op at a time, each thread with its own
            // receipt, on a fresh limiter.
            let replay = fresh();
            let mut receipts = [Receipt::NOTHING; 2];
            order.iter().all(|&(thread, (op, seen))| {
                let answer = match op {
                    Op::Charge(n) => {
                        let charged = replay.charge_n_at(n, now);
                        if let Ok((_, r)) = charged {
                            receipts[thread] = r;
                        }
                        Seen::Charged(charged.map(|(status, _)| status))
                    }
                    Op::Undo => Seen::Undone(replay.undo(receipts[thread])),
                    Op::Check(n) => Seen::Checked(replay.check_n_at(n, now)),
                    Op::Switch(plan) => {
                        Seen::Switched(replay.switch_at(plan, Carry::InUse, now).unwrap())
                    }
                };
                answer == seen
            }) && (replay.plan(), replay.state()) == last
        });
        assert!(
            explained,
            "no sequential order explains {one:?} and {two:?} ending in {last:?}"
        );
    });
}

#[test]
fn an_undo_races_a_check() {
    race(&[Op::Charge(2), Op::Undo], &[Op::Check(1)]);
}

#[test]
fn an_undo_races_a_switch_and_a_check() {
    race(&[Op::Charge(2), Op::Undo], &[Op::Switch(1), Op::Check(1)]);
}

#[test]
fn two_charges_and_undos_race() {
    race(&[Op::Charge(2), Op::Undo], &[Op::Charge(1), Op::Undo]);
}
