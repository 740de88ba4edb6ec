//! loom models of the client side's compare-and-swap loops.
//!
//! - `CircuitBreaker`: threads race calls and outcomes on one breaker. For
//!   every interleaving loom explores, the answers each thread saw are those
//!   of SOME sequential order of the same operations (keeping each thread's
//!   program order) replayed on the reference model (`tests/model/breaker.rs`),
//!   and the final state is that order's; and a half-open breaker never admits
//!   more than `m` probes.
//! - `AimdPacer`: racing sends at one instant take one slot only; racing rate
//!   feedback ends at the rate of some sequential order, within `[floor, ceiling]`.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test --release --test loom_client`.
#![cfg(loom)]

mod loom_support;

use ratecore_testkit::model::breaker as breaker_model;

use breaker_model::{Admit, State, observe as as_model};
use loom::sync::Arc;
use loom::thread;
use ratecore::Instant;
use ratecore::client::{
    Admission, AimdConfig, AimdPacer, BreakerRejected, BreakerState, CircuitBreaker, PER_SECOND,
};

const HZ: u64 = 1_000;

/// `loom::model` with at most three preemptions per execution: every bug in
/// these small CAS loops needs at most two (a thread preempted between its
/// load and its compare-exchange, while another completes).
fn model(f: impl Fn() + Sync + Send + 'static) {
    loom_support::explore(3, f);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Acquire(u64),
    Success(u64),
    Failure(u64),
}

/// What an operation answered (`None` for outcomes, which answer nothing).
type Answer = Option<Admit>;

fn build(config: &breaker_model::Config) -> CircuitBreaker<HZ> {
    CircuitBreaker::new(breaker_model::config(config)).unwrap()
}

fn apply(breaker: &CircuitBreaker<HZ>, op: Op) -> Answer {
    match op {
        Op::Acquire(t) => Some(breaker_model::admit(
            breaker.try_acquire_at(Instant::from_ticks(t)),
        )),
        Op::Success(t) => {
            breaker.record_success_at(Instant::from_ticks(t));
            None
        }
        Op::Failure(t) => {
            breaker.record_failure_at(Instant::from_ticks(t));
            None
        }
    }
}

fn apply_model(model: &mut breaker_model::Breaker, op: Op) -> Answer {
    match op {
        Op::Acquire(t) => Some(model.acquire(t)),
        Op::Success(t) => {
            model.success(t);
            None
        }
        Op::Failure(t) => {
            model.failure(t);
            None
        }
    }
}

/// Whether some interleaving of `programs` (program order kept), replayed on
/// `model`, answers `seen` and ends in `end`.
fn linearizable(
    model: &breaker_model::Breaker,
    programs: &[Vec<Op>],
    seen: &[Vec<Answer>],
    done: &mut Vec<usize>,
    end: State,
) -> bool {
    if done.iter().zip(programs).all(|(&d, p)| d == p.len()) {
        return model.state == end;
    }
    for thread in 0..programs.len() {
        let step = done[thread];
        let Some(&op) = programs[thread].get(step) else {
            continue;
        };
        let mut next = model.clone();
        if apply_model(&mut next, op) != seen[thread][step] {
            continue;
        }
        done[thread] += 1;
        let ok = linearizable(&next, programs, seen, done, end);
        done[thread] -= 1;
        if ok {
            return true;
        }
    }
    false
}

/// Runs `setup` sequentially, then `programs` on concurrent threads, under
/// every interleaving, and checks each outcome against the model.
fn race(config: breaker_model::Config, setup: &'static [Op], programs: Vec<Vec<Op>>) {
    model(move || {
        let breaker = Arc::new(build(&config));
        let mut model = breaker_model::Breaker::new(config);
        for &op in setup {
            apply(&breaker, op);
            apply_model(&mut model, op);
        }
        let handles: Vec<_> = programs
            .iter()
            .cloned()
            .map(|program| {
                let breaker = Arc::clone(&breaker);
                thread::spawn(move || {
                    program
                        .into_iter()
                        .map(|op| apply(&breaker, op))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let seen: Vec<Vec<Answer>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let end = as_model(breaker.state());
        let mut done = vec![0; programs.len()];
        assert!(
            linearizable(&model, &programs, &seen, &mut done, end),
            "no sequential order explains {seen:?} ending in {end:?}"
        );
        if let State::HalfOpen { probes } = end {
            assert!(probes <= config.probes);
        }
    });
}

fn config(failures: u32, probes: u32) -> breaker_model::Config {
    breaker_model::Config {
        failures,
        timeout: 10,
        probes,
        window: None,
    }
}

#[test]
fn concurrent_probes_never_exceed_m() {
    // Opened at 0 until 10; three callers at 10 race for two probe slots.
    let probes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = probes.clone();
    model(move || {
        let breaker = Arc::new(build(&config(1, 2)));
        breaker.record_failure_at(Instant::from_ticks(0));
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let breaker = Arc::clone(&breaker);
                thread::spawn(move || breaker.try_acquire_at(Instant::from_ticks(10)))
            })
            .collect();
        let answers: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let admitted = answers
            .iter()
            .filter(|a| **a == Ok(Admission::Probe))
            .count();
        assert_eq!(admitted, 2, "{answers:?}");
        assert!(answers.contains(&Err(BreakerRejected::ProbesBusy { probes: 2 })));
        assert_eq!(breaker.state(), BreakerState::HalfOpen { probes: 2 });
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
    assert!(probes.load(std::sync::atomic::Ordering::Relaxed) > 1);
}

#[test]
fn probes_racing_their_outcomes_are_linearizable() {
    // One probe slot; a probe fails while another caller and a late success race.
    race(
        config(1, 1),
        &[Op::Failure(0)],
        vec![
            vec![Op::Acquire(10), Op::Failure(11)],
            vec![Op::Acquire(10), Op::Success(12)],
            vec![Op::Acquire(25)],
        ],
    );
}

#[test]
fn racing_failures_open_once() {
    // Two consecutive failures open; three failures race with a call.
    race(
        config(2, 1),
        &[],
        vec![
            vec![Op::Failure(1)],
            vec![Op::Failure(2), Op::Acquire(3)],
            vec![Op::Failure(4)],
        ],
    );
}

#[test]
fn racing_sends_take_one_slot_and_feedback_is_linearizable() {
    const FLOOR: u64 = PER_SECOND;
    const CEILING: u64 = 8 * PER_SECOND;
    const STEP: u64 = 3 * PER_SECOND;
    let config = AimdConfig::new(FLOOR, CEILING)
        .start(2 * PER_SECOND)
        .increase(STEP);
    // The sequential orders of one thread's [increase, decrease] and another's
    // [decrease]: every rate each order passes through, and where it ends.
    let mut held = vec![2 * PER_SECOND];
    let mut ends = Vec::new();
    for position in 0..3 {
        let mut ops = vec![true, false];
        ops.insert(position, false);
        let mut rate = 2 * PER_SECOND;
        for increase in ops {
            rate = if increase {
                (rate + STEP).min(CEILING)
            } else {
                (rate / 2).max(FLOOR)
            };
            held.push(rate);
        }
        ends.push(rate);
    }
    model(move || {
        let pacer = Arc::new(AimdPacer::<HZ>::new(config).unwrap());
        let senders: Vec<_> = (0..2)
            .map(|_| {
                let pacer = Arc::clone(&pacer);
                thread::spawn(move || pacer.try_acquire_at(Instant::from_ticks(0)).is_ok())
            })
            .collect();
        let feedback = {
            let pacer = Arc::clone(&pacer);
            thread::spawn(move || {
                pacer.on_response(100, 100);
                pacer.on_throttled_at(Instant::from_ticks(0), None);
            })
        };
        pacer.on_throttled_at(Instant::from_ticks(0), None);
        let granted = senders
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|&ok| ok)
            .count();
        feedback.join().unwrap();
        // Two sends at the same instant: exactly one slot.
        assert_eq!(granted, 1);
        let rate = pacer.rate();
        assert!(
            ends.contains(&rate),
            "rate {rate} is no sequential order's end {ends:?}"
        );
        assert!((FLOOR..=CEILING).contains(&rate));
        // The slot was spaced by a rate the pacer held at some point.
        let next = pacer.next_send_at().as_ticks();
        assert!(
            held.iter().any(|r| (HZ * PER_SECOND).div_ceil(*r) == next),
            "next send {next} matches no rate in {held:?}"
        );
    });
}
