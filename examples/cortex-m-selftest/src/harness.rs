//! The invariant checks every algorithm must pass, written once for any
//! limiter whose decision is also available as a pure [`Algorithm`].
//!
//! A run drives the limiter with a pseudo-random trace (checks of `n = 0` to
//! `burst + 1` units; the clock standing still, creeping, jumping, and stale
//! readings behind it) and after every check demands the invariants of
//! ARCHITECTURE.md:
//!
//! - the atomic limiter decides exactly as its pure [`Algorithm::decide`] on a
//!   shadow copy of the state word, and reports the same status;
//! - `remaining = k` means exactly `k` more single-unit checks succeed now;
//! - `retry_after` is exact: the same check succeeds then and fails one tick
//!   earlier;
//! - a denial changes nothing; `n` above the burst is the distinct "never"
//!   error; `n = 0` changes nothing and is admitted at any current reading;
//! - no span `[t0, t1]` admits more units than the quota's own bound.

use core::fmt;

use ratecore::{Decision, Denied, Instant, Limiter, kernel::Algorithm};

/// The first broken invariant.
pub struct Failure {
    pub check: &'static str,
    pub step: u32,
    pub now: u64,
    pub n: u32,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "step {}: {} (n = {}, now = {} ticks)",
            self.step, self.check, self.n, self.now
        )
    }
}

/// xorshift64*: deterministic, so a failure reproduces.
pub struct Rng(u64);

impl Rng {
    pub const fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform enough in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The most units any span `[t0, t1]` of ticks may admit, from the quota.
pub type Bound = fn(t0: u64, t1: u64) -> u64;

/// What a run drives: the limiter, its configuration, and the trace's shape.
pub struct Run<'a, L> {
    pub limiter: &'a L,
    pub burst: u32,
    /// The typical spacing of units in ticks: the scale of the clock's steps.
    pub spacing: u64,
    pub bound: Bound,
    pub seed: u64,
    pub steps: u32,
}

/// [`run`] on each row's limiter, a `Result` of the limiter, which must be
/// `Ok` (a valid quota); the sum of the rows' checks. A row is `limiter,
/// burst, spacing, bound(burst, count, period), seed, steps;` where `bound`
/// is [`continuous`] or [`interval`] and its numbers are the quota's.
macro_rules! runs {
    ($(
        $limiter:expr, burst $burst:expr, spacing $spacing:expr,
        $bound:ident($($quota:expr),+), seed $seed:expr, steps $steps:expr;
    )+) => {{
        let mut checks = 0;
        $(
            let limiter = $limiter.map_err($crate::gcra::quota)?;
            checks += $crate::harness::run(&$crate::harness::Run {
                limiter: &limiter,
                burst: $burst,
                spacing: $spacing,
                bound: |t0, t1| $crate::harness::$bound($($quota),+, t0, t1),
                seed: $seed,
                steps: $steps,
            })?;
        )+
        checks
    }};
}
pub(crate) use runs;

/// Recent admissions, for the span bound.
struct Recent {
    times: [u64; 16],
    units: [u64; 16],
    len: usize,
    next: usize,
}

impl Recent {
    const fn new() -> Self {
        Self {
            times: [0; 16],
            units: [0; 16],
            len: 0,
            next: 0,
        }
    }

    fn push(&mut self, time: u64, units: u64) {
        self.times[self.next] = time;
        self.units[self.next] = units;
        self.next = (self.next + 1) % 16;
        self.len = (self.len + 1).min(16);
    }

    /// Checks every run of consecutive admissions that ends with the newest:
    /// all its units were admitted within `[min time, max time]`.
    fn within(&self, bound: Bound) -> bool {
        let (mut units, mut t0, mut t1) = (0, u64::MAX, 0);
        for back in 1..=self.len {
            let i = (self.next + 16 - back) % 16;
            units += self.units[i];
            t0 = t0.min(self.times[i]);
            t1 = t1.max(self.times[i]);
            if units > bound(t0, t1) {
                return false;
            }
        }
        true
    }
}

/// Runs the checks; returns how many checks passed.
pub fn run<const HZ: u64, L: Limiter<HZ> + Algorithm<HZ>>(
    run: &Run<'_, L>,
) -> Result<u32, Failure> {
    let Run {
        limiter,
        burst,
        spacing,
        bound,
        seed,
        steps,
    } = *run;
    let mut rng = Rng::new(seed);
    let mut shadow = 0;
    let mut clock = 1_000 * spacing;
    let mut recent = Recent::new();
    let (mut admitted, mut first, mut last) = (0u64, u64::MAX, 0u64);

    for step in 0..steps {
        // Where the clock goes, and when this check thinks it is.
        let at = match rng.below(10) {
            0..=3 => clock,
            4..=6 => {
                clock += rng.below(spacing);
                clock
            }
            7 => {
                clock += rng.below(5 * spacing);
                clock
            }
            8 => clock.saturating_sub(rng.below(2 * spacing)), // a stale reading
            _ => {
                clock += spacing;
                clock
            }
        };
        let n = rng.below(u64::from(burst) + 2) as u32;
        let now = Instant::<HZ>::from_ticks(at);
        let fail = |check| Failure {
            check,
            step,
            now: at,
            n,
        };

        let (expected, next) = limiter.decide(shadow, n, now).split();
        let decision = limiter.check_n_at(n, now);
        if decision != expected {
            return Err(fail("the limiter and Algorithm::decide disagree"));
        }
        match decision {
            Ok(status) => {
                if n > burst || status.limit() != burst {
                    return Err(fail("admitted above the burst, or a wrong limit"));
                }
                if next.is_none() != (n == 0) {
                    return Err(fail("an admission of n > 0 must charge, of n = 0 must not"));
                }
                if let Some(next) = next {
                    shadow = next;
                }
                if !exactly_remaining(limiter, shadow, now, status.remaining()) {
                    return Err(fail(
                        "remaining is not the number of unit checks that succeed",
                    ));
                }
                if n > 0 {
                    admitted += u64::from(n);
                    first = first.min(at);
                    last = last.max(at);
                    recent.push(at, u64::from(n));
                    if !recent.within(bound) || admitted > bound(first, last) {
                        return Err(fail("a span admitted more than the quota allows"));
                    }
                }
            }
            Err(Denied::ExceedsBurst(e)) => {
                if n <= burst || e.requested != n || e.burst != burst || next.is_some() {
                    return Err(fail("ExceedsBurst for a check within the burst"));
                }
            }
            Err(Denied::RateLimited(limited)) => {
                // `n = 0` fits any state at a current reading; at a stale one
                // (older than the clock has been) the state can be more than a
                // burst ahead of it, and even 0 units are "not yet".
                if (n == 0 && at >= clock) || n > burst || next.is_some() {
                    return Err(fail("RateLimited for n = 0 now, or for n above the burst"));
                }
                let retry = limited.retry_after().as_ticks();
                if retry == 0 {
                    return Err(fail("retry_after is zero"));
                }
                let then = |ticks| {
                    limiter
                        .decide(shadow, n, Instant::<HZ>::from_ticks(ticks))
                        .split()
                        .0
                };
                if then(at + retry - 1).is_ok() || then(at + retry).is_err() {
                    return Err(fail("retry_after is not exact"));
                }
            }
            Err(_) => return Err(fail("a denial this test does not know")),
        }
        if limiter.snapshot_at(now) != limiter.status(shadow, now) {
            return Err(fail("the limiter's state differs from the shadow state"));
        }
    }
    Ok(steps)
}

/// Whether exactly `remaining` single-unit checks succeed at `now` from `state`.
fn exactly_remaining<const HZ: u64, A: Algorithm<HZ>>(
    algorithm: &A,
    mut state: u64,
    now: Instant<HZ>,
    remaining: u32,
) -> bool {
    for _ in 0..remaining {
        match algorithm.decide(state, 1, now).split() {
            (Ok(_), Some(next)) => state = next,
            _ => return false,
        }
    }
    algorithm.decide(state, 1, now).split().0.is_err()
}

/// Two limiters decide identically on the same pseudo-random trace.
pub fn same_decisions<const HZ: u64>(
    a: &dyn Limiter<HZ>,
    b: &dyn Limiter<HZ>,
    burst: u32,
    spacing: u64,
    seed: u64,
    steps: u32,
) -> Result<u32, Failure> {
    let mut rng = Rng::new(seed);
    let mut clock = 0;
    for step in 0..steps {
        clock += rng.below(2 * spacing);
        let n = rng.below(u64::from(burst) + 2) as u32;
        let now = Instant::<HZ>::from_ticks(clock);
        let (x, y): (Decision<HZ>, Decision<HZ>) = (a.check_n_at(n, now), b.check_n_at(n, now));
        if x != y {
            return Err(Failure {
                check: "the two limiters decide differently",
                step,
                now: clock,
                n,
            });
        }
    }
    Ok(steps)
}

/// `burst + floor((t1 - t0) * count / period)`: continuous refill of `count`
/// units per `period` ticks.
pub fn continuous(burst: u64, count: u64, period: u64, t0: u64, t1: u64) -> u64 {
    let earned = u128::from(t1 - t0) * u128::from(count) / u128::from(period);
    burst + earned as u64
}

/// `burst + count * (multiples of period in (t0, t1])`: interval refill.
pub fn interval(burst: u64, count: u64, period: u64, t0: u64, t1: u64) -> u64 {
    burst + count * (t1 / period - t0 / period)
}
