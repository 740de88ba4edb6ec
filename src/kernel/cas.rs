//! The one compare-and-swap loop per word width.
//!
//! Every update of a shared state word in the crate goes through
//! [`update`] (64-bit words: the one-word limiters, the circuit breaker, the
//! AIMD pacer) or [`update_wide`] (128-bit words: a `Reconfigurable`'s plan
//! and state, a keyed table's slot), so loom checks each loop once.

use crate::kernel::sync::{AtomicU64, AtomicU128, Ordering};

/// What one step of a loop asks for: store a new word and answer `R` once
/// the exchange succeeds, or answer `R` and store nothing.
///
/// An enum rather than `(R, Option<W>)`: through a tuple, the answer and the
/// `Option` went through the stack on every attempt of a loop whose step
/// builds a whole answer (19 instructions of each `Charge::charge_n_at`
/// of a `Gcra`).
pub(crate) enum Next<W, R> {
    /// Store the word, then answer.
    Store(W, R),
    /// Answer; the word stays as it is.
    Keep(R),
}

impl<W, R> Next<W, R> {
    /// From an answer and the word to store, if any.
    #[inline(always)]
    pub(crate) fn new(answer: R, store: Option<W>) -> Self {
        match store {
            Some(word) => Self::Store(word, answer),
            None => Self::Keep(answer),
        }
    }
}

/// Applies `step` to the state in `word` until the state it asks to store
/// ([`Next::Store`]) is stored, or it answers without one ([`Next::Keep`]),
/// storing with the ordering `stored`.
///
/// Returns `step`'s result and the states before and after it (equal when
/// nothing was stored). Lock-free where the target has a native 64-bit
/// compare-and-swap: an iteration fails only because another thread stored
/// a new state.
///
/// A rate limiter passes `Relaxed`: the word is its only shared datum, so a
/// decision depends on nothing else, and the compare-exchange orders all
/// updates of the word by itself (no other memory is published through
/// it). A semaphore passes `Acquire` for a charge, pairing with the
/// `Release` of its refunds, and `Release` for a refund.
#[inline(always)]
pub(crate) fn update<R>(
    word: &AtomicU64,
    stored: Ordering,
    mut step: impl FnMut(u64) -> Next<u64, R>,
) -> (R, u64, u64) {
    // Relaxed: a first guess; only the successful compare-exchange below
    // takes part in any synchronization (with the ordering `stored`).
    let mut state = word.load(Ordering::Relaxed);
    loop {
        let (result, next) = match step(state) {
            Next::Store(next, result) => (result, next),
            Next::Keep(result) => return (result, state, state),
        };
        // `stored` on success (see above); Relaxed on failure: a failure
        // hands back the state that won, and we decide again on it.
        match word.compare_exchange_weak(state, next, stored, Ordering::Relaxed) {
            Ok(_) => return (result, state, next),
            Err(actual) => {
                // A lost race, the rare path: laid out of the way of a
                // check that lands at once (see `contended`).
                contended();
                state = actual;
            }
        }
    }
}

/// Marks the path that calls it as rare, as a stable stand-in for
/// `core::hint::cold_path` (newer than our MSRV): a `#[cold]` function
/// inlined where it is called leaves the compiler's branch weights behind
/// and no call. With it on the failed exchange of [`update`], x86-64 code
/// keeps the retry out of the straight path of a check that lands at once:
/// 2 instructions fewer for an admitted `Gcra` check, 1 to 2 for most
/// one-word checks, none more for any (`.ci/instructions`), the same bytes
/// on Cortex-M. Out of line (`#[inline(never)]`) the call stayed where the
/// compiler could not prove it empty, and a check out of line then saved
/// five registers on every call. Not in [`update_wide`]: there it added up
/// to 3 instructions to a keyed hit and 36 to an insertion.
#[cold]
#[inline(always)]
fn contended() {}

/// [`update`] for a 128-bit word, starting from `state`, a value of the word
/// the caller has already read (with the ordering its protocol needs).
///
/// A `Reconfigurable` passes its plans' store ordering for `stored` and
/// `Relaxed` for `reread`.
#[inline(always)]
pub(crate) fn update_wide<R>(
    word: &AtomicU128,
    mut state: u128,
    stored: Ordering,
    reread: Ordering,
    mut step: impl FnMut(u128) -> Next<u128, R>,
) -> (R, u128, u128) {
    loop {
        let (result, next) = match step(state) {
            Next::Store(next, result) => (result, next),
            Next::Keep(result) => return (result, state, state),
        };
        match word.compare_exchange_weak(state, next, stored, reread) {
            Ok(_) => return (result, state, next),
            Err(actual) => state = actual,
        }
    }
}
