//! Algorithms as pure functions over one 64-bit state word, and the one
//! compare-and-swap loop that applies them.

use crate::decision::{Decision, Status};
use crate::sync::{AtomicU64, Ordering};
use crate::time::Instant;

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
}

/// Checks `n` units at `now` against the state in `word`: the decision of
/// [`Algorithm::decide`], stored with one compare-and-swap loop.
///
/// Lock-free where the target has a native 64-bit compare-and-swap: an
/// iteration fails only because another thread stored a new state.
#[inline]
pub(crate) fn check_word<const HZ: u64, A: Algorithm<HZ> + ?Sized>(
    word: &AtomicU64,
    algorithm: &A,
    n: u32,
    now: Instant<HZ>,
) -> Decision<HZ> {
    // Relaxed: the word is the limiter's only shared datum, so a decision
    // depends on nothing else, and the compare-exchange below orders all
    // updates of it by itself (no other memory is published through it).
    let mut state = word.load(Ordering::Relaxed);
    loop {
        let (decision, next) = algorithm.decide(state, n, now);
        let Some(next) = next else {
            return decision;
        };
        // Relaxed on success and failure, for the reason above; a failure
        // hands back the state that won, and we decide again on it.
        match word.compare_exchange_weak(state, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return decision,
            Err(actual) => state = actual,
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
    // Relaxed: as in `check_word`; fetch_update is a compare-exchange loop on
    // the same word. The closure always returns `Some`, so it cannot fail.
    let previous = word.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |state| {
        Some(algorithm.refunded(state, n, now))
    });
    let previous = match previous {
        Ok(state) | Err(state) => state,
    };
    algorithm.status(algorithm.refunded(previous, n, now), now)
}
