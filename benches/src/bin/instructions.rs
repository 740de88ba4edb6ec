//! Runs one operation `N` times, for counting instructions per operation
//! under callgrind: `.ci/instructions` runs each shape for two values of `N`
//! and prints the difference divided by the difference of `N`, so that the
//! set-up (building the limiter, filling a table) cancels out.
//!
//! Usage: `instructions SHAPE N`; `instructions list` prints the shapes.
//!
//! The same shapes, timed: `instructions ratios ROUNDS N REFERENCE SHAPE...`
//! runs every shape `N` times in each of `ROUNDS` rounds, interleaved (the
//! order rotates from round to round), each run timed with the thread's CPU
//! clock, and prints per shape the median time per operation and the
//! median, lower and upper quartile of its ratio to `REFERENCE`'s time in
//! the same round. A drift of the machine's speed (frequency, a neighbour
//! on the host) moves both runs of a round alike, so the ratios hold
//! steadier than the times of separate benchmark runs (not still: a noisy
//! machine spreads the rounds, and the quartiles show it). Set-up (building the
//! limiter, filling a table) is inside each timed run: choose `N` large
//! enough for it not to count (a million checks take milliseconds; filling
//! a keyed table takes about a hundred microseconds).
//!
//! Each iteration passes the limiter and the instant through `black_box`, so
//! that nothing is hoisted out of the loop; the answer is used only as far as
//! the shape's name says (`is_ok`, or every field of the answer).

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ratecore::kernel::WordRef;
use ratecore::{
    Denied, FixedWindow, Gcra, Instant, KeyedLimiter, Limiter, PackedGcra, Quota, RefillMode,
    SlidingWindow, TokenBucket, algorithms::GcraConfig, keyed::Plan, time::NANOS,
};
use ratecore_bench::{at, hand_gcra, idle_table};

const NOW: u64 = ratecore_bench::NOW_NANOS;

/// Always admits: 10^9 per second (a cost of one virtual unit per unit), a
/// burst of `u32::MAX`, one instant.
fn admit_quota() -> Quota {
    Quota::per_second(1_000_000_000).burst(u32::MAX)
}

/// Always admits: 100 per minute (a cost that is not 1), a burst of `u32::MAX`.
fn admit_100_per_minute() -> Quota {
    Quota::per_minute(100).burst(u32::MAX)
}

/// Always denies once drained: 1 per hour, burst 1.
fn deny_quota() -> Quota {
    Quota::per_hour(1)
}

type Governor = governor::RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    governor::clock::FakeRelativeClock,
    governor::middleware::NoOpMiddleware<governor::nanos::Nanos>,
>;

fn governor(count: u32, period: Duration, burst: u32) -> Governor {
    let clock = governor::clock::FakeRelativeClock::default();
    let quota = governor::Quota::with_period(period / count)
        .unwrap()
        .allow_burst(NonZeroU32::new(burst).unwrap());
    let limiter = Governor::direct_with_clock(quota, clock.clone());
    clock.advance(Duration::from_nanos(NOW));
    limiter
}

fn gcra(quota: Quota) -> Gcra<NANOS> {
    Gcra::<NANOS>::new(quota).unwrap()
}

/// The `Gcra` of a shape: `gcra_admit`, `gcra_admit_100_per_minute`, or
/// (anything else) `gcra_deny`, drained by one check before timing.
fn gcra_in(shape: &str) -> Gcra<NANOS> {
    match shape {
        "gcra_admit" => gcra(admit_quota()),
        "gcra_admit_100_per_minute" => gcra(admit_100_per_minute()),
        _ => {
            let l = gcra(deny_quota());
            assert!(l.check_at(at(NOW)).is_ok());
            l
        }
    }
}

/// Reads every field of an answer, as an HTTP server's headers do.
fn whole<const HZ: u64>(answer: Result<ratecore::Status<HZ>, Denied<HZ>>) -> u64 {
    match answer {
        Ok(status) => u64::from(status.remaining()) + status.reset_after().as_ticks(),
        Err(Denied::RateLimited(limited)) => {
            u64::from(limited.remaining())
                + limited.reset_after().as_ticks()
                + limited.retry_after().as_ticks()
        }
        Err(_) => 0,
    }
}

/// The keyed shapes' quota per key: one per second with a burst that no
/// run of checks drains, so every hit is admitted.
fn keyed_quota() -> Quota {
    Quota::per_second(1).burst(1_000_000)
}

/// A keyed table of 1,024 slots filled to `percent` % (as in the criterion
/// bench), and its keys.
fn keyed(percent: usize) -> (Box<KeyedLimiter<Gcra<NANOS>, NANOS, 1_024>>, Vec<u64>) {
    ratecore_bench::filled_table(keyed_quota(), percent)
}

fn keyed_hits(percent: usize, n: u64) {
    let (table, keys) = keyed(percent);
    let mut i = 0;
    repeat(n, || {
        // A wrap, not `%`: a division here would count against the check.
        i = if i + 1 == keys.len() { 0 } else { i + 1 };
        black_box(&*table)
            .check_at(&keys[i], Plan::FIRST, black_box(at(NOW)))
            .is_ok()
    });
}

/// The floor of a keyed check: the next key of a cycle as long as
/// [`keyed_hits`]' at 25 % (256 keys; SipHash of a `u64` costs the same
/// whatever its value) hashed as a table of 1,024 slots hashes it
/// (SipHash-1-3, 64-bit output, under a secret seed; the same crate as
/// ratecore's), and nothing else. Every keyed check pays this before it
/// looks at a slot, then a check of the slot's state. No table is built:
/// in `ratios` the set-up is timed with the checks.
fn key_hashes(n: u64) {
    use std::hash::{Hash, Hasher};
    let keys: Vec<u64> = (0..256).collect();
    let seed = [0x0123_4567_89ab_cdef_u64, 0xfedc_ba98_7654_3210];
    let mut i = 0;
    repeat(n, || {
        i = if i + 1 == keys.len() { 0 } else { i + 1 };
        let [k0, k1] = *black_box(&seed);
        let mut hasher = siphasher::sip::SipHasher13::new_with_keys(k0, k1);
        keys[i].hash(&mut hasher);
        hasher.finish()
    });
}

/// Two keyed tables as [`keyed`] fills them (the same keys in each), as
/// the two tiers of a `KeyedTiers`: every check a hit in both, admitted;
/// or (`deny`) with a quota of one per hour, which the filling drained:
/// every check denied by both. The tables share a seed, so a check hashes
/// its key once; with `apart`, the second has a seed of its own, and a
/// check hashes its key once per table.
fn keyed_tiers_hits(percent: usize, deny: bool, apart: bool, n: u64) {
    use ratecore::keyed::{KeyedTier, KeyedTiers};
    let quota = if deny { deny_quota() } else { keyed_quota() };
    let (minute, keys) = ratecore_bench::filled_table(quota, percent);
    let (day, day_keys) = if apart {
        ratecore_bench::filled_table_seeded(quota, percent, [0x9abc, 0xdef0])
    } else {
        ratecore_bench::filled_table(quota, percent)
    };
    assert_eq!(keys, day_keys, "both tables hold the same keys");
    let tiers = KeyedTiers::new([
        KeyedTier::new("minute", &*minute),
        KeyedTier::new("day", &*day),
    ]);
    let mut i = 0;
    repeat(n, || {
        i = if i + 1 == keys.len() { 0 } else { i + 1 };
        black_box(&tiers)
            .check_at(&keys[i], Plan::FIRST, black_box(at(NOW)))
            .is_ok()
    });
}

/// Every check inserts: each check's key is new, at instants 2 ticks apart,
/// and takes a slot an idle key of [`idle_table`] leaves.
fn keyed_inserts(n: u64) {
    let table = idle_table();
    // Past every key the filling tried.
    let (mut key, mut now) = (1_024u64, NOW);
    repeat(n, || {
        key += 1;
        now += 2;
        black_box(&*table)
            .check_at(&key, Plan::FIRST, black_box(at(now)))
            .is_ok()
    });
}

/// Checks `tiers` `n` times at one instant, asking only `is_ok()`.
fn tiers_is_ok<C: ratecore::kernel::Charge<NANOS> + ?Sized>(
    tiers: &ratecore::Tiers<'_, NANOS, 2, C>,
    n: u64,
) {
    repeat(n, || {
        black_box(tiers)
            .check_tiered_n_at(1, black_box(at(NOW)))
            .is_ok()
    });
}

/// A check out of line: the same check as `gcra_admit` plus a call, and a
/// function to read in the disassembly (`objdump -d target/release/instructions`).
#[inline(never)]
fn gcra_is_ok(limiter: &Gcra<NANOS>, now: Instant<NANOS>) -> bool {
    limiter.check_n_at(1, now).is_ok()
}

/// Checks `limiter` `n` times at one instant, asking only `is_ok()`.
fn checks<L: Limiter<NANOS>>(limiter: &L, n: u64) {
    repeat(n, || {
        black_box(limiter).check_n_at(1, black_box(at(NOW))).is_ok()
    });
}

/// A log limiter (the kernel's `___ratelimit`) checked at instants 100 µs
/// apart, with windows of 5 s: each window opens once in about 50,000
/// checks, so nearly every check is one inside a window. With a burst of
/// 65,535 (`log_limit_emit`) every check is emitted; with a burst of 1
/// (`log_limit_suppress`) every check but a window's first is suppressed
/// and counted (fewer than 65,535 a window: the count never saturates, so
/// every check stores).
fn log_limits(shape: &str, n: u64) {
    let burst = if shape == "log_limit_emit" { 65_535 } else { 1 };
    let interval = ratecore::Duration::<NANOS>::from_ticks(5 * NANOS);
    let limiter =
        ratecore::algorithms::LogLimiter::<NANOS>::from_interval(interval, burst).unwrap();
    let mut now = NOW;
    repeat(n, || {
        now += 100_000;
        black_box(&limiter).check_at(black_box(at(now))).is_emit()
    });
}

/// Runs `op` `n` times, its answer through `black_box`.
///
/// Out of line, and one copy per shape (each closure is a type of its own),
/// so that every shape is a loop of its own rather than a part of `main`:
/// what the compiler inlines into a shape's loop then depends on that shape
/// alone. In `main`, register pressure spilled the loop's counter (4 more
/// instructions per check of `packed_gcra_admit`), and a shape added to
/// `main` once took governor's check out of line (34 instructions to 74).
#[inline(never)]
fn repeat<T>(n: u64, mut op: impl FnMut() -> T) {
    for _ in 0..n {
        black_box(op());
    }
}

/// The same, on a limiter drained by one check first: every check denied.
fn denials<L: Limiter<NANOS>>(limiter: &L, n: u64) {
    assert!(limiter.check_at(at(NOW)).is_ok());
    assert!(limiter.check_at(at(NOW)).is_err());
    checks(limiter, n);
}

/// The one-word limiters other than `Gcra` (`PackedGcra`, `Gcra` in 24
/// bytes, among them), admitted (a quota that outlasts 200,000 checks at one
/// instant) or denied (one unit per hour), and the hand-written GCRA's
/// denial: the floor of a denied check.
fn one_word(shape: &str, n: u64) {
    // A million per hour, in windows of an hour: 200,000 checks fit one window.
    let windows = Quota::with_period(
        1_000_000,
        ratecore::Duration::<NANOS>::from_ticks(3_600 * NANOS),
    );
    match shape {
        "hand_gcra_deny" => {
            // Booked an hour ahead with no burst: `tat + t - now > tau`.
            let word = AtomicU64::new(NOW + 3_600 * NANOS);
            repeat(n, || hand_gcra(black_box(&word), black_box(NOW), 1, 0));
        }
        // `gcra_admit` and `gcra_deny`'s quotas in 24 bytes: the difference
        // is what unpacking the configuration costs.
        "packed_gcra_admit" => checks(&PackedGcra::<NANOS>::new(admit_quota()).unwrap(), n),
        "packed_gcra_deny" => denials(&PackedGcra::<NANOS>::new(deny_quota()).unwrap(), n),
        "token_bucket_admit" => checks(
            &TokenBucket::<NANOS>::new(admit_quota(), RefillMode::Greedy).unwrap(),
            n,
        ),
        "token_bucket_deny" => denials(
            &TokenBucket::<NANOS>::new(deny_quota(), RefillMode::Greedy).unwrap(),
            n,
        ),
        "token_bucket_interval_admit" => checks(
            &TokenBucket::<NANOS>::new(admit_quota(), RefillMode::Interval).unwrap(),
            n,
        ),
        "fixed_window_admit" => checks(&FixedWindow::<NANOS>::new(windows).unwrap(), n),
        "fixed_window_deny" => denials(&FixedWindow::<NANOS>::new(deny_quota()).unwrap(), n),
        "sliding_window_admit" => checks(&SlidingWindow::<NANOS>::new(windows).unwrap(), n),
        _ => denials(&SlidingWindow::<NANOS>::new(deny_quota()).unwrap(), n),
    }
}

const SHAPES: &[&str] = &[
    "harness",
    "fetch_add",
    "hand_gcra",
    "governor_admit",
    "governor_deny",
    "governor_deny_answer",
    "gcra_admit",
    "gcra_admit_whole",
    "gcra_admit_100_per_minute",
    "gcra_admit_100_per_minute_whole",
    "gcra_admit_call",
    "gcra_deny",
    "gcra_deny_whole",
    "gcra_deny_answer",
    "wordref_admit",
    "hand_gcra_deny",
    "packed_gcra_admit",
    "packed_gcra_deny",
    "token_bucket_admit",
    "token_bucket_deny",
    "token_bucket_interval_admit",
    "fixed_window_admit",
    "fixed_window_deny",
    "sliding_window_admit",
    "sliding_window_deny",
    "tiers_admit",
    "tiers_admit_100_per_minute",
    "tiers_deny",
    "typed_tiers_admit",
    "typed_tiers_admit_100_per_minute",
    "typed_tiers_deny",
    "log_limit_emit",
    "log_limit_suppress",
    "keyed_hit_25",
    "keyed_hit_50",
    "keyed_hit_75",
    "keyed_insert",
    "key_hash_alone",
    "keyed_tiers_hit_25",
    "keyed_tiers_deny_25",
    "keyed_tiers_hit_25_seeds_apart",
    "keyed_tiers_deny_25_seeds_apart",
];

const USAGE: &str = "usage: instructions SHAPE N | list | ratios ROUNDS N REFERENCE SHAPE...";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("list") => {
            for shape in SHAPES {
                println!("{shape}");
            }
        }
        Some("ratios") => ratios(args.get(2..).unwrap_or_default()),
        _ => {
            let (Some(shape), Some(n)) =
                (args.get(1), args.get(2).and_then(|n| n.parse::<u64>().ok()))
            else {
                exit_with(USAGE);
            };
            run(shape, n);
        }
    }
}

fn exit_with(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(2);
}

/// `instructions ratios ROUNDS N REFERENCE SHAPE...` (see the crate docs).
fn ratios(args: &[String]) {
    let number = |i: usize| args.get(i).and_then(|v| v.parse::<u64>().ok());
    let (Some(rounds), Some(n), Some(reference)) = (number(0), number(1), args.get(2)) else {
        exit_with(USAGE);
    };
    if rounds == 0 || n == 0 {
        exit_with("ROUNDS and N must be at least 1");
    }
    let shapes: Vec<&str> = std::iter::once(reference.as_str())
        .chain(args.iter().skip(3).map(String::as_str))
        .collect();
    for shape in &shapes {
        if !SHAPES.contains(shape) {
            exit_with(&format!(
                "unknown shape {shape}; `instructions list` prints them"
            ));
        }
    }
    // Per shape, its time per operation (ns) in each round.
    let mut times = vec![Vec::new(); shapes.len()];
    for round in 0..rounds {
        let first = usize::try_from(round).unwrap_or(0) % shapes.len();
        for k in 0..shapes.len() {
            let i = (first + k) % shapes.len();
            let start = ratecore_bench::thread_cpu_time();
            run(shapes[i], n);
            let spent = ratecore_bench::thread_cpu_time().saturating_sub(start);
            times[i].push(spent.as_secs_f64() * 1e9 / n as f64);
        }
    }
    println!(
        "shape                                ns/op   ratio to {reference}: median [quartiles]"
    );
    for (shape, own) in shapes.iter().zip(&times) {
        let ratios: Vec<f64> = own.iter().zip(&times[0]).map(|(a, b)| a / b).collect();
        let [low, median, high] = quartiles(ratios);
        let [_, ns, _] = quartiles(own.clone());
        println!("{shape:<36} {ns:6.2}   {median:.3} [{low:.3}, {high:.3}]");
    }
}

/// The lower quartile, the median and the upper quartile of `values`
/// (nearest rank).
fn quartiles(mut values: Vec<f64>) -> [f64; 3] {
    values.sort_by(f64::total_cmp);
    let at = |q: usize| {
        values
            .get((values.len().saturating_sub(1)) * q / 4)
            .copied()
            .unwrap_or(f64::NAN)
    };
    [at(1), at(2), at(3)]
}

/// Runs `shape` `n` times.
fn run(shape: &str, n: u64) {
    match shape {
        "harness" => {
            // The loop of the limiter shapes with no check in it: an opaque
            // reference and an opaque instant in, a `bool` out, as
            // `gcra_admit` has them. Subtracted from a shape, it leaves
            // about what the check itself costs.
            let word = AtomicU64::new(0);
            repeat(n, || {
                let address = core::ptr::from_ref(black_box(&word)).addr() as u64;
                address != black_box(at(NOW)).as_ticks()
            });
        }
        "fetch_add" => {
            let word = AtomicU64::new(0);
            repeat(n, || black_box(&word).fetch_add(1, Ordering::Relaxed));
        }
        "hand_gcra" => {
            let word = AtomicU64::new(0);
            repeat(n, || {
                hand_gcra(black_box(&word), black_box(NOW), 1, u64::MAX / 2)
            });
        }
        "governor_admit" | "governor_deny" | "governor_deny_answer" => {
            let limiter = if shape == "governor_admit" {
                governor(1_000_000_000, Duration::from_secs(1), u32::MAX)
            } else {
                let l = governor(1, Duration::from_secs(3_600), 1);
                assert!(l.check().is_ok());
                l
            };
            if shape == "governor_deny_answer" {
                repeat(n, || black_box(black_box(&limiter).check()).is_ok());
            } else {
                repeat(n, || black_box(&limiter).check().is_ok());
            }
        }
        "gcra_admit" | "gcra_admit_100_per_minute" | "gcra_deny" => {
            let limiter = gcra_in(shape);
            repeat(n, || {
                black_box(&limiter)
                    .check_n_at(1, black_box(at(NOW)))
                    .is_ok()
            });
        }
        "gcra_deny_answer" => {
            let limiter = gcra_in("gcra_deny");
            repeat(n, || {
                black_box(black_box(&limiter).check_n_at(1, black_box(at(NOW)))).is_ok()
            });
        }
        "gcra_admit_whole" | "gcra_admit_100_per_minute_whole" | "gcra_deny_whole" => {
            let limiter = gcra_in(shape.trim_end_matches("_whole"));
            repeat(n, || {
                whole(black_box(&limiter).check_n_at(1, black_box(at(NOW))))
            });
        }
        "gcra_admit_call" => {
            let limiter = gcra(admit_quota());
            repeat(n, || gcra_is_ok(black_box(&limiter), black_box(at(NOW))));
        }
        "wordref_admit" => {
            static WORD: ratecore::kernel::AtomicU64 = ratecore::kernel::AtomicU64::new(0);
            const CONFIG: GcraConfig<NANOS> = ratecore::const_unwrap!(GcraConfig::new(
                Quota::per_second(1_000_000_000).burst(u32::MAX)
            ));
            repeat(n, || {
                let limiter = WordRef::new(black_box(&WORD), &CONFIG);
                limiter.check_n_at(1, black_box(at(NOW))).is_ok()
            });
        }
        "hand_gcra_deny"
        | "packed_gcra_admit"
        | "packed_gcra_deny"
        | "token_bucket_admit"
        | "token_bucket_deny"
        | "token_bucket_interval_admit"
        | "fixed_window_admit"
        | "fixed_window_deny"
        | "sliding_window_admit"
        | "sliding_window_deny" => one_word(shape, n),
        "tiers_admit"
        | "tiers_admit_100_per_minute"
        | "tiers_deny"
        | "typed_tiers_admit"
        | "typed_tiers_admit_100_per_minute"
        | "typed_tiers_deny" => {
            // Two `Gcra` tiers of the shape's quota (drained before timing
            // for a denial, both of them), behind `dyn Charge` or (typed)
            // of one type, with no call through a pointer.
            let base = shape.trim_start_matches("typed_").replace("tiers", "gcra");
            let (first, second) = (gcra_in(&base), gcra_in(&base));
            if shape.starts_with("typed_") {
                tiers_is_ok(
                    &ratecore::Tiers::new([
                        ratecore::compose::Tier::of("first", &first),
                        ratecore::compose::Tier::of("second", &second),
                    ]),
                    n,
                );
            } else {
                tiers_is_ok(
                    &ratecore::Tiers::new([
                        ratecore::compose::Tier::new("first", &first),
                        ratecore::compose::Tier::new("second", &second),
                    ]),
                    n,
                );
            }
        }
        "log_limit_emit" | "log_limit_suppress" => log_limits(shape, n),
        "keyed_hit_25" => keyed_hits(25, n),
        "keyed_hit_50" => keyed_hits(50, n),
        "keyed_hit_75" => keyed_hits(75, n),
        "keyed_insert" => keyed_inserts(n),
        "key_hash_alone" => key_hashes(n),
        "keyed_tiers_hit_25" => keyed_tiers_hits(25, false, false, n),
        "keyed_tiers_deny_25" => keyed_tiers_hits(25, true, false, n),
        "keyed_tiers_hit_25_seeds_apart" => keyed_tiers_hits(25, false, true, n),
        "keyed_tiers_deny_25_seeds_apart" => keyed_tiers_hits(25, true, true, n),
        _ => exit_with(&format!(
            "unknown shape {shape}; `instructions list` prints them"
        )),
    }
}
