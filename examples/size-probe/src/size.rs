//! What one check costs in flash and RAM.
//!
//! Each wrapper is one complete check (the compare-and-swap loop and the
//! decision, inlined into it) behind a call boundary that the optimizer
//! keeps, so `llvm-nm` of a firmware build shows its size as one symbol; the
//! statics show a limiter's RAM in both forms: self-contained (`Gcra`, the
//! word and its configuration; `PackedGcra`, the same in 24 bytes) and a
//! `static` word with a `const` configuration (`WordRef`, the word alone). A firmware's entry point calls
//! [`exercise`] so that the linker keeps them. `.ci/firmware-size` reads the
//! figures.

use ratecore::algorithms::GcraConfig;
use ratecore::kernel::{Algorithm, AtomicU64, Step, WordRef};
use ratecore::{
    Decision, FixedWindow, Gcra, Instant, Limiter, PackedGcra, Quota, RefillMode, SlidingWindow,
    TokenBucket,
};

/// A 1 MHz timer, a common tick.
pub const HZ: u64 = 1_000_000;

pub static GCRA: Gcra<HZ> = ratecore::const_unwrap!(Gcra::new(Quota::per_second(50).burst(5)));

/// The 8-byte form: a word in RAM, its configuration folded into the code.
pub static GCRA_WORD: AtomicU64 = AtomicU64::new(0);
const GCRA_CONFIG: GcraConfig<HZ> =
    ratecore::const_unwrap!(GcraConfig::new(Quota::per_second(50).burst(5)));

/// The same quota as `GCRA` in 24 bytes: the state word and a 16-byte
/// configuration.
pub static PACKED_GCRA: PackedGcra<HZ> =
    ratecore::const_unwrap!(PackedGcra::new(Quota::per_second(50).burst(5)));

pub static TOKEN_BUCKET: TokenBucket<HZ> = ratecore::const_unwrap!(TokenBucket::new(
    Quota::per_second(50).burst(5),
    RefillMode::Greedy
));

pub static TOKEN_BUCKET_INTERVAL: TokenBucket<HZ> = ratecore::const_unwrap!(TokenBucket::new(
    Quota::per_second(50).burst(5),
    RefillMode::Interval
));

pub static FIXED_WINDOW: FixedWindow<HZ> =
    ratecore::const_unwrap!(FixedWindow::new(Quota::per_second(50)));

pub static SLIDING_WINDOW: SlidingWindow<HZ> =
    ratecore::const_unwrap!(SlidingWindow::new(Quota::per_second(50)));

/// For each limiter type, a check returning the whole answer (its fields
/// are not read: they are divided only when read) and a check of one unit
/// whose caller asks only `is_ok()`, each behind a call boundary.
macro_rules! checks {
    ($($(#[$doc:meta])* $check:ident, $is_ok:ident: $limiter:ty;)*) => {$(
        $(#[$doc])*
        #[doc = "\n\nThe whole answer returned."]
        #[inline(never)]
        pub fn $check(limiter: &$limiter, n: u32, now: Instant<HZ>) -> Decision<HZ> {
            limiter.check_n_at(n, now)
        }

        $(#[$doc])*
        #[doc = "\n\nOne unit, the caller asking only `is_ok()`."]
        #[inline(never)]
        pub fn $is_ok(limiter: &$limiter, now: Instant<HZ>) -> bool {
            limiter.check_at(now).is_ok()
        }
    )*};
}

checks! {
    /// One `Gcra` check.
    gcra_check, gcra_is_ok: Gcra<HZ>;
    /// One `PackedGcra` check. Past the horizon it calls a cold function
    /// that divides: the check's path does not.
    packed_gcra_check, packed_gcra_is_ok: PackedGcra<HZ>;
    /// One `TokenBucket` check (the same code serves both refill modes).
    token_bucket_check, token_bucket_is_ok: TokenBucket<HZ>;
    /// One `FixedWindow` check.
    fixed_window_check, fixed_window_is_ok: FixedWindow<HZ>;
    /// One `SlidingWindow` check.
    sliding_window_check, sliding_window_is_ok: SlidingWindow<HZ>;
}

/// The decision of one `Gcra` check alone, without the atomic word: what the
/// algorithm costs, apart from the 64-bit atomic (which on ARMv7-M is
/// portable-atomic's lock-based emulation, inlined into every check).
#[inline(never)]
pub fn gcra_decide(config: &GcraConfig<HZ>, state: u64, n: u32, now: Instant<HZ>) -> Step<HZ> {
    config.decide(state, n, now)
}

/// One check of the 8-byte form: `GCRA_WORD` under `GCRA_CONFIG`.
#[inline(never)]
pub fn gcra_ref_check(n: u32, now: Instant<HZ>) -> Decision<HZ> {
    WordRef::new(&GCRA_WORD, &GCRA_CONFIG).check_n_at(n, now)
}

/// One check of one unit of the 8-byte form whose caller asks only `is_ok()`:
/// the firmware case of a `static` word and a `const` configuration.
#[inline(never)]
pub fn gcra_ref_is_ok(now: Instant<HZ>) -> bool {
    WordRef::new(&GCRA_WORD, &GCRA_CONFIG).check_at(now).is_ok()
}

/// Calls every wrapper once, through `black_box` so nothing is folded.
pub fn exercise() -> bool {
    use core::hint::black_box;
    let now = Instant::<HZ>::from_ticks(black_box(1_000));
    let checks = [
        gcra_check(black_box(&GCRA), black_box(1), now).is_ok(),
        gcra_is_ok(black_box(&GCRA), now),
        gcra_ref_check(black_box(1), now).is_ok(),
        gcra_ref_is_ok(now),
        gcra_decide(black_box(&GCRA_CONFIG), black_box(0), black_box(1), now)
            .answer()
            .is_ok(),
        packed_gcra_check(black_box(&PACKED_GCRA), black_box(1), now).is_ok(),
        packed_gcra_is_ok(black_box(&PACKED_GCRA), now),
        token_bucket_check(black_box(&TOKEN_BUCKET), black_box(1), now).is_ok(),
        // The same wrapper on the interval bucket: one check's code serves both modes.
        token_bucket_check(black_box(&TOKEN_BUCKET_INTERVAL), black_box(1), now).is_ok(),
        fixed_window_check(black_box(&FIXED_WINDOW), black_box(1), now).is_ok(),
        sliding_window_check(black_box(&SLIDING_WINDOW), black_box(1), now).is_ok(),
        token_bucket_is_ok(black_box(&TOKEN_BUCKET), now),
        token_bucket_is_ok(black_box(&TOKEN_BUCKET_INTERVAL), now),
        fixed_window_is_ok(black_box(&FIXED_WINDOW), now),
        sliding_window_is_ok(black_box(&SLIDING_WINDOW), now),
    ];
    checks.iter().all(|&ok| ok)
}
