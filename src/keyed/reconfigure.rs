//! Live reconfiguration of a keyed table's plans, through `&self`.
//!
//! The design is stated on [`KeyedLimiter::reconfigure_at`].

use crate::kernel::sync::{AtomicU8, Ordering};
use crate::kernel::{Carry, Reconfigure, ReconfigureError};
use crate::keyed::slot::{self, Holder};
use crate::keyed::{KeyedLimiter, Plan, SlotStorage};
use crate::time::Instant;

/// `P` routes, each plan under its own configuration.
#[cfg(not(loom))]
pub(super) const fn own_routes<const P: usize>() -> [AtomicU8; P] {
    [const { AtomicU8::new(0) }; P]
}

/// `P` routes, each plan under its own configuration.
#[cfg(loom)]
pub(super) fn own_routes<const P: usize>() -> [AtomicU8; P] {
    core::array::from_fn(|_| AtomicU8::new(0))
}

impl<A, const HZ: u64, const N: usize, const P: usize, S: SlotStorage<N>>
    KeyedLimiter<A, HZ, N, P, S>
{
    /// The index of the configuration (of [`plans`](KeyedLimiter::plans))
    /// that `plan` is under: its own index unless
    /// [`reconfigure_at`](KeyedLimiter::reconfigure_at) moved it.
    pub fn configuration(&self, plan: Plan<P>) -> usize {
        // Relaxed: one read of a datum that orders nothing here.
        self.route(plan, Ordering::Relaxed)
    }

    /// Puts `plan` under the configuration at index `config` of
    /// [`plans`](KeyedLimiter::plans) for every key, now and from now on,
    /// carrying each key's state by `carry` at `now` (or at a later instant
    /// the table has seen: see [Design](#design) below). Returns the index
    /// of the configuration it replaced. Through `&self`: a `static` table
    /// changes while it runs.
    ///
    /// It walks the whole table (a compare-and-swap per key of the plan);
    /// checks go on meanwhile, each decided under the configuration its
    /// key's state is under at that moment.
    ///
    /// ```
    /// use ratecore::kernel::Carry;
    /// use ratecore::keyed::{Plan, WhenFull};
    /// use ratecore::{Gcra, Instant, KeyedLimiter, Quota, const_unwrap};
    ///
    /// const STANDARD: Plan<3> = const_unwrap!(Plan::new(0));
    /// const PREMIUM: Plan<3> = const_unwrap!(Plan::new(1));
    /// // Standard: 100 per minute, burst 120; Premium ten times that; and
    /// // a configuration held in reserve: twenty times Standard.
    /// static API: KeyedLimiter<Gcra<1_000>, 1_000, 256, 3> = KeyedLimiter::new(
    ///     [
    ///         const_unwrap!(Gcra::new(Quota::per_minute(100).burst(120))),
    ///         const_unwrap!(Gcra::new(Quota::per_minute(1_000).burst(1_200))),
    ///         const_unwrap!(Gcra::new(Quota::per_minute(2_000).burst(2_400))),
    ///     ],
    ///     [5, 6],
    ///     WhenFull::Deny,
    /// );
    ///
    /// let t = Instant::<1_000>::from_ticks(0);
    /// API.check_n_at("acme", PREMIUM, 1_000, t).unwrap();
    /// // Premium doubles, for every Premium key; acme's 1,000 units stay in use.
    /// assert_eq!(API.reconfigure_at(PREMIUM, 2, Carry::InUse, t), Ok(1));
    /// assert_eq!(API.snapshot_at("acme", PREMIUM, t).remaining(), 1_400);
    /// assert_eq!(API.configuration(PREMIUM), 2);
    /// ```
    ///
    /// # Errors
    ///
    /// [`ReconfigureError::NoSuchPlan`] if `config` is not below `P`;
    /// nothing changes then.
    ///
    /// # Design
    ///
    /// The table's `P` algorithms are its *configurations*; each plan is under
    /// one of them, at first its own. [`KeyedLimiter::reconfigure_at`] moves a
    /// plan to another configuration ("Premium" from ten times Standard to
    /// twenty) for every key on it, with a [`Carry`] rule for their states.
    ///
    /// - **A state is always decided under the configuration it belongs to.**
    ///   Each slot's word names, beside the key, the configuration of its state
    ///   (8 bits taken from the key's fingerprint, which keeps 46). A check
    ///   reads the configuration from the word it decides on and stores under
    ///   the same one, in the compare-and-swap of the whole word; a check that
    ///   raced a carry fails its compare-and-swap and decides again. So a check
    ///   of a key that holds a slot costs nothing more than before: no load of
    ///   the plan's route. Only a new key reads it, to choose its configuration.
    /// - **The change carries every key eagerly.** After publishing the new
    ///   route, `reconfigure_at` walks the table and carries each of the plan's
    ///   slots with one compare-and-swap (O(`N`) for the change, none for the
    ///   checks). A key being inserted meanwhile is either seen by the walk,
    ///   which moves its reservation to the new configuration (so that the
    ///   inserter's promotion fails and its check is applied to the live key),
    ///   or reads the new route itself after its reservation: the route's store
    ///   and the walk's loads, and the reservation and the inserter's load of
    ///   the route, are sequentially consistent (the store-buffering pattern of
    ///   `probe`), so at least one of the two sees the other.
    /// - **Stale instants.** A carry counts the units in use at an instant at
    ///   or after the latest one the state has seen: counted earlier, a faster
    ///   new rate would drain units admitted later and forgive them (the stale
    ///   bug of issue 14). A slot has no room for that instant, so a table with
    ///   more than one configuration keeps the latest instant any check has
    ///   been made at (`seen`, one relaxed load per check, and a `fetch_max`
    ///   when a check's instant is the newest), and carries at the latest of
    ///   the change's instant, that instant and the floor; a change raises
    ///   the floor to that instant first, so that a later check at an older
    ///   instant is decided there, not before the instant its state was
    ///   counted at (see "Stale readings" in the table's docs). A check
    ///   raises `seen` before its store, and the store is a release that the
    ///   walk's load acquires, so the walk sees every instant the state it
    ///   carries was decided at. A table of one plan keeps no instant and pays
    ///   nothing: it has nothing to change to.
    ///
    /// The rule is the one [`Reconfigure::carry`] states: never looser than the
    /// looser of the two configurations' bounds, whatever the instant of the
    /// change (at a stale one, stricter). A key that goes idle and is reclaimed
    /// starts afresh under the plan's configuration at its next check.
    ///
    /// Moving one key to another plan ("configurable per organisation") is not
    /// a reconfiguration: a key's plan is part of its identity, so a key checked
    /// under another plan has a fresh state there (see [`Plan`]).
    pub fn reconfigure_at(
        &self,
        plan: Plan<P>,
        config: usize,
        carry: Carry,
        now: Instant<HZ>,
    ) -> Result<usize, ReconfigureError>
    where
        A: Reconfigure<HZ>,
    {
        let (Some(route), Ok(offset)) = (
            self.routes.get(plan.index()),
            u8::try_from(plan.index() ^ config),
        ) else {
            return Err(ReconfigureError::NoSuchPlan {
                plan: config,
                plans: P,
            });
        };
        if config >= P {
            return Err(ReconfigureError::NoSuchPlan {
                plan: config,
                plans: P,
            });
        }
        // SeqCst: the store of the store-buffering pattern with the walk's
        // loads below against an inserter's reservation and route load.
        let previous = plan.index() ^ usize::from(route.swap(offset, Ordering::SeqCst));
        if previous != config {
            // The carries below count at this instant or later: raise the
            // floor to it before any of them, so that a check at an older
            // instant is decided there (as after a reclaim) rather than on a
            // state carried past its instant. Relaxed: the release of each
            // carry's compare-and-swap below orders it for the checks that
            // see the carried word (see `at`); a check that sees only the new
            // route decides a fresh state, which no instant makes looser.
            self.floor
                .fetch_max(self.carry_instant(now).as_ticks(), Ordering::Relaxed);
        }
        for word in self.slots.words().words {
            // SeqCst: the walk's loads (see above); their acquire also pairs
            // with the release of the check that stored the word, after it
            // raised `seen`.
            let mut current = word.load(Ordering::SeqCst);
            while let Holder::Live(id) | Holder::Inserting(id) = slot::holder(current) {
                // The latest change of the plan wins (SeqCst: as above).
                let target = self.route(plan, Ordering::SeqCst);
                let from = slot::config(current);
                if id.plan() != plan.index() || from == target {
                    break;
                }
                let next = match slot::holder(current) {
                    // A reservation holds the fresh state, fresh under any
                    // configuration: moving it makes its inserter look again.
                    Holder::Inserting(_) => slot::with_state(current, target, slot::state(current)),
                    _ => {
                        let (Some(old), Some(new)) = (self.plans.get(from), self.plans.get(target))
                        else {
                            break;
                        };
                        let at = self.carry_instant(now);
                        let state = old.carry(slot::state(current), new, carry, at);
                        slot::with_state(current, target, state)
                    }
                };
                match word.compare_exchange(current, next, Ordering::SeqCst, Ordering::SeqCst) {
                    Ok(_) => break,
                    Err(actual) => current = actual,
                }
            }
        }
        Ok(previous)
    }

    /// The instant a carry counts at: `now`, or the latest instant a check
    /// was made at, or the floor, whichever is latest.
    fn carry_instant(&self, now: Instant<HZ>) -> Instant<HZ> {
        // Relaxed: ordered by the acquire load of the word carried (see
        // `reconfigure_at`).
        let seen = self.seen.load(Ordering::Relaxed);
        let at = self.at(now).as_ticks();
        Instant::from_ticks(if seen > at { seen } else { at })
    }
}
