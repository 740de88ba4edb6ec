//! Charges that can be taken back exactly: what all-or-nothing
//! [`Tiers`](crate::Tiers) are built on.

use core::marker::PhantomData;

use crate::answer::{Decision, Denied, Status};
use crate::kernel::Limiter;
use crate::time::Instant;

/// What one admitted [`Charge::charge_n_at`] changed, so that
/// [`Charge::undo`] can take exactly that back.
///
/// A receipt belongs to the limiter that issued it: give it back to another
/// one and the undo is meaningless (it changes nothing, or the wrong state).
///
/// # Why a receipt borrows its limiter
///
/// An undo restores the state the charge replaced only if the limiter still
/// holds the state the charge stored. That test cannot tell "nothing
/// happened since" from "the state was rebuilt": after a `reset`, new checks
/// can store the very same word again (an ABA), and restoring then would
/// give back units that another check took. So the lifetime `'a` is that of
/// the `&self` borrow the charge was made through, and every operation that
/// can rebuild a word without charging or giving back units (`reset`,
/// `set_quota_at`) takes `&mut self`: while a receipt (or a
/// [`Reservation`](crate::kernel::Reservation)) exists, the limiter cannot be reset,
/// and the compiler says so. This costs nothing at run time.
///
/// ```compile_fail
/// // Issue 11 (ABA): a reset between a charge and its undo would let the
/// // undo give back units another check took. It does not compile.
/// use ratecore::{FixedWindow, Instant, Limiter, Quota, kernel::Charge};
///
/// let t = |ms| Instant::<1_000>::from_ticks(ms);
/// let mut w = FixedWindow::<1_000>::new(Quota::per_second(1)).unwrap();
/// let (_, receipt) = w.charge_n_at(1, t(10)).unwrap();
/// w.reset();
/// w.check_at(t(10)).unwrap();
/// w.undo(receipt);
/// ```
///
/// [`Receipt::NOTHING`] is a receipt of any lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Receipt<'a> {
    /// The state the charge replaced.
    pub(crate) before: u64,
    /// The state the charge stored (equal to `before` if it stored nothing).
    pub(crate) after: u64,
    /// Units charged.
    pub(crate) n: u32,
    /// The tick the units were charged for.
    pub(crate) at: u64,
    /// The borrow of the limiter that issued it (see above).
    limiter: PhantomData<&'a ()>,
}

impl<'a> Receipt<'a> {
    /// The receipt of a charge that changed nothing (an unlimited limiter's,
    /// or a charge of zero units): undoing it does nothing. Usable at any
    /// lifetime.
    pub const NOTHING: Self = Self::new(0, 0, 0, 0);

    /// The receipt of a charge of `n` units for the tick `at` that replaced
    /// the state `before` by `after` (equal when it stored nothing).
    ///
    /// For a limiter built outside this crate that implements [`Charge`]
    /// itself: its `charge_n_at` returns one tied to its `&self` borrow, and
    /// its `undo` reads the parts back ([`before`](Receipt::before),
    /// [`after`](Receipt::after), [`at`](Receipt::at)).
    pub const fn new(before: u64, after: u64, n: u32, at: u64) -> Self {
        Self {
            before,
            after,
            n,
            at,
            limiter: PhantomData,
        }
    }

    /// The state the charge replaced.
    pub const fn before(&self) -> u64 {
        self.before
    }

    /// The state the charge stored (equal to [`before`](Receipt::before) if
    /// it stored nothing).
    pub const fn after(&self) -> u64 {
        self.after
    }

    /// The tick the units were charged for.
    pub const fn at(&self) -> u64 {
        self.at
    }

    /// Units charged.
    pub const fn units(&self) -> u32 {
        self.n
    }
}

/// A limiter whose admitted checks can be taken back exactly: the members of
/// [`Tiers`](crate::Tiers).
///
/// Every one-word limiter of this crate implements it (on its single atomic
/// word: [`undo`](Charge::undo) puts back the word the charge replaced, with
/// a compare-and-swap), as do the wrappers ([`Capped`](crate::compose::Capped),
/// [`Toggle`](crate::compose::Toggle)) and [`Unlimited`](crate::compose::Unlimited). The trait
/// is dyn-compatible (`&dyn Charge<HZ>`), so tiers can mix algorithms.
pub trait Charge<const HZ: u64>: Limiter<HZ> {
    /// What [`check_n_at(n, now)`](Limiter::check_n_at) would answer at this
    /// moment, changing nothing.
    ///
    /// # Errors
    ///
    /// The [`Denied`] that `check_n_at` would return.
    fn peek_n_at(&self, n: u32, now: Instant<HZ>) -> Decision<HZ>;

    /// [`check_n_at(n, now)`](Limiter::check_n_at), and on admission a
    /// [`Receipt`] for [`undo`](Charge::undo).
    ///
    /// # Errors
    ///
    /// As [`check_n_at`](Limiter::check_n_at); a denial charges nothing.
    ///
    /// The receipt borrows `self`: see [`Receipt`] for why.
    fn charge_n_at(
        &self,
        n: u32,
        now: Instant<HZ>,
    ) -> Result<(Status<HZ>, Receipt<'_>), Denied<HZ>>;

    /// Takes back the charge of `receipt`; returns whether it was taken back.
    ///
    /// If no other operation has changed the limiter since the charge, the
    /// limiter returns bit for bit to its state before it: exact, including
    /// for a GCRA that was idle (`tat < now`), where a refund of `n` units
    /// would not be an undo. If other operations acted on top of the charge
    /// (their decisions assumed it), the units are taken back only where
    /// that is exact for the algorithm (units in flight: yes; GCRA and token
    /// buckets: no), and otherwise the charge is kept and this returns
    /// `false`: stricter, never looser. Undoing [`Receipt::NOTHING`], or the
    /// receipt of a charge that stored nothing, does nothing.
    ///
    /// No undo gives back units it did not take: the operations that could
    /// rebuild the charged state without charging (`reset`, `set_quota_at`)
    /// take `&mut self`, which the receipt's borrow rules out until it is
    /// gone.
    fn undo(&self, receipt: Receipt<'_>) -> bool;
}
