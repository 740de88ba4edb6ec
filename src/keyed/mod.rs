//! Keyed limits: one limiter per key (API key, organization, IP address) in a
//! fixed-capacity, lock-free table.

mod admitted;
mod checks;
mod key_hash;
mod plan;
mod probe;
mod probe_window;
mod reconfigure;
mod saved;
#[cfg(feature = "std")]
mod seed;
mod slot;
mod storage;
mod switch;
mod tiers;

use core::fmt;
use core::hash::Hash;

use crate::answer::{Denied, Status};
use crate::kernel::cas::Next;
use crate::kernel::sync::{AtomicU8, AtomicU64, AtomicU128, Ordering};
use crate::kernel::{Algorithm, Step};
use crate::macros::const_fn;
use crate::time::{Clock, Instant};

pub use crate::answer::TableFull;
pub use admitted::{Admitted, KeyedDecision, WhenFull};
pub use plan::{Plan, PlanError};
pub use saved::SavedSlot;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use seed::random_seed;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use storage::BoxedSlots;
pub use storage::{InlineSlots, SlotStorage};
pub use tiers::{KeyedReceipt, KeyedTier, KeyedTiers};

use key_hash::KeyHash;
use probe::{Found, Reserved, Seen, Settled};
use probe_window::{MAX_WINDOW, Window};
use slot::Id;

/// Where a peek found its key live, for the charge that follows it
/// ([`KeyedLimiter::charge_looked_up`]): the key's identity, its slot, and
/// the slot's word as the peek loaded it.
pub(crate) type LookedUp<'a> = (Id, &'a AtomicU128, u128);

/// A limiter per key, for up to `N` keys at once, in a fixed table with no
/// allocation: per API key, per organization, per IP address.
///
/// Each key has the state of one [`Algorithm`] (a [`Gcra`](crate::Gcra) or a
/// [`TokenBucket`](crate::TokenBucket), say), under one of `P` plans (free,
/// pro, enterprise: one algorithm configuration each), chosen per check with
/// a [`Plan`]. A key that has gone *idle* (its state decides exactly as a
/// fresh limiter's would, now and later: [`Algorithm::is_idle`]) gives its slot
/// up to the next new key, so the table holds the keys that are active, not
/// every key ever seen.
///
/// ```
/// use ratecore::{keyed::Admitted, Denied, Gcra, Instant, KeyedLimiter, keyed::Plan, Quota, keyed::WhenFull, time::MILLIS};
///
/// const FREE: Plan<2> = ratecore::const_unwrap!(Plan::new(0));
/// const PRO: Plan<2> = ratecore::const_unwrap!(Plan::new(1));
///
/// static LIMITS: KeyedLimiter<Gcra<MILLIS>, MILLIS, 1_024, 2> = KeyedLimiter::new(
///     [
///         ratecore::const_unwrap!(Gcra::new(Quota::per_minute(10))),
///         ratecore::const_unwrap!(Gcra::new(Quota::per_minute(1_000).burst(100))),
///     ],
///     // A secret: random per deployment (see "Keys and the seed").
///     [0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344],
///     WhenFull::Deny,
/// );
///
/// let now = Instant::<MILLIS>::from_ticks(0);
/// for _ in 0..10 {
///     assert!(LIMITS.check_at("alice", FREE, now).is_ok());
/// }
/// let Err(Denied::RateLimited(limited)) = LIMITS.check_at("alice", FREE, now) else { panic!() };
/// assert_eq!(limited.retry_after().as_ticks(), 6_000);
/// // Other keys and plans have their own limiters.
/// let Ok(Admitted::Limited(status)) = LIMITS.check_at("bob", PRO, now) else { panic!() };
/// assert_eq!(status.remaining(), 99);
/// ```
///
/// # Exactness
///
/// A key's decisions are those of its own limiter, as if the table were an
/// unbounded map of independent limiters, as long as:
///
/// - every check that needs a slot finds one (below): a check answered by
///   the [`WhenFull`] policy instead records nothing, and the key goes on as
///   a limiter that never saw that check;
/// - no two keys sharing slots have the same 46-bit fingerprint under the seed
///   (below: about one chance in 2^41 per check);
/// - instants do not go backwards (below: a stale reading is never more
///   lenient than a fresh one).
///
/// Reclaiming is exact because an idle state is indistinguishable from a fresh
/// one: a key that returns after its slot went to another key starts from the
/// fresh state, which decides as its own idle state would have. Only idle keys
/// lose their slots: a key whose state is not idle at the reclaiming check's
/// instant is never evicted, whatever other keys do.
///
/// # When the table is full
///
/// A check that must store a state for a key that has no slot (a new key, or
/// one whose slot was reclaimed) looks for a free or idle slot in the key's
/// *probe window*: two groups of 16 slots chosen by the key's hash (the whole
/// table if `N <= 32`). If all of them hold keys that are still active, the
/// [`WhenFull`] policy answers: [`Denied::TableFull`] or
/// [`Admitted::Unlimited`]; either way nothing is recorded and
/// [`full_count`](Self::full_count) counts it. Checks that store nothing
/// (denials, `n = 0`, peeks, refunds) never need a slot.
///
/// With random keys, the first full window appears at a median occupancy of
/// 93% (1st percentile 88%) in a table of 1,024 slots, 88% (86%) in one of
/// 65,536; a table of at most 32 slots fills completely. Size `N` for the
/// number of keys active at once (a key is active from its first admitted
/// unit until its limiter is full again), with that headroom.
///
/// # Keys and the seed
///
/// Keys are hashed with SipHash-1-3 (the `siphasher` crate without its
/// `std` feature; the function std's `HashMap` uses) keyed by the 128-bit
/// `seed` given to [`new`](Self::new): its 64-bit output for a table of up
/// to 8,192 slots (46 bits for the fingerprint, the other 18 for the window),
/// its 128-bit output above (a 64-bit half for each), so that a key's
/// fingerprint is independent of its window whatever `N`. Attackers choose
/// keys; as long as the seed is secret and random, they cannot aim keys at
/// one window or forge fingerprint collisions.
/// Generate it once per deployment (a build-time random constant for a
/// `static`), or build the table at start-up from the operating system's
/// randomness. A fixed public seed, as in these examples, is for tests.
/// The tables of one [`KeyedTiers`] may share a seed, and should: a check
/// then hashes its key once for all of them.
///
/// A key is stored as 46 bits of its hash plus its plan, not as itself: two
/// keys that share a slot of their windows and whose fingerprints are equal
/// would share one state. For a check that compares against at most 32
/// slots, that is a chance below 2^-41. (The slot's other 8 bits name the
/// configuration its state is under: see
/// [`reconfigure_at`](KeyedLimiter::reconfigure_at).)
///
/// # Memory and probe bound
///
/// 17 bytes per slot (one 128-bit word: the key's 64-bit tag and the
/// algorithm's 64-bit state; and a one-byte hint of the key's tag, a filter
/// for look-ups), rounded up to a multiple of 16, plus the `P` algorithm
/// configurations (a [`Gcra`](crate::Gcra) is 48 bytes) and 48 bytes: with
/// `N = 1_024` and one `Gcra` plan, 17,504 bytes. A check of a key that is in
/// the table reads the hints of its window up to the key's slot (at most 32
/// bytes), loads only the slots whose hint is its key's (one, unless another
/// key of the window shares the 8-bit hint: about one slot in 255), and makes
/// one compare-and-swap (more only when it races another check of the same
/// key). A check that inserts a key reads the hints, loads its window up to
/// the first free slot and reserves it, then loads the whole window once
/// (the duplicate check, whose view also confirms the choice of slot) and
/// makes the reservation live already charged: two compare-and-swaps. When
/// the other group of the window has more room, the reservation moves there:
/// that group's words up to its first free slot, a second load of the window
/// (the new reservation's duplicate check) and two more compare-and-swaps. A
/// refused check loads the window once.
///
/// # Stack and heap
///
/// [`new`](Self::new) makes the whole table as one value, slots inline. In a
/// `static` it is placed by the compiler and costs no stack at all. Built at
/// run time (`let`, `Box::new`, `Arc::new`), it is a temporary on the stack
/// first, often more than once in a debug build: `size_of` the table, with
/// one `Gcra` plan (tests/keyed_boxed.rs checks these figures on x86_64):
///
/// | `N` | 1 | 32 | 1,024 | 4,096 | 65,536 |
/// | --- | ---: | ---: | ---: | ---: | ---: |
/// | bytes | 128 | 640 | 17,504 | 69,728 | 1,114,208 |
///
/// A spawned thread has 2 MiB of stack by default, an async task often less.
/// For large tables built at run time, use `KeyedLimiter::new_boxed` (the
/// `alloc` feature): the slots are allocated one by one on the heap, and the
/// table value (a `BoxedKeyedLimiter`, 120 bytes with one `Gcra` plan,
/// whatever `N`) holds pointers to them. Seed it with `keyed::random_seed`
/// (the `std` feature).
///
/// # Progress
///
/// Lock-free where the target has a native 128-bit compare-and-swap
/// ([`is_lock_free`](Self::is_lock_free): x86_64 with `cmpxchg16b`, detected
/// at run time, aarch64, ...): a check retries only because another check
/// changed a slot it looked at, and a stalled insertion is finished by the
/// next check of the same key. Elsewhere the words go through
/// portable-atomic's fallback, as 64-bit words do on 32-bit targets (see the
/// crate's progress table).
///
/// On x86_64, a build that assumes `cmpxchg16b` (`-C
/// target-cpu=x86-64-v2` or later, or `-C target-feature=+cmpxchg16b`)
/// makes each 128-bit load and compare-and-swap an inline instruction
/// rather than a call through portable-atomic's run-time check: about 17
/// instructions and 1 to 3 ns less per check in the README's benches.
///
/// Why one 128-bit word rather than a key word and a state word: with two
/// words, a check that read the key word may compare-and-swap the state word
/// after the slot has passed to another key, charging the wrong key. Keeping
/// that out needs either a reader count in the key word (three
/// read-modify-writes per check, and a reclaim cannot tell a state that went
/// non-idle and back from one that stayed idle) or an unbounded tag. One word
/// makes every decision and every reclaim a single compare-and-swap of key and
/// state together.
///
/// # Stale readings
///
/// Under contention a caller's `now` may be older than an instant another
/// thread already used. For a single limiter that can only make a decision
/// stricter. A table adds a way to be looser: a key reclaimed by a check at a
/// later instant `r` lost a state that was idle at `r` but maybe not at the
/// stale `now`, and a fresh state decided at `now` would grant that
/// difference again. A change of plan ([`reconfigure_at`](Self::reconfigure_at))
/// is the same: it carries each state to the new configuration counted at
/// an instant `c`, and a check at an older `now` decided on that state would
/// count again what drained before `c`. So the table keeps the latest
/// instant at which it reclaimed a key or carried a plan's keys, its
/// *floor* ([`floor`](Self::floor)), and decides every check at the floor
/// when that is later than `now`. The floor is an instant some caller
/// already read from the clock, so a decision there is never more lenient
/// than a caller reading the clock afresh; and it never exceeds the latest
/// instant given to the table, so while instants do not go backwards, every
/// decision is made at exactly `now`.
pub struct KeyedLimiter<
    A,
    const HZ: u64,
    const N: usize,
    const P: usize = 1,
    S: SlotStorage<N> = InlineSlots<N>,
> {
    plans: [A; P],
    seed: [u64; 2],
    when_full: WhenFull,
    /// The latest instant (ticks) at which a key was reclaimed or a plan's
    /// keys were carried: see "Stale readings".
    floor: AtomicU64,
    /// Checks answered by the `when_full` policy.
    full: AtomicU64,
    /// Per plan, its index XOR the index of the configuration it is under
    /// (`0`: its own), changed by `reconfigure_at`.
    routes: [AtomicU8; P],
    /// The latest instant (ticks) a check has been made at, kept when there
    /// is more than one configuration (see `reconfigure_at`).
    seen: AtomicU64,
    slots: S,
}

/// A [`KeyedLimiter`] whose slots are on the heap, built by
/// [`KeyedLimiter::new_boxed`]: for large tables made at run time.
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub type BoxedKeyedLimiter<A, const HZ: u64, const N: usize, const P: usize = 1> =
    KeyedLimiter<A, HZ, N, P, BoxedSlots<N>>;

impl<A, const HZ: u64, const N: usize, const P: usize> KeyedLimiter<A, HZ, N, P> {
    const_fn! {
        /// An empty table of `N` slots for keys under the `P` algorithm
        /// configurations in `plans` (index `i` is [`Plan::new(i)`](Plan::new)),
        /// hashing keys with the secret `seed`, and answering `when_full` when a
        /// new key finds no room.
        ///
        /// `N` must be at least 1 and `P` from 1 to 256: anything else is a
        /// compile error.
        pub const fn new(plans: [A; P], seed: [u64; 2], when_full: WhenFull) -> Self {
            Self::assemble(plans, seed, when_full, InlineSlots::vacant())
        }
    }
}

#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
impl<A, const HZ: u64, const N: usize, const P: usize> KeyedLimiter<A, HZ, N, P, BoxedSlots<N>> {
    /// An empty table as [`new`](KeyedLimiter::new) makes it, with its `N`
    /// slots on the heap, made slot by slot: building it puts no
    /// `17 * N`-byte value on the stack, whatever the optimization level.
    /// The table itself is small (see
    /// [Stack and heap](KeyedLimiter#stack-and-heap)), so moving it into an
    /// `Arc` or a `Box` costs nothing either.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ratecore::keyed::{BoxedKeyedLimiter, Plan, WhenFull, random_seed};
    /// use ratecore::{Gcra, Instant, Quota, time::MILLIS};
    ///
    /// // 65,536 keys (1.06 MiB of slots), built at start-up with a fresh seed.
    /// let table: Arc<BoxedKeyedLimiter<Gcra<MILLIS>, MILLIS, 65_536>> =
    ///     Arc::new(BoxedKeyedLimiter::new_boxed(
    ///         [Gcra::new(Quota::per_minute(60)).unwrap()],
    ///         random_seed(),
    ///         WhenFull::Deny,
    ///     ));
    /// assert!(table.check_at("alice", Plan::FIRST, Instant::from_ticks(0)).is_ok());
    /// ```
    ///
    /// `N` must be at least 1 and `P` from 1 to 256: anything else is a
    /// compile error.
    pub fn new_boxed(plans: [A; P], seed: [u64; 2], when_full: WhenFull) -> Self {
        Self::assemble(plans, seed, when_full, BoxedSlots::vacant())
    }
}

impl<A, const HZ: u64, const N: usize, const P: usize, S: SlotStorage<N>>
    KeyedLimiter<A, HZ, N, P, S>
{
    const_fn! {
        /// An empty table over `slots` (all vacant): what every constructor
        /// builds, with the checks of `N` and `P` at compile time.
        const fn assemble(plans: [A; P], seed: [u64; 2], when_full: WhenFull, slots: S) -> Self {
            const {
                assert!(N >= 1, "a keyed table needs at least one slot");
                assert!(P >= 1 && P <= 256, "a keyed table has 1 to 256 plans");
            }
            Self {
                plans,
                seed,
                when_full,
                floor: AtomicU64::new(0),
                full: AtomicU64::new(0),
                routes: reconfigure::own_routes(),
                seen: AtomicU64::new(0),
                slots,
            }
        }
    }

    /// The number of slots, `N`: the most keys held at once.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// The most slots a key may use: `min(N, 32)`, or less for a key whose
    /// groups include a short last group when `N` is not a multiple of 16.
    pub const fn probe_window(&self) -> usize {
        if N < MAX_WINDOW { N } else { MAX_WINDOW }
    }

    /// The configuration of every plan, by index.
    pub const fn plans(&self) -> &[A; P] {
        &self.plans
    }

    /// The policy for checks that find no room.
    pub const fn when_full(&self) -> WhenFull {
        self.when_full
    }

    /// How many checks so far found no room for their key and were answered
    /// by the [`WhenFull`] policy.
    pub fn full_count(&self) -> u64 {
        // Relaxed: a statistic; it orders nothing.
        self.full.load(Ordering::Relaxed)
    }

    /// The table's floor: the latest instant at which a check reclaimed an
    /// idle key's slot or a change of plan carried its keys (tick 0 before
    /// any). A check at an earlier instant is decided at the floor instead
    /// (see "Stale readings"), so the instant a check is decided at is the
    /// later of its own and the floor it found.
    ///
    /// ```
    /// use ratecore::keyed::{Plan, WhenFull};
    /// use ratecore::{Gcra, Instant, KeyedLimiter, Quota};
    ///
    /// // One slot, one request per second: a key is idle a second after it.
    /// let table: KeyedLimiter<Gcra<1_000>, 1_000, 1> =
    ///     KeyedLimiter::new([Gcra::new(Quota::per_second(1)).unwrap()], [1, 2], WhenFull::Deny);
    /// let at = Instant::<1_000>::from_ticks;
    /// assert!(table.check_at("a", Plan::FIRST, at(0)).is_ok());
    /// assert_eq!(table.floor(), at(0));
    /// // "b" takes the slot "a" left idle, at 5 s.
    /// assert!(table.check_at("b", Plan::FIRST, at(5_000)).is_ok());
    /// assert_eq!(table.floor(), at(5_000));
    /// // Every reclaim raises it: "c" takes the slot "b" left, at 9 s.
    /// assert!(table.check_at("c", Plan::FIRST, at(9_000)).is_ok());
    /// assert_eq!(table.floor(), at(9_000));
    /// ```
    pub fn floor(&self) -> Instant<HZ> {
        // Relaxed: a reading for the caller; it orders nothing.
        Instant::<HZ>::from_ticks(self.floor.load(Ordering::Relaxed))
    }

    /// Whether the table's operations are lock-free on this machine (a native
    /// 128-bit compare-and-swap), rather than going through portable-atomic's
    /// fallback.
    pub fn is_lock_free() -> bool {
        AtomicU128::is_lock_free()
    }

    // Inlined: returned through registers, not a 40-byte value in memory.
    #[inline(always)]
    fn locate<K: Hash + ?Sized>(&self, key: &K, plan: Plan<P>) -> (Id, Window) {
        key_hash::locate::<K, N>(self.seed, key, plan.byte())
    }

    /// The keyed hash of `key` in this table, before [`locate`](Self::locate)
    /// splits it.
    #[inline(always)]
    pub(crate) fn hash<K: Hash + ?Sized>(&self, key: &K) -> KeyHash {
        key_hash::hash::<K, N>(self.seed, key)
    }

    /// Whether `other` hashes every key as this table does: the same seed
    /// (and, by its type, the same `N`), so that one [`hash`](Self::hash)
    /// serves both (see [`KeyedTiers`]).
    pub(crate) fn hashes_as(&self, other: &Self) -> bool {
        self.seed == other.seed
    }

    /// The instant a decision is made at: `now`, or the floor if that
    /// is later. Load it after the look-up whose result the decision uses.
    fn at(&self, now: Instant<HZ>) -> Instant<HZ> {
        // Relaxed: ordered by the acquire (or SeqCst) loads of the look-up
        // before it, which synchronize with the claims that raised it (see
        // `probe`).
        let floor = Instant::<HZ>::from_ticks(self.floor.load(Ordering::Relaxed));
        if floor > now { floor } else { now }
    }

    /// The configuration `plan` is under now (its own, unless reconfigured).
    fn route(&self, plan: Plan<P>, ordering: Ordering) -> usize {
        let offset = self
            .routes
            .get(plan.index())
            .map_or(0, |route| route.load(ordering));
        plan.index() ^ usize::from(offset)
    }

    /// The algorithm a found key's state is under, or for an absent key the
    /// one its plan is under now; and the state (fresh if absent).
    fn state_of(&self, found: &Found<'_>, plan: Plan<P>) -> (Option<&A>, u64) {
        match *found {
            Found::Live { word, .. } => (self.plans.get(slot::config(word)), slot::state(word)),
            // Relaxed: a look at a key that stores nothing.
            Found::Absent => (self.plans.get(self.route(plan, Ordering::Relaxed)), 0),
        }
    }

    /// Keeps `seen` at or after `now` before a check that may store, when
    /// there are several configurations; and the ordering its store needs
    /// (see `reconfigure_at`).
    fn saw(&self, now: Instant<HZ>) -> Ordering {
        if P < 2 {
            return Ordering::Relaxed;
        }
        // Relaxed: ordered for `reconfigure_at` by the release of the store
        // that follows (the returned ordering).
        if self.seen.load(Ordering::Relaxed) < now.as_ticks() {
            self.seen.fetch_max(now.as_ticks(), Ordering::Relaxed);
        }
        Ordering::Release
    }

    fn refuse(&self, window: &Window) -> KeyedDecision<HZ> {
        // Relaxed: a statistic; it orders nothing.
        self.full.fetch_add(1, Ordering::Relaxed);
        match self.when_full {
            WhenFull::Deny => Err(Denied::TableFull(TableFull {
                window: u32::try_from(window.len()).unwrap_or(u32::MAX),
            })),
            WhenFull::Allow => Ok(Admitted::Unlimited),
        }
    }
}

impl<A: Algorithm<HZ>, const HZ: u64, const N: usize, const P: usize, S: SlotStorage<N>>
    KeyedLimiter<A, HZ, N, P, S>
{
    checks::keyed_checks! {
        /// Checks `n` units for `key` under `plan` at `now` and, if they are
        /// admitted, charges them to the key.
        ///
        /// # Errors
        ///
        /// Those of the plan's algorithm ([`Denied::RateLimited`] with the exact
        /// `retry_after`, [`Denied::ExceedsBurst`]), and [`Denied::TableFull`] when
        /// the key needs a slot, none is free and the policy is [`WhenFull::Deny`].
        #[inline]
        fn check_n_at(&self, key, plan, n, now) -> KeyedDecision<HZ> {
            self.charge(key, plan, n, now).0
        }
    }

    /// [`check_n_at`](Self::check_n_at), with a receipt that
    /// [`undo`](Self::undo) takes back exactly: what all-or-nothing
    /// [`KeyedTiers`] are built on.
    ///
    /// # Errors
    ///
    /// As [`check_n_at`](Self::check_n_at).
    pub fn charge_n_at<K: Hash + ?Sized>(
        &self,
        key: &K,
        plan: Plan<P>,
        n: u32,
        now: Instant<HZ>,
    ) -> Result<(Admitted<HZ>, KeyedReceipt<'_>), Denied<HZ>> {
        let (decision, receipt) = self.charge(key, plan, n, now);
        decision.map(|admitted| (admitted, receipt))
    }

    /// [`charge_n_at`](Self::charge_n_at) of `key`, which a
    /// [`peek_looked_up`](Self::peek_looked_up) just found `live` (or did
    /// not): no second hash and no second look-up for a key it found. Its
    /// slot and word are a hit's: a word changed since fails the
    /// compare-and-swap, which decides again on the word it finds (as a hit
    /// that lost a race does). A key the peek did not find live, or that
    /// was reclaimed since, takes the whole check (a look-up, or an
    /// insertion, which costs far more than the hash it repeats).
    #[inline(always)]
    pub(crate) fn charge_looked_up<'a, K: Hash + ?Sized>(
        &'a self,
        key: &K,
        live: Option<LookedUp<'a>>,
        plan: Plan<P>,
        n: u32,
        now: Instant<HZ>,
    ) -> Result<(Admitted<HZ>, KeyedReceipt<'a>), Denied<HZ>> {
        if let Some((id, slot, word)) = live {
            let stored = self.saw(now);
            if let Some((decision, receipt)) = self.apply(slot, word, id, stored, n, now) {
                return decision.map(|admitted| (admitted, receipt));
            }
        }
        self.charge_n_at(key, plan, n, now)
    }

    /// Takes back the units of `receipt`'s charge: the state the charge
    /// replaced is restored if the key's slot still holds the state the
    /// charge stored; otherwise the units are taken back only as far as the
    /// plan's [`Algorithm::take_back`] says is safe, else the charge is kept
    /// (stricter, never looser). Returns whether the units were given back.
    ///
    /// A key's slot passes to another key (or a new copy of the same key)
    /// only once its state is idle, at a later instant than any charge in it,
    /// and such a reclaim raises the table's floor past the charge's instant:
    /// an undo that finds the floor past its charge's instant restores
    /// nothing exactly, so that it cannot give back units of a copy made
    /// since. A change of plan raises the floor too: a charge made before
    /// one is kept (stricter).
    pub fn undo(&self, receipt: KeyedReceipt<'_>) -> bool {
        let Some(slot) = receipt.slot else {
            return true;
        };
        let charge = receipt.charge;
        if charge.before == charge.after {
            return true;
        }
        let Some(algorithm) = self.plans.get(receipt.config) else {
            return false;
        };
        let at = Instant::<HZ>::from_ticks(charge.at);
        let charged = slot::live(receipt.id, receipt.config, charge.after);
        let mut current = charged;
        loop {
            // Relaxed: see `at` (the floor is read after the slot's value
            // that the compare-and-swap below compares against).
            let reclaimed = self.floor.load(Ordering::Relaxed) > charge.at;
            let next = if current == charged && !reclaimed {
                charge.before
            } else if slot::holder(current) == slot::Holder::Live(receipt.id)
                && slot::config(current) == receipt.config
                && !reclaimed
            {
                match algorithm.take_back(slot::state(current), charge.n, at) {
                    Some(next) => next,
                    None => return false,
                }
            } else {
                // Reclaimed: the charge went with an idle state.
                return false;
            };
            // Relaxed both ways, as `probe::update`.
            match slot.compare_exchange(
                current,
                slot::live(receipt.id, receipt.config, next),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }

    /// The decision for `n` units of `key` under `plan` at `now`, changing
    /// nothing (a check that is not made): the first phase of [`KeyedTiers`].
    ///
    /// # Errors
    ///
    /// Those the check would give, but [`Denied::TableFull`]: a key without
    /// a slot is decided as a fresh one.
    pub fn peek_n_at<K: Hash + ?Sized>(
        &self,
        key: &K,
        plan: Plan<P>,
        n: u32,
        now: Instant<HZ>,
    ) -> Result<Status<HZ>, Denied<HZ>> {
        self.peek_looked_up(key, plan, n, now).0
    }

    /// [`peek_n_at`](Self::peek_n_at), and where it found the key live, for
    /// the charge that may follow ([`charge_looked_up`](Self::charge_looked_up)):
    /// the all-or-nothing check of [`KeyedTiers`] hashes and looks up a key
    /// it holds once per table.
    #[inline(always)]
    pub(crate) fn peek_looked_up<K: Hash + ?Sized>(
        &self,
        key: &K,
        plan: Plan<P>,
        n: u32,
        now: Instant<HZ>,
    ) -> (Result<Status<HZ>, Denied<HZ>>, Option<LookedUp<'_>>) {
        self.peek_hashed(self.hash(key), plan, n, now)
    }

    /// [`peek_looked_up`](Self::peek_looked_up) of the key whose
    /// [`hash`](Self::hash) in this table (or in one that
    /// [`hashes_as`](Self::hashes_as) this one) is `hash`.
    #[inline(always)]
    pub(crate) fn peek_hashed(
        &self,
        hash: KeyHash,
        plan: Plan<P>,
        n: u32,
        now: Instant<HZ>,
    ) -> (Result<Status<HZ>, Denied<HZ>>, Option<LookedUp<'_>>) {
        let (id, window) = key_hash::place::<N>(hash, plan.byte());
        let found = probe::find(self.slots.words(), &window, id, &mut Seen::new());
        let at = self.at(now);
        let decision = match self.state_of(&found, plan) {
            (Some(algorithm), state) => algorithm.decide(state, n, at).answer(),
            (None, _) => Ok(unknown_plan()),
        };
        let live = match found {
            Found::Live { slot, word } => Some((id, slot, word)),
            Found::Absent => None,
        };
        (decision, live)
    }

    /// The check, and what it changed.
    #[inline(always)]
    fn charge<K: Hash + ?Sized>(
        &self,
        key: &K,
        plan: Plan<P>,
        n: u32,
        now: Instant<HZ>,
    ) -> (KeyedDecision<HZ>, KeyedReceipt<'_>) {
        let (id, window) = self.locate(key, plan);
        let stored = self.saw(now);
        // A hit, inlined here: the key found through its hints and its
        // decision applied. Anything else (a miss, a stale hint, a race, an
        // insertion) goes on out of line, so that a hit neither builds the
        // full scan's state nor keeps the window in memory, and computes
        // only the address of the slot it matched.
        if let Some((slot, word)) = probe::find_hinted(self.slots.words(), &window, id) {
            if let Some(done) = self.apply(slot, word, id, stored, n, now) {
                return done;
            }
        }
        self.charge_by_scan(id, window, plan, (n, now), stored)
    }

    /// Applies the check of `n` units at `now` to the key `id`, live in
    /// `slot` as `word` (as a look-up found it just now): `None` if the key
    /// was reclaimed meanwhile (look it up again).
    #[inline(always)]
    fn apply<'a>(
        &'a self,
        slot: &'a AtomicU128,
        word: u128,
        id: Id,
        stored: Ordering,
        n: u32,
        now: Instant<HZ>,
    ) -> Option<(KeyedDecision<HZ>, KeyedReceipt<'a>)> {
        // After the look-up that found `word` (see `at`).
        let at = self.at(now);
        // Decided under the configuration the state is under. The step is
        // kept whole until the update is done: only the state to store is
        // taken from it inside the loop.
        let decide = |config: usize, state: u64| match self.plans.get(config) {
            Some(algorithm) => {
                let step = algorithm.decide(state, n, at);
                let next = step.stored();
                Next::new((step, config, state), next)
            }
            // Never: a slot names one of the table's configurations.
            None => Next::Keep((Step::Keep(unknown_plan()), config, state)),
        };
        let (step, config, before) = probe::update(slot, word, id, stored, decide)?;
        let (decision, after) = step.split();
        let receipt = match after {
            Some(after) => KeyedReceipt::new(slot, id, config, (before, after), n, at),
            None => KeyedReceipt::NOTHING,
        };
        Some((decision.map(Admitted::Limited), receipt))
    }

    /// The check of `id` (in `window`) under `plan` after its hints did not
    /// lead to it, or it was reclaimed under the hit: the insertion, whose
    /// settling scan is the look-up (see `probe`), or a full scan of the
    /// window first when that cannot settle it; retried until one attempt
    /// lands.
    #[inline(never)]
    fn charge_by_scan(
        &self,
        id: Id,
        window: Window,
        plan: Plan<P>,
        (n, now): (u32, Instant<HZ>),
        stored: Ordering,
    ) -> (KeyedDecision<HZ>, KeyedReceipt<'_>) {
        let mut seen = Seen::new();
        // Through the hints, the key was not found live: absent, as a guess
        // that `seen` (without words yet) marks. The insertion's settling
        // scan is the look-up then (see "Where a reservation goes" in
        // `probe`); anything the guess cannot settle scans first.
        let mut found = Found::Absent;
        // The group a settling scan sent an early claim to (see
        // `Settled::Moved`): the next reservation is made there.
        let mut moved = None;
        'look: loop {
            match found {
                Found::Live { slot, word } => {
                    if let Some(done) = self.apply(slot, word, id, stored, n, now) {
                        return done;
                    }
                    // Reclaimed while idle, between the look-up and the update.
                }
                Found::Absent => 'absent: {
                    // After the look-up (see `at`).
                    let at = self.at(now);
                    // SeqCst: a first guess for the reservation's
                    // configuration, read before it (see `reconfigure_at`).
                    let config = self.route(plan, Ordering::SeqCst);
                    let Some(algorithm) = self.plans.get(config) else {
                        // `Plan<P>` and every route are below `P`; kept total.
                        return (self.refuse(&window), KeyedReceipt::NOTHING);
                    };
                    let (fresh, next) = algorithm.decide(0, n, at).split();
                    let decided = (config, at);
                    if next.is_none() {
                        if !seen.scanned() {
                            // An absence guessed from the hints: answered
                            // only once a scan confirms it.
                            break 'absent;
                        }
                        // Nothing to store (a denial, `n = 0`): no slot needed.
                        return (fresh.map(Admitted::Limited), KeyedReceipt::NOTHING);
                    }
                    // The routed plan's idleness, built once: the scans
                    // below test every word they load, nearly all under
                    // that plan (`Gcra`: one compare each, where `is_idle`
                    // computed the instant's virtual time per word).
                    let idle = algorithm.idleness(at);
                    let is_idle = |word| {
                        let (under, state) = (slot::config(word), slot::state(word));
                        // One plan: every word is under it (a word's
                        // configuration is always below `P`).
                        if P == 1 || under == config {
                            idle(state)
                        } else {
                            self.plans
                                .get(under)
                                .is_some_and(|plan| plan.is_idle(state, at))
                        }
                    };
                    let reserved = probe::reserve(
                        self.slots.words(),
                        &window,
                        id,
                        (&seen, moved.take()),
                        (config, 0),
                        &self.floor,
                        at.as_ticks(),
                        is_idle,
                    );
                    let (slot, position, reservation, early) = match reserved {
                        Reserved::Slot {
                            slot,
                            position,
                            reservation,
                            early,
                        } => (slot, position, reservation, early),
                        Reserved::Retry => break 'absent,
                        Reserved::Full => return (self.refuse(&window), KeyedReceipt::NOTHING),
                    };
                    let settled = probe::settle_reserved(
                        self.slots.words(),
                        &window,
                        id,
                        (position, reservation, early),
                        is_idle,
                    );
                    if let Settled::Moved(to) = settled {
                        // Reserve again, in the group the settling scan
                        // chose, without another scan first.
                        moved = Some(to);
                        found = Found::Absent;
                        continue 'look;
                    }
                    if let Settled::Won = settled {
                        // Decided after the settling scan (see `probe`), and
                        // promoted already charged, in one compare-and-swap,
                        // under the configuration the plan is under after
                        // the reservation (SeqCst: see `reconfigure_at`).
                        let at = self.at(now);
                        let config = self.route(plan, Ordering::SeqCst);
                        let (decision, next) = if (config, at) == decided {
                            // The same configuration at the same instant:
                            // the same step (`decide` MUST be pure, see
                            // `Algorithm`), so not decided twice.
                            (fresh, next)
                        } else {
                            let Some(algorithm) = self.plans.get(config) else {
                                probe::withdraw(slot, reservation);
                                return (self.refuse(&window), KeyedReceipt::NOTHING);
                            };
                            algorithm.decide(0, n, at).split()
                        };
                        let Some(charged) = next else {
                            probe::withdraw(slot, reservation);
                            return (decision.map(Admitted::Limited), KeyedReceipt::NOTHING);
                        };
                        if probe::promote(slot, reservation, config, charged) {
                            let receipt = KeyedReceipt::new(slot, id, config, (0, charged), n, at);
                            return (decision.map(Admitted::Limited), receipt);
                        }
                    }
                    // Another copy of the key won, a helper made ours live
                    // without our check, or a reconfiguration moved it to
                    // another configuration: look again, and apply the check
                    // to whichever copy is live.
                }
            }
            found = probe::scan(self.slots.words(), &window, id, &mut seen);
        }
    }

    /// The status of `key` under `plan` at `now`, changing nothing: a fresh
    /// limiter's for a key that is not in the table.
    pub fn snapshot_at<K: Hash + ?Sized>(
        &self,
        key: &K,
        plan: Plan<P>,
        now: Instant<HZ>,
    ) -> Status<HZ> {
        let (id, window) = self.locate(key, plan);
        let found = probe::find(self.slots.words(), &window, id, &mut Seen::new());
        match self.state_of(&found, plan) {
            (Some(algorithm), state) => algorithm.status(state, now),
            (None, _) => unknown_plan(),
        }
    }

    /// The status of `key` under `plan` at `clock.now()`. See
    /// [`snapshot_at`](Self::snapshot_at).
    pub fn snapshot<K: Hash + ?Sized>(
        &self,
        key: &K,
        plan: Plan<P>,
        clock: &impl Clock<HZ>,
    ) -> Status<HZ> {
        self.snapshot_at(key, plan, clock.now())
    }

    /// Gives back `n` units to `key` under `plan` at `now` (see
    /// [`Refund`](crate::Refund)) and reports its status. A key that is not
    /// in the table is already full: nothing changes.
    pub fn refund_n_at<K: Hash + ?Sized>(
        &self,
        key: &K,
        plan: Plan<P>,
        n: u32,
        now: Instant<HZ>,
    ) -> Status<HZ> {
        let (id, window) = self.locate(key, plan);
        let mut seen = Seen::new();
        loop {
            match probe::find(self.slots.words(), &window, id, &mut seen) {
                Found::Live { slot, word } => {
                    let refund = |config: usize, state: u64| match self.plans.get(config) {
                        Some(algorithm) => {
                            let next = algorithm.refund(state, n, now);
                            Next::new(algorithm.status(next, now), (next != state).then_some(next))
                        }
                        None => Next::Keep(unknown_plan()),
                    };
                    // Relaxed: a refund raises no instant (see `saw`).
                    if let Some(status) = probe::update(slot, word, id, Ordering::Relaxed, refund) {
                        return status;
                    }
                }
                Found::Absent => {
                    return match self.state_of(&Found::Absent, plan) {
                        (Some(algorithm), state) => algorithm.status(state, now),
                        (None, _) => unknown_plan(),
                    };
                }
            }
        }
    }

    /// Whether `key` under `plan` is idle at `now`: not in the table, or its
    /// state decides as a fresh one's (so its slot may be reclaimed).
    pub fn is_idle_at<K: Hash + ?Sized>(&self, key: &K, plan: Plan<P>, now: Instant<HZ>) -> bool {
        let (id, window) = self.locate(key, plan);
        match probe::find(self.slots.words(), &window, id, &mut Seen::new()) {
            Found::Live { word, .. } => self
                .plans
                .get(slot::config(word))
                .is_none_or(|algorithm| algorithm.is_idle(slot::state(word), now)),
            Found::Absent => true,
        }
    }

    /// How many keys hold a slot and are not idle at `now`: the occupancy
    /// that matters for room. Scans the whole table; under concurrent checks
    /// the count is approximate.
    pub fn occupancy_at(&self, now: Instant<HZ>) -> usize {
        // Each plan's idleness at `now`, built once for the whole table.
        let idle = self.plans.each_ref().map(|plan| plan.idleness(now));
        self.slots
            .words()
            .iter()
            .filter(|slot| {
                // Relaxed: a statistic over independent words.
                let word = slot.load(Ordering::Relaxed);
                match slot::holder(word) {
                    slot::Holder::Live(_) => idle
                        .get(slot::config(word))
                        .is_some_and(|idle| !idle(slot::state(word))),
                    slot::Holder::Inserting(_) => true,
                    slot::Holder::Vacant => false,
                }
            })
            .count()
    }
}

/// The answer for a plan index the table does not have, which a [`Plan<P>`]
/// cannot hold (it is checked below `P` when made): kept only so that every
/// path is total.
const fn unknown_plan<const HZ: u64>() -> Status<HZ> {
    Status::new(0, 0, crate::Duration::<HZ>::from_ticks(0))
}

impl<A: fmt::Debug, const HZ: u64, const N: usize, const P: usize, S: SlotStorage<N>> fmt::Debug
    for KeyedLimiter<A, HZ, N, P, S>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The slots are left out: `N` of them, and the seed is a secret.
        f.debug_struct("KeyedLimiter")
            .field("capacity", &N)
            .field("plans", &self.plans)
            .field("when_full", &self.when_full)
            .field("full_count", &self.full_count())
            .finish_non_exhaustive()
    }
}

/// The table's shape and counters (not its slots, and never the seed).
#[cfg(feature = "defmt")]
impl<A, const HZ: u64, const N: usize, const P: usize, S: SlotStorage<N>> defmt::Format
    for KeyedLimiter<A, HZ, N, P, S>
{
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "KeyedLimiter {{ slots: {=usize}, plans: {=usize}, when_full: {}, full_count: {=u64} }}",
            N,
            P,
            self.when_full,
            self.full_count()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::storage::Sealed as _;
    use super::*;
    use crate::{Gcra, Quota};

    extern crate std;

    const HZ: u64 = 1_000;

    /// A reservation left by a stalled inserter, met by a check with a stale
    /// instant: the check promotes it to the fresh state (helping) and then
    /// decides at the reclaim floor, not at its stale instant, so that it
    /// cannot grant again what a reclaimed copy of the key had used.
    #[test]
    fn a_helped_reservation_is_decided_at_the_floor() {
        // One unit per second, burst 2.
        let gcra = Gcra::<HZ>::new(Quota::per_second(1).burst(2)).unwrap();
        let table = KeyedLimiter::<_, HZ, 2>::new([gcra], [1, 2], WhenFull::Deny);
        let (id, window) = table.locate(&"x", Plan::FIRST);
        // As if a copy of "x" was reclaimed at 1,000 ms and an inserter then
        // reserved a slot for it and stalled.
        table.floor.store(1_000, Ordering::Relaxed);
        let reservation = slot::inserting(id, 0, 0);
        table
            .slots
            .words()
            .get(window.slot(0))
            .unwrap()
            .store(reservation, Ordering::Relaxed);

        let t = Instant::<HZ>::from_ticks;
        assert!(table.check_at(&"x", Plan::FIRST, t(500)).is_ok());
        // Charged at 1,000, not at 500: one unit still out at 1,500.
        assert_eq!(
            table.snapshot_at(&"x", Plan::FIRST, t(1_500)).remaining(),
            1
        );
        assert_eq!(
            table.snapshot_at(&"x", Plan::FIRST, t(2_000)).remaining(),
            2
        );
        assert_eq!(table.occupancy_at(t(1_500)), 1);
    }

    /// The charge of a tier per key uses its peek's look-up: if another
    /// check charged the key in between, the charge decides on the word it
    /// finds, not on the one the peek saw.
    #[test]
    fn a_charge_after_its_peek_decides_on_the_word_it_finds() {
        let gcra = Gcra::<HZ>::new(Quota::per_second(1).burst(5)).unwrap();
        let table = KeyedLimiter::<_, HZ, 64>::new([gcra], [7, 8], WhenFull::Deny);
        let t = Instant::<HZ>::from_ticks(0);
        assert!(table.check_at(&"k", Plan::FIRST, t).is_ok());
        let (peeked, looked_up) = table.peek_looked_up(&"k", Plan::FIRST, 2, t);
        assert_eq!(peeked.map(|status| status.remaining()), Ok(2));
        assert!(looked_up.is_some(), "the peek found the key live");
        // Another check between the peek and the charge.
        assert!(table.check_at(&"k", Plan::FIRST, t).is_ok());
        let (admitted, _) = table
            .charge_looked_up(&"k", looked_up, Plan::FIRST, 2, t)
            .unwrap();
        // 5 - 1 - 1 - 2: the second check counted.
        assert_eq!(admitted.status().map(|status| status.remaining()), Some(1));
        assert_eq!(table.snapshot_at(&"k", Plan::FIRST, t).remaining(), 1);
    }

    /// If the key a peek found was reclaimed before its charge, the charge
    /// looks the key up again (here: no room for it), and leaves the key
    /// that took the slot alone.
    #[test]
    fn a_charge_after_its_peek_finds_the_key_reclaimed() {
        // One window of two slots; burst 1, one unit per second.
        let gcra = Gcra::<HZ>::new(Quota::per_second(1)).unwrap();
        let table = KeyedLimiter::<_, HZ, 2>::new([gcra], [7, 8], WhenFull::Deny);
        let t = Instant::<HZ>::from_ticks;
        assert!(table.check_at(&"a", Plan::FIRST, t(0)).is_ok());
        // Idle at 1,000 ms, but still in its slot for the peek.
        let (peeked, looked_up) = table.peek_looked_up(&"a", Plan::FIRST, 1, t(1_000));
        assert!(peeked.is_ok() && looked_up.is_some());
        // Two new keys fill the window: one of them takes the idle key's slot.
        assert!(table.check_at(&"b", Plan::FIRST, t(1_000)).is_ok());
        assert!(table.check_at(&"c", Plan::FIRST, t(1_000)).is_ok());
        let charged = table.charge_looked_up(&"a", looked_up, Plan::FIRST, 1, t(1_000));
        assert!(matches!(charged, Err(Denied::TableFull(_))), "{charged:?}");
        for key in ["b", "c"] {
            assert_eq!(
                table.snapshot_at(&key, Plan::FIRST, t(1_000)).remaining(),
                0,
                "{key} keeps its charge"
            );
        }
        assert_eq!(table.occupancy_at(t(1_000)), 2);
    }

    /// A key whose hint no longer names it (a stale hint) is missed by a
    /// check's first look-up, which then claims a slot at once: the
    /// settling scan must find the live copy, so the check is applied to
    /// it, not to a second, fresh copy; and a check that stores nothing must
    /// not answer from the fresh state.
    #[test]
    fn a_stale_hint_neither_duplicates_a_key_nor_forgets_its_state() {
        // Burst 2, one unit per second: two units at 0 ms use it all.
        let gcra = Gcra::<HZ>::new(Quota::per_second(1).burst(2)).unwrap();
        let table = KeyedLimiter::<_, HZ, 64>::new([gcra], [5, 6], WhenFull::Deny);
        let t = Instant::<HZ>::from_ticks;
        assert!(table.check_n_at(&"x", Plan::FIRST, 2, t(0)).is_ok());
        let slots = table.slots.words();
        let stale = |table: &KeyedLimiter<_, HZ, 64>| {
            for hint in table.slots.words().hints {
                hint.store(0, Ordering::Relaxed);
            }
        };
        stale(&table);
        // `n = 0` stores nothing: its status is the live state's (nothing
        // left), not a fresh key's (2 left).
        let Ok(Admitted::Limited(status)) = table.check_n_at(&"x", Plan::FIRST, 0, t(0)) else {
            panic!("n = 0 is admitted");
        };
        assert_eq!(status.remaining(), 0);
        stale(&table);
        // A check that would store: denied by the live state (a fresh copy
        // would admit it).
        assert!(table.check_at(&"x", Plan::FIRST, t(0)).is_err());
        assert_eq!(table.occupancy_at(t(0)), 1);
        let held = slots
            .iter()
            .filter(|slot| slot.load(Ordering::Relaxed) != slot::VACANT)
            .count();
        assert_eq!(held, 1, "one slot for the key, none left reserved");
    }

    /// A check's first look-up claims the first free slot of the window; if
    /// the other group has more room, the power of two choices sends the key
    /// there instead, and the early claim is withdrawn.
    #[test]
    fn an_early_claim_moves_to_the_group_with_more_room() {
        let gcra = Gcra::<HZ>::new(Quota::per_second(1).burst(2)).unwrap();
        let table = KeyedLimiter::<_, HZ, 64>::new([gcra], [7, 8], WhenFull::Deny);
        let (id, window) = table.locate(&"y", Plan::FIRST);
        let slots = table.slots.words();
        let [one, two] = window.groups();
        // The first group: its first slot free, every other one held by a
        // busy key (a state far ahead of now); the second group: all free.
        for (n, index) in one.clone().enumerate().skip(1) {
            let other = Id::new(n as u64 + 1_000, 0);
            slots.words[index].store(slot::live(other, 0, u64::MAX / 2), Ordering::Relaxed);
        }
        let t = Instant::<HZ>::from_ticks;
        assert!(table.check_at(&"y", Plan::FIRST, t(0)).is_ok());
        // One free slot against sixteen: the first free slot of the second
        // group.
        let word = slots.words[two.start].load(Ordering::Relaxed);
        assert_eq!(slot::holder(word), slot::Holder::Live(id));
        assert_eq!(slots.words[one.start].load(Ordering::Relaxed), slot::VACANT);
        assert_eq!(table.occupancy_at(t(0)), 16);
        // The key is found there by its next check.
        assert!(table.check_at(&"y", Plan::FIRST, t(0)).is_ok());
        assert!(table.check_at(&"y", Plan::FIRST, t(0)).is_err());
    }

    /// A look-up whose hints lead to a stalled reservation of its key
    /// helps it (makes it live) before answering, rather than answering from
    /// the hints that the key is absent.
    #[test]
    fn a_hinted_reservation_is_helped_by_a_look_up() {
        let gcra = Gcra::<HZ>::new(Quota::per_second(1).burst(2)).unwrap();
        let table = KeyedLimiter::<_, HZ, 2>::new([gcra], [1, 2], WhenFull::Deny);
        let (id, window) = table.locate(&"x", Plan::FIRST);
        let index = window.slot(1);
        let slots = table.slots.words();
        slots.words[index].store(slot::inserting(id, 0, 0), Ordering::Relaxed);
        slots.hints[index].store(slot::hint(id), Ordering::Relaxed);
        let t = Instant::<HZ>::from_ticks;
        assert_eq!(table.snapshot_at(&"x", Plan::FIRST, t(0)).remaining(), 2);
        let word = slots.words[index].load(Ordering::Relaxed);
        assert_eq!(slot::holder(word), slot::Holder::Live(id));
    }

    /// A `GcraConfig` whose idleness test first raises the floor of the
    /// table in [`RAISED`] to 2,000 ms: a reclaim by another thread, landing
    /// while an insertion's scans judge the words they load.
    #[derive(Debug)]
    struct RaisesFloor(crate::algorithms::GcraConfig<HZ>);

    /// The table whose floor [`RaisesFloor`] raises, once set.
    static RAISED: std::sync::OnceLock<&'static KeyedLimiter<RaisesFloor, HZ, 2>> =
        std::sync::OnceLock::new();

    impl Algorithm<HZ> for RaisesFloor {
        const NAME: &'static str = "raises-floor";

        fn fingerprint(&self) -> u64 {
            self.0.fingerprint()
        }

        fn decide(&self, state: u64, n: u32, now: Instant<HZ>) -> Step<HZ> {
            self.0.decide(state, n, now)
        }

        fn status(&self, state: u64, now: Instant<HZ>) -> Status<HZ> {
            self.0.status(state, now)
        }

        fn refund(&self, state: u64, n: u32, now: Instant<HZ>) -> u64 {
            self.0.refund(state, n, now)
        }

        fn idle_after(&self, state: u64, now: Instant<HZ>) -> Option<crate::Duration<HZ>> {
            if let Some(table) = RAISED.get() {
                table.floor.fetch_max(2_000, Ordering::Relaxed);
            }
            self.0.idle_after(state, now)
        }
    }

    /// An insertion decides its key's fresh state before it reserves a slot,
    /// and reuses that step for the promotion only if the configuration and
    /// the instant it decides at after the settling scan are the same. Here
    /// only the instant moves: the floor is raised (by the stand-in for a
    /// concurrent reclaim) while the early claim judges the other key's
    /// word, so the state stored must be decided at 2,000, not at the
    /// check's 1,000. (Reusing the step whenever the configuration is
    /// unchanged fails here.)
    #[test]
    fn an_insertion_decides_again_when_only_the_floor_moved() {
        let gcra = crate::algorithms::GcraConfig::<HZ>::new(Quota::per_second(1).burst(2));
        let table: &'static KeyedLimiter<RaisesFloor, HZ, 2> =
            std::boxed::Box::leak(std::boxed::Box::new(KeyedLimiter::new(
                [RaisesFloor(gcra.unwrap())],
                [1, 2],
                WhenFull::Deny,
            )));
        let t = Instant::<HZ>::from_ticks;
        // "z" takes the first slot with two units at 0: busy until 2,000.
        assert!(table.check_n_at(&"z", Plan::FIRST, 2, t(0)).is_ok());
        assert!(RAISED.set(table).is_ok());
        assert_eq!(table.floor.load(Ordering::Relaxed), 0);
        // "x" is new at 1,000: first decided at 1,000 (the floor is 0); its
        // early claim judges "z"'s word (the floor goes to 2,000), takes the
        // vacant slot, and settles.
        assert!(table.check_at(&"x", Plan::FIRST, t(1_000)).is_ok());
        assert_eq!(table.floor.load(Ordering::Relaxed), 2_000);
        // Charged at 2,000, one of its two units is out there; charged at
        // 1,000, it would be back by 2,000.
        assert_eq!(
            table.snapshot_at(&"x", Plan::FIRST, t(2_000)).remaining(),
            1
        );
        assert_eq!(
            table.snapshot_at(&"x", Plan::FIRST, t(3_000)).remaining(),
            2
        );
    }
}
