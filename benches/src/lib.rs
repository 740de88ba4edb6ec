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
//! Time is each thread's *CPU time* (`CLOCK_THREAD_CPUTIME_ID` on Unix; wall
//! time elsewhere), not wall time: on a shared, loaded machine a wall-time
//! sample also counts the time the bench thread spent descheduled while other
//! processes ran, which inflates every figure by the machine's load. CPU time
//! counts only the time the thread itself ran. With several threads, each is
//! pinned to its own CPU (on Linux), and a sample
//! measures contention only while the threads really run at once, so a
//! sample whose threads did not overlap for most of their runs (one of them
//! descheduled) is retried a few times, and the best-overlapping attempt is
//! kept; multi-thread benchmarks take many short samples, which are less
//! often cut by the scheduler, and after each one a line says how much its
//! threads ran together.
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

use std::cell::Cell;
use std::hint::black_box;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use criterion::Criterion;
use ratecore::time::NANOS;

/// The instant every check is made at: nanoseconds since the limiter's origin.
/// Not zero, since some crates treat time 0 specially.
pub const NOW_NANOS: u64 = 1_000_000_000;

/// The instant `now` nanoseconds after ratecore's tick 0.
pub fn at(now: u64) -> ratecore::Instant<NANOS> {
    ratecore::Instant::<NANOS>::from_ticks(now)
}

/// A minimal hand-written GCRA on one word: the floor of a GCRA check. The
/// word is the theoretical arrival time in nanoseconds, `t` the interval
/// between units and `tau` the most that `tat - now` may reach: no scale,
/// no horizon, no answer beyond admitted or not.
#[inline(always)]
pub fn hand_gcra(word: &AtomicU64, now: u64, t: u64, tau: u64) -> bool {
    let mut tat = word.load(Ordering::Relaxed);
    loop {
        let start = tat.max(now);
        if start + t - now > tau {
            return false;
        }
        match word.compare_exchange_weak(tat, start + t, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(actual) => tat = actual,
        }
    }
}

/// [`hand_gcra`] as a limiter in a [`Shape`], its interval and tau read from
/// memory as every other contender's configuration is: the time floor of a
/// GCRA check.
pub struct HandGcra {
    word: AtomicU64,
    t: u64,
    tau: u64,
}

impl HandGcra {
    /// The shape's quota, in nanoseconds (drained first for [`Shape::Deny`]).
    pub fn new(shape: Shape) -> Self {
        let t = shape.period().as_nanos() as u64 / u64::from(shape.count());
        let limiter = HandGcra {
            word: AtomicU64::new(0),
            t,
            tau: t.saturating_mul(u64::from(shape.burst())),
        };
        if let Shape::Deny = shape {
            assert!(limiter.check(NOW_NANOS), "a fresh limiter admits");
        }
        limiter
    }

    /// One check of one unit at `now`.
    #[inline(always)]
    pub fn check(&self, now: u64) -> bool {
        hand_gcra(&self.word, now, self.t, self.tau)
    }
}

/// A keyed table of 1,024 slots of `Gcra`s on `per_key`, filled to `percent`
/// % with keys 0, 1, 2, ... (a key that finds its window full is skipped) by
/// one check each at [`NOW_NANOS`], and the keys it took.
///
/// Every table it fills has the same seed (so the same keys): the tiers of
/// a `KeyedTiers` built from two of them hash a key once per check.
pub fn filled_table(
    per_key: ratecore::Quota,
    percent: usize,
) -> (
    Box<ratecore::KeyedLimiter<ratecore::Gcra<NANOS>, NANOS, 1_024>>,
    Vec<u64>,
) {
    filled_table_seeded(per_key, percent, [0x1234, 0x5678])
}

/// [`filled_table`] under the secret `seed`.
pub fn filled_table_seeded(
    per_key: ratecore::Quota,
    percent: usize,
    seed: [u64; 2],
) -> (
    Box<ratecore::KeyedLimiter<ratecore::Gcra<NANOS>, NANOS, 1_024>>,
    Vec<u64>,
) {
    use ratecore::keyed::{Plan, WhenFull};
    let table = Box::new(ratecore::KeyedLimiter::new(
        [ratecore::Gcra::new(per_key).unwrap()],
        seed,
        WhenFull::Deny,
    ));
    let now = at(NOW_NANOS);
    let want = 1_024 * percent / 100;
    let keys: Vec<u64> = (0..4_096u64)
        .filter(|key| table.check_at(key, Plan::FIRST, now).is_ok())
        .take(want)
        .collect();
    assert_eq!(keys.len(), want, "the table takes {want} keys");
    (table, keys)
}

/// A keyed table of 1,024 slots that every check with a new key inserts
/// into: filled at [`NOW_NANOS`] with as many of the keys 0 to 1,023 as it
/// takes (a key whose window is full is left out), at one unit per 2 ns
/// (burst 1), so every key it holds is idle 2 ns later. A table full of idle
/// keys, where each new one reclaims a slot: the many-clients case of an API
/// keyed by address, and the most a check that inserts reads.
pub fn idle_table() -> Box<ratecore::KeyedLimiter<ratecore::Gcra<NANOS>, NANOS, 1_024>> {
    use ratecore::keyed::{Plan, WhenFull};
    let quota = ratecore::Quota::with_period(1, ratecore::Duration::<NANOS>::from_ticks(2));
    let table = Box::new(ratecore::KeyedLimiter::new(
        [ratecore::Gcra::new(quota).unwrap()],
        [0x1234, 0x5678],
        WhenFull::Deny,
    ));
    for key in 0..1_024u64 {
        // A window that is already full refuses its key: that is all the
        // filling needs to know.
        let _ = table.check_at(&key, Plan::FIRST, at(NOW_NANOS));
    }
    table
}

/// The state a limiter is benchmarked in: the same quota for every contender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A limiter that always admits: 10^9 units per second, a burst of
    /// `u32::MAX`, starting full, every check at the same instant. A sample
    /// makes far fewer than `u32::MAX` checks (that many take tens of seconds
    /// even at a few nanoseconds each), so every check is admitted and writes
    /// the new state (the compare-and-swap path); a sample that ran out
    /// would fail its check instead of reporting the wrong path.
    Admit,
    /// A saturated limiter that always denies: 1 unit per hour, a burst of 1,
    /// drained by one check at [`NOW_NANOS`] before timing starts. Every timed
    /// check is denied (the read-only path, for the crates that write nothing
    /// on a denial).
    Deny,
    /// [`Admit`](Shape::Admit) at 100 units per minute (a burst of
    /// `u32::MAX`, starting full): the same path, at a quota whose interval
    /// is not one tick, as an API's is. A limiter that divides by its
    /// interval on the way to its answer pays for it here, and not in
    /// [`Admit`](Shape::Admit), where the interval is 1 ns.
    AdmitPerMinute,
}

impl Shape {
    /// Every shape.
    pub const ALL: &'static [Shape] = &[Shape::Admit, Shape::Deny, Shape::AdmitPerMinute];

    /// Admitted and denied at the first quotas: the shapes of a contender
    /// whose quota is its own ([`only`]), such as a window's.
    pub const ADMIT_DENY: &'static [Shape] = &[Shape::Admit, Shape::Deny];

    /// Whether every check in this shape is admitted.
    pub const fn admits(self) -> bool {
        match self {
            Shape::Admit | Shape::AdmitPerMinute => true,
            Shape::Deny => false,
        }
    }

    /// Units per [`period`](Shape::period).
    pub const fn count(self) -> u32 {
        match self {
            Shape::Admit => 1_000_000_000,
            Shape::Deny => 1,
            Shape::AdmitPerMinute => 100,
        }
    }

    /// The period in which [`count`](Shape::count) units are earned.
    pub const fn period(self) -> Duration {
        match self {
            Shape::Admit => Duration::from_secs(1),
            Shape::Deny => Duration::from_secs(3_600),
            Shape::AdmitPerMinute => Duration::from_secs(60),
        }
    }

    /// The most units admitted at one instant.
    pub const fn burst(self) -> u32 {
        match self {
            Shape::Admit | Shape::AdmitPerMinute => u32::MAX,
            Shape::Deny => 1,
        }
    }

    /// The units a limiter starts with, for a crate that takes them: its
    /// whole burst where every check is admitted, none where every one is
    /// denied (a limiter that starts full is drained by one check instead).
    pub const fn initial(self) -> u32 {
        if self.admits() { self.burst() } else { 0 }
    }

    /// The shape's quota in ratecore's terms.
    pub fn quota(self) -> ratecore::Quota {
        let period = ratecore::Duration::<NANOS>::from_ticks(self.period().as_nanos() as u64);
        ratecore::Quota::with_period(self.count(), period).burst(self.burst())
    }

    /// The name used in benchmark ids.
    pub const fn name(self) -> &'static str {
        match self {
            Shape::Admit => "admit",
            Shape::Deny => "deny",
            Shape::AdmitPerMinute => "admit_100_per_minute",
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
    /// fresh limiter in `shape`, all released together: the mean CPU time of
    /// the threads (see the crate docs). Panics if a check did not take the
    /// path the shape intends. Also returns how much the threads ran together
    /// (0 to 1; 1 for one thread).
    fn run(&self, shape: Shape, threads: usize, iters: u64) -> (Duration, f64);
}

/// What is checked about the answers of a contender.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// A rate limiter: in a shape that [`admits`](Shape::admits) every
    /// check must be admitted, in [`Shape::Deny`] every one denied.
    Limiter,
    /// A reference operation with no decision.
    Floor,
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
    Entry::boxed(name, Kind::Limiter, make, check)
}

/// `contender` in `shapes` only: for a limiter whose quota in a shape is its
/// own (a window cannot admit `u32::MAX` at 100 per minute).
pub fn only(shapes: &'static [Shape], contender: Box<dyn Contender>) -> Box<dyn Contender> {
    Box::new(Only { shapes, contender })
}

/// What [`only`] makes.
struct Only {
    shapes: &'static [Shape],
    contender: Box<dyn Contender>,
}

impl Contender for Only {
    fn name(&self) -> &str {
        self.contender.name()
    }

    fn applies(&self, shape: Shape) -> bool {
        self.shapes.contains(&shape) && self.contender.applies(shape)
    }

    fn run(&self, shape: Shape, threads: usize, iters: u64) -> (Duration, f64) {
        self.contender.run(shape, threads, iters)
    }
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
    only(shapes, Entry::boxed(name, Kind::Floor, make, check))
}

/// A limiter placed at the start of a 64-byte cache line. Every contender
/// of every sample starts there, so which of its fields share a line with
/// its state word (the line two threads take from each other) is the same
/// in every run and every build: on the stack, where it fell depended on
/// the frame's layout, which any change to the bench could move.
#[repr(align(64))]
struct CacheLine<L>(L);

/// Attempts at a multi-thread sample whose threads did not run together.
const ATTEMPTS: usize = 8;

/// Samples per multi-thread benchmark: many short samples rather than
/// criterion's 100 long ones, because a sample shorter than a scheduler time
/// slice is far more likely to have all its threads running throughout.
const MULTI_THREAD_SAMPLES: usize = 1_000;

/// A sample is kept at once when each thread was on a CPU for at least this
/// share of the span in which all threads were running.
const MIN_OVERLAP: f64 = 0.9;

/// The CPU time the calling thread has used.
#[cfg(unix)]
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec`, and
    // CLOCK_THREAD_CPUTIME_ID is a clock every supported Unix provides.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// Wall time since the first call, where no per-thread CPU clock is known.
#[cfg(not(unix))]
pub fn thread_cpu_time() -> Duration {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed()
}

/// Pins the calling thread to the `index`-th CPU it may run on (modulo their
/// number), so that the threads of a sample run on different CPUs rather
/// than taking turns on one. Does nothing where that is not possible.
#[cfg(target_os = "linux")]
fn pin_to_cpu(index: usize) {
    let set_size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `cpu_set_t` is plain data for which all zeroes is the empty
    // set; every pointer passed points to a live, writable `cpu_set_t` of
    // `set_size` bytes, and the CPU_* helpers stay within CPU_SETSIZE.
    unsafe {
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, set_size, &mut allowed) != 0 {
            return;
        }
        let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &allowed))
            .collect();
        if cpus.len() < 2 {
            return;
        }
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpus[index % cpus.len()], &mut one);
        // Best effort: a failure leaves the thread where the scheduler put it.
        let _ = libc::sched_setaffinity(0, set_size, &one);
    }
}

#[cfg(not(target_os = "linux"))]
fn pin_to_cpu(_index: usize) {}

/// One thread's run: its wall-time span, the CPU time it used, and how many
/// of its checks were admitted.
struct Run {
    start: Instant,
    end: Instant,
    cpu: Duration,
    admitted: u64,
}

/// `iters` checks at [`NOW_NANOS`], each with an opaque limiter reference and
/// time.
#[inline(never)]
fn timed_loop<L, C: Fn(&L, u64) -> bool>(limiter: &L, check: &C, iters: u64) -> Run {
    let mut admitted = 0u64;
    let start = Instant::now();
    let cpu_start = thread_cpu_time();
    for _ in 0..iters {
        admitted += u64::from(check(black_box(limiter), black_box(NOW_NANOS)));
    }
    let cpu = thread_cpu_time().saturating_sub(cpu_start);
    Run {
        start,
        end: Instant::now(),
        cpu,
        admitted,
    }
}

/// How much the runs of one sample ran together, from 0 (one thread finished
/// before another started) to 1 (all ran on a CPU from start to end): the
/// share of the longest run's span that all runs' spans shared, times the
/// smallest share of its own span that a thread spent on a CPU.
fn overlap(runs: &[Run]) -> f64 {
    let start = runs.iter().map(|run| run.start).max();
    let end = runs.iter().map(|run| run.end).min();
    let (Some(start), Some(end)) = (start, end) else {
        return 0.0;
    };
    let common = end.saturating_duration_since(start).as_secs_f64();
    let longest = runs
        .iter()
        .map(|run| run.end.duration_since(run.start).as_secs_f64())
        .fold(0.0, f64::max);
    if common <= 0.0 || longest <= 0.0 {
        return 0.0;
    }
    // Each thread's CPU time as a share of its own span, times the share of
    // the longest span that all threads shared.
    let on_cpu = runs
        .iter()
        .map(|run| {
            run.cpu.as_secs_f64() / run.end.duration_since(run.start).as_secs_f64().max(1e-12)
        })
        .fold(1.0, f64::min);
    on_cpu.min(1.0) * (common / longest)
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

    /// Every shape: [`only`] narrows a contender to some.
    fn applies(&self, _shape: Shape) -> bool {
        true
    }

    fn run(&self, shape: Shape, threads: usize, iters: u64) -> (Duration, f64) {
        let mut best: Option<(f64, Vec<Run>)> = None;
        for _ in 0..ATTEMPTS {
            let runs = self.sample(shape, threads, iters);
            if threads == 1 {
                best = Some((1.0, runs));
                break;
            }
            let share = overlap(&runs);
            if best.as_ref().is_none_or(|(kept, _)| share > *kept) {
                best = Some((share, runs));
            }
            if share >= MIN_OVERLAP {
                break;
            }
        }
        let Some((share, runs)) = best else {
            return (Duration::ZERO, 0.0);
        };
        // The mean CPU time of the threads: what `iters` checks cost one of
        // them while the others hammered the same limiter.
        let total: Duration = runs.iter().map(|run| run.cpu).sum();
        (total / u32::try_from(runs.len()).unwrap_or(1), share)
    }
}

impl<L, M, C> Entry<L, M, C>
where
    L: Sync,
    M: Fn(Shape) -> L,
    C: Fn(&L, u64) -> bool + Sync,
{
    /// The contender `name`, of `kind`.
    fn boxed(name: &'static str, kind: Kind, make: M, check: C) -> Box<dyn Contender>
    where
        Self: 'static,
    {
        Box::new(Self {
            name,
            kind,
            make,
            check,
            limiter: PhantomData,
        })
    }

    /// One sample: `iters` checks on each of `threads` threads, released
    /// together, on a fresh limiter; panics if a check took the wrong path.
    fn sample(&self, shape: Shape, threads: usize, iters: u64) -> Vec<Run> {
        let line = CacheLine((self.make)(shape));
        let limiter = &line.0;
        if shape == Shape::Deny {
            // Drain the burst of 1 (a no-op for crates built empty).
            let _ = (self.check)(limiter, NOW_NANOS);
        }
        let runs: Vec<Run> = if threads == 1 {
            vec![timed_loop(limiter, &self.check, iters)]
        } else {
            // A spinning start: every thread is on a CPU when they go, so the
            // runs begin together (a blocking barrier would wake them one by one).
            let arrived = AtomicUsize::new(0);
            let (check, arrived) = (&self.check, &arrived);
            thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|index| {
                        scope.spawn(move || {
                            pin_to_cpu(index);
                            // Relaxed: only a start signal; no data is published.
                            arrived.fetch_add(1, Ordering::Relaxed);
                            while arrived.load(Ordering::Relaxed) < threads {
                                std::hint::spin_loop();
                            }
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
            let admitted: u64 = runs.iter().map(|run| run.admitted).sum();
            let expected = if shape.admits() {
                iters * threads as u64
            } else {
                0
            };
            assert_eq!(
                admitted,
                expected,
                "{}: {admitted} of {} checks admitted in shape {shape:?}",
                self.name,
                iters * threads as u64
            );
        }
        runs
    }
}

/// Benchmarks every contender that applies, in each of `shapes`, with each
/// thread count of `threads`: one criterion group per shape and thread count,
/// named `{prefix}/{shape}/{threads}-thread(s)`, so contenders of one group
/// are measured in the same run and can be compared directly.
///
/// The time reported for a multi-thread group is the mean CPU time of the
/// threads divided by the checks *each* thread made: what one check costs its
/// caller while the other threads hammer the same limiter.
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
            if threads > 1 {
                group.sample_size(MULTI_THREAD_SAMPLES);
            }
            for contender in contenders.iter().filter(|c| c.applies(shape)) {
                // (samples, sum of overlaps, samples with full overlap)
                let overlaps = Cell::new((0u32, 0.0f64, 0u32));
                group.bench_function(contender.name(), |b| {
                    b.iter_custom(|iters| {
                        let (time, share) = contender.run(shape, threads, iters);
                        let (n, sum, full) = overlaps.get();
                        overlaps.set((n + 1, sum + share, full + u32::from(share >= MIN_OVERLAP)));
                        time
                    });
                });
                let (n, sum, full) = overlaps.get();
                if threads > 1 && n > 0 {
                    // Criterion prints nothing of ours; this line says how far
                    // the figure above is one of real contention.
                    println!(
                        "{:>24}threads ran together: {:.0}% on average, {full} of {n} samples fully",
                        "",
                        100.0 * sum / f64::from(n)
                    );
                }
            }
            group.finish();
        }
    }
}
