//! Reservations: capacity booked now for an instant that may be later.

use crate::kernel::Receipt;
use crate::kernel::sync::AtomicU64;
use crate::kernel::word::restore;
use crate::kernel::{Algorithm, Step};
use crate::time::{Duration, Instant};

/// Units booked on a limiter for the instant [`ready_at`](Reservation::ready_at)
/// (shaping instead of rejecting, like Go's `rate.Limiter.Reserve`).
///
/// Made by `reserve_n_at` on [`Gcra`](crate::Gcra) and
/// [`TokenBucket`](crate::TokenBucket). The limiter has already counted the
/// units: use them at `ready_at` (not before), and [`cancel`](Reservation::cancel)
/// or [`settle`](Reservation::settle) if fewer are used. Dropping a
/// reservation keeps the units counted, as if they were used.
///
/// # Cancelling
///
/// A reservation is a charge that later decisions build on: a reservation
/// made after this one was given a ready instant that assumes these units
/// come first. So the units can be given back exactly only while the
/// limiter still holds the state this reservation left (nothing admitted or
/// booked since, or all of that given back already: cancelling in reverse
/// order works). The limiter then returns bit for bit to its state before
/// the reservation (or, for [`settle`](Reservation::settle), to the state a
/// reservation of only the used units would have left). Once anything else
/// has been admitted or booked after it, the freed time sits *under* those
/// later bookings; a one-word limiter cannot represent that hole, and
/// handing the units back at the end of the queue would let new callers use
/// the same time twice (giving up to all `n` units more than the quota).
/// The units then stay counted (stricter, never looser) and the cancel
/// reports that it gave back nothing. A booking refused for `max_wait`
/// changed nothing in the first place.
///
/// A reservation borrows its limiter, whose `reset` and `set_quota_at` take
/// `&mut self`: neither can happen while it exists, so a cancel never gives
/// back units that checks after a reset took (see
/// [`Receipt`](crate::kernel::Receipt#why-a-receipt-borrows-its-limiter)).
///
/// ```compile_fail
/// // Issue 11 (ABA): a reset between a reservation and its cancel would let
/// // the cancel give back units another check took. It does not compile.
/// use ratecore::{Duration, Gcra, Instant, Limiter, Quota};
///
/// let t = |ms| Instant::<1_000>::from_ticks(ms);
/// let mut g = Gcra::<1_000>::new(Quota::per_second(1).burst(2)).unwrap();
/// let r = g.reserve_n_at(2, t(0), Duration::<1_000>::from_ticks(0)).unwrap();
/// g.reset();
/// g.check_n_at(2, t(0)).unwrap();
/// r.cancel();
/// ```
#[must_use = "the units are counted: use them at `ready_at`, or cancel the reservation"]
#[derive(Debug)]
pub struct Reservation<'a, const HZ: u64, A: Algorithm<HZ>> {
    word: &'a AtomicU64,
    algorithm: &'a A,
    receipt: Receipt<'a>,
    ready: Instant<HZ>,
}

impl<'a, const HZ: u64, A: Algorithm<HZ>> Reservation<'a, HZ, A> {
    pub(crate) const fn new(
        word: &'a AtomicU64,
        algorithm: &'a A,
        receipt: Receipt<'a>,
        ready: Instant<HZ>,
    ) -> Self {
        Self {
            word,
            algorithm,
            receipt,
            ready,
        }
    }

    /// The first instant at which the units may be used.
    pub const fn ready_at(&self) -> Instant<HZ> {
        self.ready
    }

    /// Units booked.
    pub const fn units(&self) -> u32 {
        self.receipt.n
    }

    /// How long to wait from `now` until the units may be used (zero if they
    /// may be used now).
    pub const fn wait_at(&self, now: Instant<HZ>) -> Duration<HZ> {
        Duration::<HZ>::from_ticks(self.ready.as_ticks().saturating_sub(now.as_ticks()))
    }

    /// Gives every unit back; returns how many were given back (all, or none:
    /// see [Cancelling](Reservation#cancelling)).
    pub fn cancel(self) -> u32 {
        if restore(
            self.word,
            self.algorithm,
            self.receipt,
            self.receipt.before,
            self.receipt.n,
        ) {
            self.receipt.n
        } else {
            0
        }
    }

    /// Keeps `used` of the booked units (at most all of them) and gives the
    /// rest back; returns how many were given back (all the rest, or none:
    /// see [Cancelling](Reservation#cancelling)).
    ///
    /// Given back exactly, the limiter is left as if only `used` units had
    /// been booked, for the same ready instant.
    pub fn settle(self, used: u32) -> u32 {
        let used = if used < self.receipt.n {
            used
        } else {
            self.receipt.n
        };
        let rest = self.receipt.n.saturating_sub(used);
        // `used` units admitted at the ready instant from the state before:
        // admitted, since the larger booking was.
        let replacement = match self.algorithm.decide(self.receipt.before, used, self.ready) {
            Step::Store(state, _) => state,
            Step::Keep(_) => self.receipt.before,
            // Cannot happen for an algorithm whose admission is monotone in
            // `n`; keep the whole booking rather than guess.
            Step::Deny(_) => return 0,
        };
        if restore(self.word, self.algorithm, self.receipt, replacement, rest) {
            rest
        } else {
            0
        }
    }
}

/// When the booked units may be used, and how many were booked.
#[cfg(feature = "defmt")]
impl<const HZ: u64, A: Algorithm<HZ>> defmt::Format for Reservation<'_, HZ, A> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "Reservation {{ units: {=u32}, ready_at: {=u64} ticks at {=u64} Hz }}",
            self.receipt.units(),
            self.ready.as_ticks(),
            HZ
        );
    }
}
