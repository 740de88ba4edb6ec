//! Tiers per key: several keyed tables checked with one key, all or nothing.

use core::cell::Cell;
use core::fmt;
use core::hash::Hash;

use crate::answer::Status;
use crate::compose::{TierAnswer, TierDecision, Unlimited, all_or_nothing};
use crate::kernel::sync::AtomicU128;
use crate::kernel::{Algorithm, Receipt};
use crate::keyed::slot::Id;
use crate::keyed::{Admitted, InlineSlots, KeyedLimiter, LookedUp, Plan, SlotStorage};
use crate::time::{Clock, Instant};

/// What one [`KeyedLimiter::charge_n_at`] changed, for
/// [`KeyedLimiter::undo`]: the key's slot and identity, and the charge as a
/// one-word limiter's [`Receipt`] tells it. It borrows the table, as a
/// [`Receipt`] borrows its limiter.
#[derive(Clone, Copy, Debug)]
pub struct KeyedReceipt<'a> {
    /// The key's slot; `None` when the charge stored nothing.
    pub(crate) slot: Option<&'a AtomicU128>,
    pub(crate) id: Id,
    /// The configuration the state was charged under.
    pub(crate) config: usize,
    /// The state replaced and stored, the units and their instant.
    pub(crate) charge: Receipt<'a>,
}

impl<'a> KeyedReceipt<'a> {
    /// The receipt of a charge that stored nothing: undoing it does nothing.
    pub const NOTHING: Self = Self {
        slot: None,
        id: Id::new(0, 0),
        config: 0,
        charge: Receipt::NOTHING,
    };

    pub(crate) fn new<const HZ: u64>(
        slot: &'a AtomicU128,
        id: Id,
        config: usize,
        (before, after): (u64, u64),
        n: u32,
        at: Instant<HZ>,
    ) -> Self {
        Self {
            slot: Some(slot),
            id,
            config,
            charge: Receipt::new(before, after, n, at.as_ticks()),
        }
    }
}

/// One named tier of [`KeyedTiers`]: a keyed table and the plan's name.
/// The table's slots may be inline or (with the `alloc` feature) on the
/// heap, as a [`BoxedKeyedLimiter`](crate::keyed::BoxedKeyedLimiter)'s are:
/// `S`, its [`SlotStorage`].
pub struct KeyedTier<
    't,
    A,
    const HZ: u64,
    const N: usize,
    const P: usize,
    S: SlotStorage<N> = InlineSlots<N>,
> {
    /// The tier's name, for the answer ("minute", "daily").
    pub name: &'static str,
    /// The tier's table.
    pub table: &'t KeyedLimiter<A, HZ, N, P, S>,
}

impl<A: fmt::Debug, const HZ: u64, const N: usize, const P: usize, S: SlotStorage<N>> fmt::Debug
    for KeyedTier<'_, A, HZ, N, P, S>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedTier")
            .field("name", &self.name)
            .field("table", self.table)
            .finish()
    }
}

impl<A, const HZ: u64, const N: usize, const P: usize, S: SlotStorage<N>> Clone
    for KeyedTier<'_, A, HZ, N, P, S>
{
    fn clone(&self) -> Self {
        *self
    }
}

impl<A, const HZ: u64, const N: usize, const P: usize, S: SlotStorage<N>> Copy
    for KeyedTier<'_, A, HZ, N, P, S>
{
}

impl<'t, A, const HZ: u64, const N: usize, const P: usize, S: SlotStorage<N>>
    KeyedTier<'t, A, HZ, N, P, S>
{
    /// The tier `name` over `table`.
    pub const fn new(name: &'static str, table: &'t KeyedLimiter<A, HZ, N, P, S>) -> Self {
        Self { name, table }
    }
}

/// Several limits per key, all or nothing: "100 per minute **and** 10,000
/// per day, per API key". Each tier is a [`KeyedLimiter`] (its plans are the
/// tier's quota per plan: Free and Pro per minute in one table, Free and Pro
/// per day in another), and a check of a key charges every tier its cost or
/// none.
///
/// A check first peeks at every tier (writing nothing): any denial is the
/// answer, the most restrictive one (a request that can never pass, then the
/// longest `retry_after`), naming its tier. Then it charges the tiers,
/// scarcest first; if a concurrent check took the last units of a tier in
/// between, the tiers already charged are undone exactly
/// ([`KeyedLimiter::undo`]) and that tier's denial is the answer. An undo
/// that finds the key's state changed by another check keeps the charge
/// unless the plan's algorithm can take it back safely: stricter, never
/// looser, as [`Tiers`](crate::Tiers#exactness).
///
/// A key holds a slot in each table whose tier it has charged, and gives
/// each up when that tier's state is idle: the key is idle, and holds no
/// slot, once all its tiers are ([`is_idle_at`](KeyedTiers::is_idle_at)).
///
/// Give the tables of one `KeyedTiers` the same seed: a check then hashes
/// its key once for all of them (SipHash-1-3 of a key takes about as long
/// as a whole one-word check), where tables seeded apart hash it once each.
/// The seed stays the secret it was (see [`KeyedLimiter`]'s "Keys and the
/// seed"): tables that share it place a key in the same window of each, and
/// that tells nobody more than one table does.
///
/// ```
/// use ratecore::keyed::{KeyedTier, KeyedTiers, Plan, WhenFull};
/// use ratecore::{Gcra, Instant, KeyedLimiter, Quota, const_unwrap};
///
/// const STANDARD: Plan<1> = Plan::FIRST;
/// // One seed for both tables: a check hashes its key once.
/// const SEED: [u64; 2] = [1, 2];
/// static MINUTE: KeyedLimiter<Gcra<1_000>, 1_000, 256> = KeyedLimiter::new(
///     [const_unwrap!(Gcra::new(Quota::per_minute(100).burst(120)))], SEED, WhenFull::Deny);
/// static DAY: KeyedLimiter<Gcra<1_000>, 1_000, 256> = KeyedLimiter::new(
///     [const_unwrap!(Gcra::new(Quota::per_day(10_000)))], SEED, WhenFull::Deny);
/// static PER_KEY: KeyedTiers<'static, Gcra<1_000>, 1_000, 256, 1, 2> =
///     KeyedTiers::new([KeyedTier::new("minute", &MINUTE), KeyedTier::new("daily", &DAY)]);
///
/// let now = Instant::<1_000>::from_ticks(0);
/// let admitted = PER_KEY.check_n_at("key_1", STANDARD, 120, now).unwrap();
/// assert_eq!((admitted.name, admitted.answer.remaining()), ("minute", 0));
/// let denied = PER_KEY.check_at("key_1", STANDARD, now).unwrap_err();
/// assert_eq!(denied.name, "minute");
/// // The denial charged no tier: the day still has 9,880.
/// assert_eq!(PER_KEY.snapshot_all_at("key_1", STANDARD, now)[1].remaining(), 9_880);
/// ```
pub struct KeyedTiers<
    't,
    A,
    const HZ: u64,
    const N: usize,
    const P: usize,
    const T: usize,
    S: SlotStorage<N> = InlineSlots<N>,
> {
    tiers: [KeyedTier<'t, A, HZ, N, P, S>; T],
}

impl<
    A: fmt::Debug,
    const HZ: u64,
    const N: usize,
    const P: usize,
    const T: usize,
    S: SlotStorage<N>,
> fmt::Debug for KeyedTiers<'_, A, HZ, N, P, T, S>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedTiers")
            .field("tiers", &self.tiers)
            .finish()
    }
}

impl<'t, A, const HZ: u64, const N: usize, const P: usize, const T: usize, S: SlotStorage<N>>
    KeyedTiers<'t, A, HZ, N, P, T, S>
{
    /// All of `tiers`, in order. There must be at least one: none is a
    /// compile-time error.
    pub const fn new(tiers: [KeyedTier<'t, A, HZ, N, P, S>; T]) -> Self {
        const { assert!(T > 0, "KeyedTiers needs at least one tier") };
        Self { tiers }
    }

    /// The tiers, in order.
    pub const fn tiers(&self) -> &[KeyedTier<'t, A, HZ, N, P, S>; T] {
        &self.tiers
    }
}

fn status_of<const HZ: u64>(admitted: Admitted<HZ>) -> Status<HZ> {
    admitted.status().unwrap_or_else(Unlimited::status)
}

impl<
    A: Algorithm<HZ>,
    const HZ: u64,
    const N: usize,
    const P: usize,
    const T: usize,
    S: SlotStorage<N>,
> KeyedTiers<'_, A, HZ, N, P, T, S>
{
    super::checks::keyed_checks! {
        /// Checks `n` units of every tier: see [`check_costs_at`](Self::check_costs_at).
        ///
        /// # Errors
        ///
        /// As [`check_costs_at`](Self::check_costs_at).
        fn check_n_at(&self, key, plan, n, now) -> TierDecision<HZ> {
            self.check_costs_at(key, plan, [n; T], now)
        }
    }

    /// Charges tier `i` `costs[i]` units for `key` under `plan` at `now`, all
    /// or none. Admitted: the tightest tier's status (fewest units left),
    /// naming it. A tier of zero units never vetoes.
    ///
    /// # Errors
    ///
    /// The most restrictive tier's [`Denied`](crate::Denied), naming it; no tier keeps a
    /// charge (but in the race described in [`KeyedTiers`]).
    pub fn check_costs_at<K: Hash + ?Sized>(
        &self,
        key: &K,
        plan: Plan<P>,
        costs: [u32; T],
        now: Instant<HZ>,
    ) -> TierDecision<HZ> {
        let tier = |position: usize| self.tiers.get(position).map(|tier| tier.table);
        let cost = |position: usize| costs.get(position).copied().unwrap_or(0);
        // Where each peek found the key live, for its tier's charge: a key
        // is looked up once per table, and hashed at most once per table
        // (SipHash-1-3 of a key alone takes about as long as a whole
        // one-word check).
        let looked_up: [Cell<Option<LookedUp<'_>>>; T] = [const { Cell::new(None) }; T];
        // Tables seeded alike hash a key alike: it is hashed once for all
        // of them, else once per table. (The hash, not the window: split
        // where it is used, the window's bounds stay known to the compiler.)
        let first = self
            .tiers
            .first()
            .map(|tier| (tier.table, tier.table.hash(key)));
        let hash = |table: &KeyedLimiter<A, HZ, N, P, S>| match first {
            Some((first, hash)) if table.hashes_as(first) => hash,
            _ => table.hash(key),
        };
        let binding = all_or_nothing::<HZ, T, _>(
            |position| self.tiers.get(position).map_or("", |tier| tier.name),
            KeyedReceipt::NOTHING,
            |position| match tier(position) {
                Some(table) => {
                    let (decision, live) =
                        table.peek_hashed(hash(table), plan, cost(position), now);
                    if let Some(cell) = looked_up.get(position) {
                        cell.set(live);
                    }
                    decision
                }
                None => Ok(Unlimited::status()),
            },
            |position| match tier(position) {
                Some(table) => {
                    let live = looked_up.get(position).and_then(Cell::get);
                    table
                        .charge_looked_up(key, live, plan, cost(position), now)
                        .map(|(admitted, receipt)| (status_of(admitted), receipt))
                }
                None => Ok((Unlimited::status(), KeyedReceipt::NOTHING)),
            },
            |position, receipt| {
                if let Some(table) = tier(position) {
                    table.undo(receipt);
                }
            },
        )?;
        Ok(binding.unwrap_or(TierAnswer {
            tier: 0,
            name: "",
            answer: Unlimited::status(),
        }))
    }

    /// Every tier's status for `key` under `plan` at `now`, in order,
    /// changing nothing.
    pub fn snapshot_all_at<K: Hash + ?Sized>(
        &self,
        key: &K,
        plan: Plan<P>,
        now: Instant<HZ>,
    ) -> [Status<HZ>; T] {
        self.tiers
            .map(|tier| tier.table.snapshot_at(key, plan, now))
    }

    /// Whether `key` is idle under every tier at `now` (each tier's state
    /// decides as a fresh one's, so each table may give its slot up).
    pub fn is_idle_at<K: Hash + ?Sized>(&self, key: &K, plan: Plan<P>, now: Instant<HZ>) -> bool {
        self.tiers
            .iter()
            .all(|tier| tier.table.is_idle_at(key, plan, now))
    }
}
