//! Algorithms as pure functions over one 64-bit state word, and the one
//! compare-and-swap loop that applies them.

use crate::charge::Receipt;
use crate::decision::{Decision, Denied, Status};
use crate::sync::{AtomicU64, Ordering};
use crate::time::{Duration, Instant};

/// A rate-limit algorithm whose whole state is one `u64`: its configuration,
/// and the transition `(state, now, n) -> (state', decision)` as a pure function.
///
/// Every limiter in this crate whose state fits one word implements this
/// trait on itself (using only its configuration, not its own state), so
/// containers such as keyed tables can keep many states for one configuration.
/// Inside the crate, one compare-and-swap loop turns any `Algorithm` and an
/// atomic word into a limiter, so every one-word limiter shares it.
pub trait Algorithm<const HZ: u64> {
    /// The state of a fresh limiter (full, nothing used).
    const FRESH: u64;

    /// Decides `n` units at `now` from `state`.
    ///
    /// Returns the decision and, when the check is admitted and changes the
    /// state, the state to store. A denial never returns a new state.
    fn decide(&self, state: u64, n: u32, now: Instant<HZ>) -> (Decision<HZ>, Option<u64>);

    /// The status at `now` of a limiter in `state`, changing nothing.
    fn status(&self, state: u64, now: Instant<HZ>) -> Status<HZ>;

    /// The state after giving back `n` units at `now`.
    fn refunded(&self, state: u64, n: u32, now: Instant<HZ>) -> u64;

    /// Whether `state` decides exactly as [`FRESH`](Algorithm::FRESH) would at
    /// `now` and at every later instant, for any sequence of checks. Such a
    /// state may be replaced by another key's without changing any decision.
    fn is_idle(&self, state: u64, now: Instant<HZ>) -> bool;

    /// Books `n` units at `now` for the first instant at which they fit, if
    /// that is at most `max_wait` after `now` (shaping instead of rejecting).
    ///
    /// Returns the instant at which the units may be used and, when the
    /// booking is made and changes the state, the state to store. A refusal
    /// (the units do not fit within `max_wait`, or can never fit) returns the
    /// denial a check at `now` would give, and never a new state.
    ///
    /// The default books nothing ahead: it is [`decide`](Algorithm::decide)
    /// at `now`, ready at once when admitted and refused otherwise.
    fn reserve(
        &self,
        state: u64,
        n: u32,
        now: Instant<HZ>,
        max_wait: Duration<HZ>,
    ) -> (Result<Instant<HZ>, Denied<HZ>>, Option<u64>) {
        let _ = max_wait;
        let (decision, next) = self.decide(state, n, now);
        (decision.map(|_| now), next)
    }

    /// Takes `n` units of an earlier charge, made for the instant `at`, back
    /// out of `state`, when other operations have changed the state since
    /// the charge (so the state before it cannot simply be restored).
    ///
    /// Returns `None` when the units cannot be taken back without the risk
    /// of admitting more than the quota allows; the charge is then kept,
    /// which is stricter, never looser. The default always returns `None`.
    /// An algorithm whose charges commute (a count of units in flight)
    /// overrides it with the exact subtraction.
    fn uncharged(&self, state: u64, n: u32, at: Instant<HZ>) -> Option<u64> {
        let _ = (state, n, at);
        None
    }
}

/// The one compare-and-swap loop: applies `step` to the state in `word`
/// until the state it returns is stored (or it returns none), storing with
/// the ordering `stored`.
///
/// Returns `step`'s result and the states before and after it (equal when
/// nothing was stored). Lock-free where the target has a native 64-bit
/// compare-and-swap: an iteration fails only because another thread stored
/// a new state.
///
/// A rate limiter passes `Relaxed`: the word is its only shared datum, so a
/// decision depends on nothing else, and the compare-exchange orders all
/// updates of the word by itself (no other memory is published through
/// it). A semaphore ([`acquire_word`]) passes `Acquire`.
#[inline(always)]
fn apply<R>(
    word: &AtomicU64,
    stored: Ordering,
    mut step: impl FnMut(u64) -> (R, Option<u64>),
) -> (R, u64, u64) {
    // Relaxed: a first guess; only the successful compare-exchange below
    // takes part in any synchronization (with the ordering `stored`).
    let mut state = word.load(Ordering::Relaxed);
    loop {
        let (result, next) = step(state);
        let Some(next) = next else {
            return (result, state, state);
        };
        // `stored` on success (see above); Relaxed on failure: a failure
        // hands back the state that won, and we decide again on it.
        match word.compare_exchange_weak(state, next, stored, Ordering::Relaxed) {
            Ok(_) => return (result, state, next),
            Err(actual) => state = actual,
        }
    }
}

/// Checks `n` units at `now` against the state in `word`: the decision of
/// [`Algorithm::decide`], stored with one compare-and-swap loop.
///
/// Lock-free where the target has a native 64-bit compare-and-swap: an
/// iteration fails only because another thread stored a new state.
#[inline(always)]
pub(crate) fn check_word<const HZ: u64, A: Algorithm<HZ> + ?Sized>(
    word: &AtomicU64,
    algorithm: &A,
    n: u32,
    now: Instant<HZ>,
) -> Decision<HZ> {
    // The closure is inlined too: out of line, it returned the whole answer
    // through memory on every call, and the benches showed it.
    apply(
        word,
        Ordering::Relaxed,
        #[inline(always)]
        |state| algorithm.decide(state, n, now),
    )
    .0
}

/// [`check_word`], also returning a [`Receipt`] that [`undo_word`] can take
/// back exactly.
#[inline]
pub(crate) fn charge_word<'w, const HZ: u64, A: Algorithm<HZ> + ?Sized>(
    word: &'w AtomicU64,
    algorithm: &A,
    n: u32,
    now: Instant<HZ>,
) -> Result<(Status<HZ>, Receipt<'w>), Denied<HZ>> {
    // Relaxed: as in `check_word`.
    charge_with(word, algorithm, n, now, Ordering::Relaxed)
}

/// [`charge_word`] for a semaphore (units in flight): an admitted charge
/// acquires, pairing with the `Release` of [`release_word`], so everything a
/// holder did before giving its units back happens-before whatever the next
/// holder of those units does.
#[inline]
pub(crate) fn acquire_word<'w, const HZ: u64, A: Algorithm<HZ> + ?Sized>(
    word: &'w AtomicU64,
    algorithm: &A,
    n: u32,
    now: Instant<HZ>,
) -> Result<(Status<HZ>, Receipt<'w>), Denied<HZ>> {
    charge_with(word, algorithm, n, now, Ordering::Acquire)
}

#[inline]
fn charge_with<'w, const HZ: u64, A: Algorithm<HZ> + ?Sized>(
    word: &'w AtomicU64,
    algorithm: &A,
    n: u32,
    now: Instant<HZ>,
    stored: Ordering,
) -> Result<(Status<HZ>, Receipt<'w>), Denied<HZ>> {
    let (decision, before, after) = apply(word, stored, |state| algorithm.decide(state, n, now));
    decision.map(|status| (status, Receipt::new(before, after, n, now.as_ticks())))
}

/// What [`check_word`] would decide now, storing nothing.
#[inline]
pub(crate) fn peek_word<const HZ: u64, A: Algorithm<HZ> + ?Sized>(
    word: &AtomicU64,
    algorithm: &A,
    n: u32,
    now: Instant<HZ>,
) -> Decision<HZ> {
    // Relaxed: one read of the only shared datum (see `apply`).
    algorithm.decide(word.load(Ordering::Relaxed), n, now).0
}

/// Books `n` units with [`Algorithm::reserve`]: the instant they may be used,
/// and a receipt for the booking (made for that instant).
#[inline]
pub(crate) fn reserve_word<'w, const HZ: u64, A: Algorithm<HZ> + ?Sized>(
    word: &'w AtomicU64,
    algorithm: &A,
    n: u32,
    now: Instant<HZ>,
    max_wait: Duration<HZ>,
) -> Result<(Instant<HZ>, Receipt<'w>), Denied<HZ>> {
    let (booking, before, after) = apply(word, Ordering::Relaxed, |state| {
        algorithm.reserve(state, n, now, max_wait)
    });
    booking.map(|ready| (ready, Receipt::new(before, after, n, ready.as_ticks())))
}

/// Takes back the charge of `receipt`: see [`restore_word`].
#[inline]
pub(crate) fn undo_word<const HZ: u64, A: Algorithm<HZ> + ?Sized>(
    word: &AtomicU64,
    algorithm: &A,
    receipt: Receipt<'_>,
) -> bool {
    restore_word(word, algorithm, receipt, receipt.before, receipt.n)
}

/// Replaces the charge of `receipt` by `replacement` (a state computed from
/// `receipt.before`), giving back `give_back` units.
///
/// If the word still holds the state the charge stored, it is swapped for
/// `replacement`: bit-exact, as if the charge had been `replacement`'s from
/// the start. Otherwise other operations have acted on top of the charge and
/// their decisions assumed it; the word is then changed only as far as
/// [`Algorithm::uncharged`] says is safe, else left alone (the charge is
/// kept: stricter, never looser). Returns whether the units were given back.
///
/// A word that left the charged state and came back to it (an ABA) is
/// treated as untouched. Only units operations can bring it back while the
/// receipt exists (checks, refunds, undos: their net effect on the state was
/// nil): the operations that rebuild a state without charging (`reset`,
/// `set_quota_at`) take `&mut self`, which the receipt's borrow of the
/// limiter rules out.
pub(crate) fn restore_word<const HZ: u64, A: Algorithm<HZ> + ?Sized>(
    word: &AtomicU64,
    algorithm: &A,
    receipt: Receipt<'_>,
    replacement: u64,
    give_back: u32,
) -> bool {
    if receipt.before == receipt.after {
        // The charge stored nothing: there is nothing to take back.
        return true;
    }
    let at = Instant::<HZ>::from_ticks(receipt.at);
    let mut current = receipt.after;
    loop {
        let next = if current == receipt.after {
            replacement
        } else {
            match algorithm.uncharged(current, give_back, at) {
                Some(next) => next,
                None => return false,
            }
        };
        // Relaxed: as in `apply`. A strong compare-exchange: a spurious
        // failure would send an untouched word down the `uncharged` path.
        match word.compare_exchange(current, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(actual) => current = actual,
        }
    }
}

/// The status at `now` of the state in `word`.
#[inline]
pub(crate) fn status_word<const HZ: u64, A: Algorithm<HZ> + ?Sized>(
    word: &AtomicU64,
    algorithm: &A,
    now: Instant<HZ>,
) -> Status<HZ> {
    // Relaxed: one read of the only shared datum (see `check_word`).
    algorithm.status(word.load(Ordering::Relaxed), now)
}

/// Gives back `n` units at `now` to the state in `word`.
#[inline]
pub(crate) fn refund_word<const HZ: u64, A: Algorithm<HZ> + ?Sized>(
    word: &AtomicU64,
    algorithm: &A,
    n: u32,
    now: Instant<HZ>,
) -> Status<HZ> {
    // Relaxed: as in `check_word`.
    give_back(word, algorithm, n, now, Ordering::Relaxed)
}

/// [`refund_word`] for a semaphore: releases, pairing with the `Acquire` of
/// [`acquire_word`] (every later update of the word is a read-modify-write,
/// so it continues this release sequence).
#[inline]
pub(crate) fn release_word<const HZ: u64, A: Algorithm<HZ> + ?Sized>(
    word: &AtomicU64,
    algorithm: &A,
    n: u32,
    now: Instant<HZ>,
) -> Status<HZ> {
    give_back(word, algorithm, n, now, Ordering::Release)
}

#[inline]
fn give_back<const HZ: u64, A: Algorithm<HZ> + ?Sized>(
    word: &AtomicU64,
    algorithm: &A,
    n: u32,
    now: Instant<HZ>,
    stored: Ordering,
) -> Status<HZ> {
    // `stored` when storing (see the callers); Relaxed for the reads:
    // fetch_update is a compare-exchange loop on the same word. The closure
    // always returns `Some`, so it cannot fail.
    let previous = word.fetch_update(stored, Ordering::Relaxed, |state| {
        Some(algorithm.refunded(state, n, now))
    });
    let previous = match previous {
        Ok(state) | Err(state) => state,
    };
    algorithm.status(algorithm.refunded(previous, n, now), now)
}
