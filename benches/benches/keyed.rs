//! A keyed check that finds its key: ratecore's `KeyedLimiter` against
//! governor's keyed limiter (a `DashMap` of GCRA cells), a direct `Gcra`
//! check and a bare `fetch_add`, in the same run. See `src/lib.rs` for the
//! harness and its fairness rules, and the README's "Performance" section
//! for results.
//!
//! A bench of its own: in the binary of `benches/check.rs`, governor's keyed
//! code shares functions with its direct limiter (the state's
//! `measure_and_replace`, the fake clock's `now`), which the compiler then
//! stops inlining into the direct check.
//!
//! Each table is filled to a share of 1,024 slots with the keys
//! `ratecore_bench::filled_table` takes (governor's map gets the same keys),
//! and each thread cycles through them. What each contender does per call:
//!
//! - `ratecore::KeyedLimiter`: `check_at(&key, Plan::FIRST, now)`, with its
//!   whole answer: SipHash-1-3 of the key under the table's secret seed, a
//!   look-up in its window, one 128-bit load and compare-and-swap.
//! - `governor keyed`: `check_key(&key)` on its `FakeRelativeClock`: the
//!   `DashMap` shard's read lock, a hash-map look-up (SipHash-1-3 under std's
//!   `RandomState`), and the cell's GCRA compare-and-swap.
//! - `ratecore::Gcra`: one direct check, the floor a keyed check adds to.
//! - `ratecore::KeyedTiers`: two such tables (the same keys in each) as the
//!   two tiers of a `KeyedTiers`, `check_at(&key, Plan::FIRST, now)`: a peek
//!   and a charge in each table, all or nothing.
//! - `SipHash-1-3 of the next key alone`: the other floor, what every keyed
//!   check pays before it looks at a slot (std's `RandomState`, whose
//!   hasher is SipHash-1-3 as both tables' are), with the same cycling
//!   through the keys.
//!
//! A second group, `keyed_insert`, times a check that brings a key the table
//! has never held, on one thread, beside a hit in the same run (the ratio
//! issue 13 sets a goal for: an insertion at most 3 hits):
//!
//! - `ratecore::KeyedLimiter insert`: the table has been filled by checking
//!   the keys 0 to 1,023 once each at a quota of one unit per 2 ns (a burst
//!   of 1), so every key it holds is idle 2 ns later; each check brings the
//!   next new key of its thread, 2 ns after the one before, and takes a slot
//!   an idle key leaves (the `keyed_insert` shape of `.ci/instructions`).
//! - `governor keyed insert`: the same new keys into governor's `DashMap`,
//!   which grows by one entry per check (it evicts only when its owner calls
//!   `retain_recent`), so the figure includes the map's amortized growth.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ratecore::keyed::{KeyedTier, KeyedTiers, Plan};
use ratecore::{Gcra, KeyedLimiter, Limiter, time::NANOS};
use ratecore_bench::{Contender, NOW_NANOS, Shape, at, bench_matrix, floor, idle_table, limiter};

/// The shares of the table the keyed contenders are benchmarked at.
const SHARES: [usize; 3] = [25, 50, 75];

/// A table and the keys it holds, which each bench thread cycles through.
struct Keys<T> {
    table: T,
    keys: Vec<u64>,
}

thread_local! {
    /// Each bench thread's position in the key list.
    static NEXT_KEY: Cell<usize> = const { Cell::new(0) };
    /// How many new keys this thread has brought (see [`fresh_key`]).
    static FRESH: Cell<u64> = const { Cell::new(0) };
}

/// The first key an insertion brings: far above the keys a table is filled
/// with, so that each is new to it.
const FRESH_BASE: u64 = 1 << 40;

/// The next new key of this thread, and the instant it is checked at: 2 ns
/// after the one before, when the key before has gone idle. It never
/// repeats, even across samples, so every check of a sample inserts.
fn fresh_key(now: u64) -> (u64, u64) {
    let count = FRESH.with(|fresh| {
        let count = fresh.get() + 1;
        fresh.set(count);
        count
    });
    (FRESH_BASE + count, now + 2 * count)
}

impl<T> Keys<T> {
    /// The next key of this thread's cycle.
    fn next(&self) -> &u64 {
        let i = NEXT_KEY.with(|next| {
            let i = (next.get() + 1) % self.keys.len();
            next.set(i);
            i
        });
        &self.keys[i]
    }
}

/// The per-key quota: one that no sample exhausts (1 per second, a burst of
/// 10^6), or one that the filling check drained (1 per hour, burst 1).
fn per_key(shape: Shape) -> ratecore::Quota {
    if shape.admits() {
        ratecore::Quota::per_second(1).burst(1_000_000)
    } else {
        ratecore::Quota::per_hour(1)
    }
}

type RatecoreKeyed = Keys<Box<KeyedLimiter<Gcra<NANOS>, NANOS, 1_024>>>;

fn ratecore_keyed(shape: Shape, percent: usize) -> RatecoreKeyed {
    let (table, keys) = ratecore_bench::filled_table(per_key(shape), percent);
    Keys { table, keys }
}

type RatecoreKeyedTiers = Keys<KeyedTiers<'static, Gcra<NANOS>, NANOS, 1_024, 1, 2>>;

/// Two tables as [`ratecore_keyed`] fills them, the tiers of a `KeyedTiers`
/// (leaked: a tier borrows its table, and the contender outlives the
/// sample).
fn ratecore_keyed_tiers(shape: Shape, percent: usize) -> RatecoreKeyedTiers {
    let (first, keys) = ratecore_bench::filled_table(per_key(shape), percent);
    let (second, _) = ratecore_bench::filled_table(per_key(shape), percent);
    let (first, second) = (&*Box::leak(first), &*Box::leak(second));
    Keys {
        table: KeyedTiers::new([
            KeyedTier::new("first", first),
            KeyedTier::new("second", second),
        ]),
        keys,
    }
}

type GovernorKeyed = Keys<GovernorMap>;

/// governor's keyed limiter on the keys of ratecore's table at `percent`,
/// each checked once at [`NOW_NANOS`] (so drained in the deny shape).
fn governor_keyed(shape: Shape, percent: usize) -> GovernorKeyed {
    let (_, keys) = ratecore_bench::filled_table(per_key(shape), percent);
    let quota = if shape.admits() {
        governor::Quota::per_second(NonZeroU32::MIN)
            .allow_burst(NonZeroU32::new(1_000_000).expect("non-zero"))
    } else {
        governor::Quota::per_hour(NonZeroU32::MIN)
    };
    let table = governor_map(quota);
    for key in &keys {
        assert!(table.check_key(key).is_ok(), "governor takes key {key}");
    }
    Keys { table, keys }
}

type GovernorMap = governor::RateLimiter<
    u64,
    governor::state::keyed::DashMapStateStore<u64>,
    governor::clock::FakeRelativeClock,
    governor::middleware::NoOpMiddleware<governor::nanos::Nanos>,
>;

/// governor's keyed limiter on `quota`, empty, its fake clock at
/// [`NOW_NANOS`].
fn governor_map(quota: governor::Quota) -> GovernorMap {
    let clock = governor::clock::FakeRelativeClock::default();
    let table = GovernorMap::dashmap_with_clock(quota, clock.clone());
    clock.advance(Duration::from_nanos(NOW_NANOS));
    table
}

/// Checks that bring a new key, beside a hit (see the crate docs).
fn insert_contenders() -> Vec<Box<dyn Contender>> {
    vec![
        limiter(
            "ratecore::KeyedLimiter hit 75% full",
            |s| ratecore_keyed(s, 75),
            |k, now| black_box(k.table.check_at(k.next(), Plan::FIRST, at(now))).is_ok(),
        ),
        limiter(
            "ratecore::KeyedLimiter insert",
            |_| idle_table(),
            |table, now| {
                let (key, now) = fresh_key(now);
                black_box(table.check_at(&key, Plan::FIRST, at(now))).is_ok()
            },
        ),
        limiter(
            "governor keyed (DashMap) hit 75% full",
            |s| governor_keyed(s, 75),
            |k, _| black_box(k.table.check_key(k.next())).is_ok(),
        ),
        limiter(
            "governor keyed (DashMap) insert",
            |_| governor_map(governor::Quota::per_second(NonZeroU32::MIN)),
            |table, now| {
                let (key, _) = fresh_key(now);
                black_box(table.check_key(&key)).is_ok()
            },
        ),
    ]
}

fn contenders() -> Vec<Box<dyn Contender>> {
    let mut all: Vec<Box<dyn Contender>> = vec![
        floor(
            "AtomicU64::fetch_add",
            Shape::ALL,
            |_| AtomicU64::new(0),
            |a, _| black_box(a.fetch_add(1, Ordering::Relaxed)) < u64::MAX,
        ),
        // What a keyed check cannot avoid: taking the next key and hashing
        // it with SipHash-1-3 (std's `RandomState`, the function both
        // tables use), nothing else.
        floor(
            "SipHash-1-3 of the next key alone",
            Shape::ALL,
            |s| Keys {
                table: RandomState::new(),
                keys: ratecore_bench::filled_table(per_key(s), SHARES[0]).1,
            },
            |k, _| black_box(k.table.hash_one(k.next())) != 0,
        ),
        limiter(
            "ratecore::Gcra (direct)",
            |s| Gcra::<NANOS>::new(s.quota()).unwrap(),
            |l, now| black_box(l.check_n_at(1, at(now))).is_ok(),
        ),
        limiter(
            "ratecore::KeyedTiers, 2 tables 25% full",
            |s| ratecore_keyed_tiers(s, SHARES[0]),
            |k, now| black_box(k.table.check_at(k.next(), Plan::FIRST, at(now))).is_ok(),
        ),
    ];
    // The names of a benchmark id are `&'static str`: one per share.
    const RATECORE: [&str; 3] = [
        "ratecore::KeyedLimiter 25% full",
        "ratecore::KeyedLimiter 50% full",
        "ratecore::KeyedLimiter 75% full",
    ];
    const GOVERNOR: [&str; 3] = [
        "governor keyed (DashMap) 25% full",
        "governor keyed (DashMap) 50% full",
        "governor keyed (DashMap) 75% full",
    ];
    for ((percent, ours), theirs) in SHARES.into_iter().zip(RATECORE).zip(GOVERNOR) {
        all.push(limiter(
            ours,
            move |s| ratecore_keyed(s, percent),
            |k, now| black_box(k.table.check_at(k.next(), Plan::FIRST, at(now))).is_ok(),
        ));
        all.push(limiter(
            theirs,
            move |s| governor_keyed(s, percent),
            |k, _| black_box(k.table.check_key(k.next())).is_ok(),
        ));
    }
    all
}

fn benches(c: &mut Criterion) {
    // The keyed quota is its own (`per_key`): the per-minute shape would
    // repeat the admitted one.
    bench_matrix(c, "keyed", Shape::ADMIT_DENY, &[1, 2], &contenders());
    // One thread: the threads' new keys would race for the same idle slots
    // at instants of their own, which is not the shape measured.
    bench_matrix(
        c,
        "keyed_insert",
        &[Shape::Admit],
        &[1],
        &insert_contenders(),
    );
}

criterion_group!(keyed, benches);
criterion_main!(keyed);
