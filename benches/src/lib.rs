//! A small harness for benchmarking rate-limit checks against each other in
//! the same run.
//!
//! A *contender* is anything that answers "may one unit go now?": a limiter
//! of this crate or of another one, or a bare atomic operation as the floor.
//! Each is given as two closures, so adding one is one line in a bench file:
//!
//! - `make(shape)` builds a fresh limiter in a [`Shape`] (the same quota for
//!   every contender, in each crate's own terms);
//! - `check(&limiter, now)` makes one check of one unit at `now` (nanoseconds
//!   on the limiter's own time line) and says whether it was admitted.
//!
//! [`bench_matrix`] runs every contender in every shape, on one thread and on
//! several threads contending for one limiter, and reports the time of one
//! check. Every sample gets a fresh limiter (so a limiter that admits never
//! runs out of burst), and every sample checks that each call took the path
//! its shape intends: all admitted, or all denied. A bench that measured the
//! wrong path fails instead of printing a number.
//!
//! Fairness rules the contenders follow:
//!
//! - time is supplied the cheapest way each crate allows (an argument where
//!   the crate takes one, otherwise its cheapest clock), and `now` is opaque
//!   to the optimizer on every call ([`black_box`]), so no contender can hoist
//!   the time conversion out of the loop;
//! - the limiter reference is opaque on every call too, so configuration is
//!   read from memory as it would be in a server;
//! - each contender's whole answer goes through [`black_box`] (write
//!   `black_box(limiter.check(..)).is_ok()`), so whatever a crate computes for
//!   its answer (remaining units, retry times) is computed, not optimized away.

use std::hint::black_box;
use std::marker::PhantomData;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::Criterion;

/// The instant every check is made at: nanoseconds since the limiter's origin.
/// Not zero, since some crates treat time 0 specially.
pub const NOW_NANOS: u64 = 1_000_000_000;

/// The state a limiter is benchmarked in: the same quota for every contender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A limiter that always admits: 10^9 units per second, a burst of
    /// `u32::MAX`, starting full, every check at the same instant. A sample
    /// makes far fewer than `u32::MAX` checks, so every check is admitted and
    /// writes the new state (the compare-and-swap path).
    Admit,
    /// A saturated limiter that always denies: 1 unit per hour, a burst of 1,
    /// drained by one check at [`NOW_NANOS`] before timing starts. Every timed
    /// check is denied (the read-only path, for the crates that write nothing
    /// on a denial).
    Deny,
}

impl Shape {
    /// Both shapes.
    pub const ALL: &'static [Shape] = &[Shape::Admit, Shape::Deny];

    /// Units per [`period`](Shape::period).
    pub const fn count(self) -> u32 {
        match self {
            Shape::Admit => 1_000_000_000,
            Shape::Deny => 1,
        }
    }

    /// The period in which [`count`](Shape::count) units are earned.
    pub const fn period(self) -> Duration {
        match self {
            Shape::Admit => Duration::from_secs(1),
            Shape::Deny => Duration::from_secs(3_600),
        }
    }

    /// The most units admitted at one instant.
    pub const fn burst(self) -> u32 {
        match self {
            Shape::Admit => u32::MAX,
            Shape::Deny => 1,
        }
    }

    /// The name used in benchmark ids.
    pub const fn name(self) -> &'static str {
        match self {
            Shape::Admit => "admit",
            Shape::Deny => "deny",
        }
    }
}

/// One benchmarked operation; see the crate docs. Built by [`limiter`] or [`floor`].
pub trait Contender {
    /// The benchmark id within its group.
    fn name(&self) -> &str;

    /// Whether it is benchmarked in `shape`.
    fn applies(&self, shape: Shape) -> bool;

    /// The time of `iters` checks made by each of `threads` threads on one
    /// fresh limiter in `shape`: the wall time from the moment all threads
    /// are released together until the last one finishes. Panics if a check
    /// did not take the path the shape intends.
    fn run(&self, shape: Shape, threads: usize, iters: u64) -> Duration;
}

/// What is checked about the answers of a contender.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// A rate limiter: in [`Shape::Admit`] every check must be admitted, in
    /// [`Shape::Deny`] every one denied.
    Limiter,
    /// A reference operation with no decision, run only in these shapes.
    Floor(&'static [Shape]),
}

struct Entry<L, M, C> {
    name: &'static str,
    kind: Kind,
    make: M,
    check: C,
    limiter: PhantomData<fn() -> L>,
}

/// A rate limiter built by `make` and checked by `check`; see the crate docs.
pub fn limiter<L, M, C>(name: &'static str, make: M, check: C) -> Box<dyn Contender>
where
    L: Sync + 'static,
    M: Fn(Shape) -> L + 'static,
    C: Fn(&L, u64) -> bool + Sync + 'static,
{
    Box::new(Entry {
        name,
        kind: Kind::Limiter,
        make,
        check,
        limiter: PhantomData,
    })
}

/// A reference operation (a bare atomic, a clock read), benchmarked in
/// `shapes` only; what `check` returns is ignored.
pub fn floor<L, M, C>(
    name: &'static str,
    shapes: &'static [Shape],
    make: M,
    check: C,
) -> Box<dyn Contender>
where
    L: Sync + 'static,
    M: Fn(Shape) -> L + 'static,
    C: Fn(&L, u64) -> bool + Sync + 'static,
{
    Box::new(Entry {
        name,
        kind: Kind::Floor(shapes),
        make,
        check,
        limiter: PhantomData,
    })
}

/// `iters` checks at [`NOW_NANOS`], each with an opaque limiter reference and
/// time: the time they took and how many were admitted.
#[inline(never)]
fn timed_loop<L, C: Fn(&L, u64) -> bool>(
    limiter: &L,
    check: &C,
    iters: u64,
) -> (Instant, Instant, u64) {
    let mut admitted = 0u64;
    let start = Instant::now();
    for _ in 0..iters {
        admitted += u64::from(check(black_box(limiter), black_box(NOW_NANOS)));
    }
    (start, Instant::now(), admitted)
}

impl<L, M, C> Contender for Entry<L, M, C>
where
    L: Sync,
    M: Fn(Shape) -> L,
    C: Fn(&L, u64) -> bool + Sync,
{
    fn name(&self) -> &str {
        self.name
    }

    fn applies(&self, shape: Shape) -> bool {
        match self.kind {
            Kind::Limiter => true,
            Kind::Floor(shapes) => shapes.contains(&shape),
        }
    }

    fn run(&self, shape: Shape, threads: usize, iters: u64) -> Duration {
        let limiter = (self.make)(shape);
        if shape == Shape::Deny {
            // Drain the burst of 1 (a no-op for crates built empty).
            let _ = (self.check)(&limiter, NOW_NANOS);
        }
        let runs: Vec<(Instant, Instant, u64)> = if threads == 1 {
            vec![timed_loop(&limiter, &self.check, iters)]
        } else {
            let barrier = Barrier::new(threads);
            let (limiter, check) = (&limiter, &self.check);
            thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|_| {
                        scope.spawn(|| {
                            barrier.wait();
                            timed_loop(limiter, check, iters)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|handle| handle.join().expect("a bench thread panicked"))
                    .collect()
            })
        };
        if let Kind::Limiter = self.kind {
            let admitted: u64 = runs.iter().map(|run| run.2).sum();
            let expected = match shape {
                Shape::Admit => iters * threads as u64,
                Shape::Deny => 0,
            };
            assert_eq!(
                admitted,
                expected,
                "{}: {admitted} of {} checks admitted in shape {shape:?}",
                self.name,
                iters * threads as u64
            );
        }
        let start = runs.iter().map(|run| run.0).min();
        let end = runs.iter().map(|run| run.1).max();
        match (start, end) {
            (Some(start), Some(end)) => end.duration_since(start),
            _ => Duration::ZERO,
        }
    }
}

/// Benchmarks every contender that applies, in each of `shapes`, with each
/// thread count of `threads`: one criterion group per shape and thread count,
/// named `{prefix}/{shape}/{threads}-thread(s)`, so contenders of one group
/// are measured in the same run and can be compared directly.
///
/// The time reported for a multi-thread group is the wall time of the run
/// divided by the checks *each* thread made: what one check costs its caller
/// while the other threads hammer the same limiter.
pub fn bench_matrix(
    c: &mut Criterion,
    prefix: &str,
    shapes: &[Shape],
    threads: &[usize],
    contenders: &[Box<dyn Contender>],
) {
    for &shape in shapes {
        for &threads in threads {
            let plural = if threads == 1 { "thread" } else { "threads" };
            let mut group =
                c.benchmark_group(format!("{prefix}/{}/{threads}-{plural}", shape.name()));
            for contender in contenders.iter().filter(|c| c.applies(shape)) {
                group.bench_function(contender.name(), |b| {
                    b.iter_custom(|iters| contender.run(shape, threads, iters));
                });
            }
            group.finish();
        }
    }
}
