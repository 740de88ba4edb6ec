//! loom model of `Reconfigurable`: checks and plan changes race on the one
//! 128-bit word (the plan index and the state), with the clock moving.
//!
//! Under every interleaving loom explores, the decisions each thread saw,
//! the plan each switch replaced, and the final plan and state are exactly
//! those of SOME sequential order of the same operations (keeping each
//! thread's program order), replayed on a fresh limiter: a check never
//! decides with one plan and stores under another.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test --release --test loom_reconfigure`.
#![cfg(loom)]

mod loom_support;

use loom::sync::Arc;
use loom::thread;
use ratecore::algorithms::GcraConfig;
use ratecore::clock::ManualClock;
use ratecore::kernel::{Carry, Reconfigurable};
use ratecore::{Clock, Decision, Duration, Instant, Limiter, Quota};
use ratecore_testkit::linearizability::interleavings;

const HZ: u64 = 1_000;

type Subject = Reconfigurable<GcraConfig<HZ>, 2>;

fn fresh() -> Subject {
    Reconfigurable::new([
        // 10 per second, burst 3: 100 ms per unit.
        GcraConfig::new(Quota::per_second(10).burst(3)).unwrap(),
        // 2 per second, burst 1: 500 ms per unit.
        GcraConfig::new(Quota::per_second(2).burst(1)).unwrap(),
    ])
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Check(u32),
    Switch(usize, Carry),
    Advance(u64),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Seen {
    Checked(Decision<HZ>),
    Switched(usize),
}

#[derive(Clone, Copy, Debug)]
struct Record {
    op: Op,
    now: Instant<HZ>,
    seen: Seen,
}

fn apply(limiter: &Subject, op: Op, now: Instant<HZ>) -> Option<Seen> {
    match op {
        Op::Check(n) => Some(Seen::Checked(limiter.check_n_at(n, now))),
        Op::Switch(plan, carry) => {
            Some(Seen::Switched(limiter.switch_at(plan, carry, now).unwrap()))
        }
        Op::Advance(_) => None,
    }
}

fn race(programs: &'static [&'static [Op]]) {
    loom_support::explore(3, move || {
        let limiter = Arc::new(fresh());
        let clock = Arc::new(ManualClock::<HZ>::new(1_000));
        let handles: Vec<_> = programs
            .iter()
            .map(|program| {
                let limiter = Arc::clone(&limiter);
                let clock = Arc::clone(&clock);
                thread::spawn(move || {
                    let mut records = Vec::new();
                    for &op in *program {
                        if let Op::Advance(ticks) = op {
                            clock.advance(Duration::<HZ>::from_ticks(ticks));
                            continue;
                        }
                        let now = clock.now();
                        let seen = apply(&limiter, op, now).unwrap();
                        records.push(Record { op, now, seen });
                    }
                    records
                })
            })
            .collect();
        let histories: Vec<Vec<Record>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let last = (limiter.plan(), limiter.state());

        let orders = interleavings(&histories);
        let explained = orders.iter().any(|order| {
            let replay = fresh();
            order
                .iter()
                .all(|r| apply(&replay, r.op, r.now) == Some(r.seen))
                && (replay.plan(), replay.state()) == last
        });
        assert!(
            explained,
            "no sequential order explains {histories:#?} ending in {last:?}"
        );
    });
}

#[test]
fn checks_race_a_downgrade() {
    race(&[
        &[Op::Check(2), Op::Check(1)],
        &[Op::Switch(1, Carry::InUse)],
    ]);
}

#[test]
fn checks_race_a_switch_there_and_back_with_the_clock_moving() {
    race(&[
        &[Op::Check(1), Op::Advance(100), Op::Check(2)],
        &[Op::Switch(1, Carry::Scaled), Op::Switch(0, Carry::InUse)],
    ]);
}

#[test]
fn two_switches_race_a_check() {
    race(&[
        &[Op::Switch(1, Carry::Full)],
        &[Op::Switch(1, Carry::InUse)],
        &[Op::Check(3)],
    ]);
}
