//! loom models of the compare-and-swap loop shared by `Gcra` and `TokenBucket`.
//!
//! Two or three threads race on one limiter while the [`ManualClock`] moves
//! (the threads advance it too, and the main thread advances it concurrently).
//! Every thread reads the clock and then checks, so a thread can lose the race
//! to a thread that read a later time: the stale-reading case (ARCHITECTURE.md, verification).
//! For every interleaving loom explores, the test demands:
//!
//! - linearizability: the decisions each thread recorded (with the `now` it
//!   used) are exactly those of SOME sequential order of the same checks that
//!   keeps each thread's program order, replayed on a fresh limiter; and the
//!   final state is that order's final state;
//! - no over-admission: the units admitted are at most the most any such
//!   sequential order admits, and at most the quota's bound over the span of
//!   the instants used (`burst + rate * (t1 - t0)`, computed from the quota).
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test --release --test loom_limiters`.
#![cfg(loom)]

mod loom_support;

use loom::sync::Arc;
use loom::thread;
use ratecore::clock::ManualClock;
use ratecore::{Clock, Decision, Duration, Gcra, Instant, Limiter, Quota, RefillMode, TokenBucket};
use ratecore_testkit::linearizability::interleavings;

/// Millisecond ticks: small numbers, easy to read in a failure.
const HZ: u64 = 1_000;

/// One step of a thread's program.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Read the clock, then check `n` units at that instant.
    Check(u32),
    /// Move the shared clock forwards by this many ticks.
    Advance(u64),
}

/// A check as a thread saw it.
#[derive(Clone, Copy, Debug)]
struct Record {
    now: Instant<HZ>,
    n: u32,
    decision: Decision<HZ>,
}

/// The most units any span `[t0, t1]` may admit, from the quota alone.
type Bound = fn(t0: u64, t1: u64) -> u64;

/// Runs `programs` on concurrent threads against one limiter from `fresh`,
/// under every interleaving loom finds (with at most three preemptions), and
/// checks each outcome. The clock starts at `start`; the main thread advances
/// it by `main_advance` ticks (if non-zero) while the threads run.
fn race<L>(
    fresh: fn() -> L,
    start: u64,
    main_advance: u64,
    programs: &'static [&'static [Step]],
    bound: Bound,
) where
    L: Limiter<HZ> + Send + Sync + 'static,
{
    // Bugs in a compare-and-swap loop show with one or two preemptions; three
    // keeps every model to seconds.
    loom_support::explore(3, move || {
        let limiter = Arc::new(fresh());
        let clock = Arc::new(ManualClock::<HZ>::new(start));
        let handles: Vec<_> = programs
            .iter()
            .map(|program| {
                let limiter = Arc::clone(&limiter);
                let clock = Arc::clone(&clock);
                thread::spawn(move || run(&*limiter, &clock, program))
            })
            .collect();
        // The clock also moves while the threads run.
        if main_advance > 0 {
            clock.advance(Duration::<HZ>::from_ticks(main_advance));
        }
        let histories: Vec<Vec<Record>> = handles.into_iter().map(|h| h.join().unwrap()).collect();

        let last = histories.iter().flatten().map(|r| r.now).max().unwrap();
        let outcome = Outcome {
            histories,
            final_status: limiter.snapshot_at(last),
        };
        outcome.check(fresh, bound);
    });
}

fn run<L: Limiter<HZ>>(limiter: &L, clock: &ManualClock<HZ>, program: &[Step]) -> Vec<Record> {
    let mut records = Vec::new();
    for step in program {
        match *step {
            Step::Check(n) => {
                let now = clock.now();
                records.push(Record {
                    now,
                    n,
                    decision: limiter.check_n_at(n, now),
                });
            }
            Step::Advance(ticks) => clock.advance(Duration::<HZ>::from_ticks(ticks)),
        }
    }
    records
}

/// What one concurrent execution produced.
struct Outcome {
    histories: Vec<Vec<Record>>,
    final_status: ratecore::Status<HZ>,
}

impl Outcome {
    fn check<L: Limiter<HZ>>(&self, fresh: fn() -> L, bound: Bound) {
        let admitted: u64 = self.histories.iter().flatten().map(admitted_units).sum();

        let mut matched = false;
        let mut most_sequential = 0;
        for order in interleavings(&self.histories) {
            let replay = fresh();
            let mut same = true;
            let mut sequential_admitted = 0;
            for record in &order {
                let decision = replay.check_n_at(record.n, record.now);
                if decision.is_ok() {
                    sequential_admitted += u64::from(record.n);
                }
                same &= decision == record.decision;
            }
            most_sequential = most_sequential.max(sequential_admitted);
            let last = order.iter().map(|r| r.now).max().unwrap();
            if same && replay.snapshot_at(last) == self.final_status {
                matched = true;
            }
        }
        assert!(
            matched,
            "no sequential order explains the concurrent decisions: {:#?}",
            self.histories
        );
        assert!(
            admitted <= most_sequential,
            "admitted {admitted} units, but no sequential order admits more than {most_sequential}"
        );

        let instants = || self.histories.iter().flatten().map(|r| r.now.as_ticks());
        let (t0, t1) = (instants().min().unwrap(), instants().max().unwrap());
        assert!(
            admitted <= bound(t0, t1),
            "admitted {admitted} units in [{t0}, {t1}], above the quota's bound {}",
            bound(t0, t1)
        );
    }
}

fn admitted_units(record: &Record) -> u64 {
    if record.decision.is_ok() {
        u64::from(record.n)
    } else {
        0
    }
}

// ---- GCRA: 10 per second (one unit per 100 ms), burst 2 ----

fn gcra() -> Gcra<HZ> {
    Gcra::new(Quota::per_second(10).burst(2)).unwrap()
}

/// `burst + (t1 - t0) / T` with `T = 100` ticks.
fn continuous_bound(t0: u64, t1: u64) -> u64 {
    2 + (t1 - t0) / 100
}

// ---- greedy token bucket: the same quota ----

fn greedy_bucket() -> TokenBucket<HZ> {
    TokenBucket::new(Quota::per_second(10).burst(2), RefillMode::Greedy).unwrap()
}

// ---- interval token bucket: 2 tokens every second, at most 3 ----

fn interval_bucket() -> TokenBucket<HZ> {
    TokenBucket::new(Quota::per_second(2).burst(3), RefillMode::Interval).unwrap()
}

/// `burst + count * (refills in (t0, t1])`, refills at multiples of 1000 ticks.
fn interval_bound(t0: u64, t1: u64) -> u64 {
    3 + 2 * (t1 / 1_000 - t0 / 1_000)
}

/// One loom test per row: `name: fresh, start, main_advance, bound;` then the
/// threads' programs (see [`race`]).
macro_rules! races {
    ($(
        $(#[$doc:meta])*
        $name:ident: $fresh:expr, $start:expr, $advance:expr, $bound:expr;
        [$($program:expr),+ $(,)?]
    )+) => {$(
        $(#[$doc])*
        #[test]
        fn $name() {
            static PROGRAMS: &[&[Step]] = &[$($program),+];
            race($fresh, $start, $advance, PROGRAMS, $bound);
        }
    )+};
}

races! {
    /// Thread 0 spends the burst, waits half an interval and asks again;
    /// thread 1 asks for one unit twice; the main thread adds a whole interval.
    gcra_two_threads_with_a_moving_clock: gcra, 1_000, 100, continuous_bound;
    [
        &[Step::Check(2), Step::Advance(50), Step::Check(1)],
        &[Step::Check(1), Step::Check(1)],
    ]

    /// Thread 0 spends the whole burst and then earns one unit back by moving
    /// the clock; two threads race for that unit (and may read the clock
    /// before it moved: a stale reading that must be denied).
    gcra_three_threads_racing_for_the_last_unit: gcra, 0, 0, continuous_bound;
    [
        &[Step::Check(2), Step::Advance(100)],
        &[Step::Check(1)],
        &[Step::Check(1)],
    ]

    greedy_bucket_two_threads_with_a_moving_clock: greedy_bucket, 500, 50, continuous_bound;
    [
        &[Step::Check(1), Step::Advance(100), Step::Check(2)],
        &[Step::Check(2), Step::Check(1)],
    ]

    /// The clock starts 100 ms before a refill; thread 0 moves it across.
    interval_bucket_across_a_refill_boundary: interval_bucket, 1_900, 0, interval_bound;
    [
        &[Step::Check(2), Step::Advance(100), Step::Check(2)],
        &[Step::Check(2), Step::Check(1)],
    ]
}
