//! State stores for one word: an atomic word of the limiter's own, or one
//! the caller owns.

use crate::answer::{Decision, Denied, Status};
use crate::kernel::Algorithm;
use crate::kernel::Reservation;
use crate::kernel::cas::{Next, update};
use crate::kernel::sync::{AtomicU64, Ordering};
use crate::kernel::{Charge, Receipt};
use crate::kernel::{Limiter, Refund};
use crate::macros::const_fn;
use crate::time::{Duration, Instant};

/// What [`Charge::charge_n_at`] answers.
type Charged<'a, const HZ: u64> = Result<(Status<HZ>, Receipt<'a>), Denied<HZ>>;

/// An [`Algorithm`] applied to a state word the caller owns: a `static`
/// word of 8 bytes checked against a configuration in a `const`, a word in
/// shared memory, a field of the caller's own struct.
///
/// ```
/// use ratecore::kernel::{AtomicU64, WordRef};
/// use ratecore::{Gcra, Instant, Limiter, Quota, const_unwrap};
/// use ratecore::algorithms::GcraConfig;
///
/// // 8 bytes of RAM; the configuration folds into the code.
/// static STATE: AtomicU64 = AtomicU64::new(0);
/// const UART: GcraConfig<1_000> = const_unwrap!(GcraConfig::new(Quota::per_second(10).burst(2)));
///
/// let limiter = WordRef::new(&STATE, &UART);
/// let t = Instant::<1_000>::from_ticks(0);
/// assert!(limiter.check_at(t).is_ok());
/// assert!(limiter.check_at(t).is_ok());
/// assert!(limiter.check_at(t).is_err());
/// ```
#[derive(Debug)]
pub struct WordRef<'w, A> {
    word: &'w AtomicU64,
    algorithm: &'w A,
}

impl<A> Clone for WordRef<'_, A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A> Copy for WordRef<'_, A> {}

impl<'w, A> WordRef<'w, A> {
    /// `algorithm` applied to `word`. A word of `0` is a fresh limiter.
    pub const fn new(word: &'w AtomicU64, algorithm: &'w A) -> Self {
        Self { word, algorithm }
    }

    /// The algorithm (the configuration).
    pub const fn algorithm(&self) -> &'w A {
        self.algorithm
    }

    /// The word itself, for a limiter of the crate with a step of its own
    /// (the log limiter's, which stores on both of its verdicts).
    pub(crate) const fn word(&self) -> &'w AtomicU64 {
        self.word
    }

    /// The state word as it is now (to save it, or to inspect it).
    pub fn state(&self) -> u64 {
        // Relaxed: one read of the only shared datum.
        self.word.load(Ordering::Relaxed)
    }
}

/// The ordering of a store that charges units: `Acquire` for a semaphore
/// (pairs with the `Release` of [`give_back_ordering`]), `Relaxed` for a rate
/// limiter (its word publishes nothing).
const fn charge_ordering(guards_memory: bool) -> Ordering {
    if guards_memory {
        Ordering::Acquire
    } else {
        Ordering::Relaxed
    }
}

/// The ordering of a store that gives units back: `Release` for a semaphore
/// (pairs with the `Acquire` of [`charge_ordering`]: everything a holder did
/// before giving its units back happens-before whatever the next holder of
/// those units does; every later update of the word is a read-modify-write,
/// so it continues this release sequence), `Relaxed` for a rate limiter.
const fn give_back_ordering(guards_memory: bool) -> Ordering {
    if guards_memory {
        Ordering::Release
    } else {
        Ordering::Relaxed
    }
}

impl<'w, A> WordRef<'w, A> {
    /// [`Charge::charge_n_at`] with a receipt that lives as long as the word's
    /// borrow.
    #[inline]
    fn charge<const HZ: u64>(
        self,
        n: u32,
        now: Instant<HZ>,
    ) -> Result<(Status<HZ>, Receipt<'w>), Denied<HZ>>
    where
        A: Algorithm<HZ>,
    {
        let decide = self.algorithm.decider(n, now);
        let (decision, before, after) =
            update(self.word, charge_ordering(A::GUARDS_MEMORY), |state| {
                decide(state).next()
            });
        decision.map(|status| (status, Receipt::new(before, after, n, now.as_ticks())))
    }

    /// Books `n` units at `now` for the first instant at which they fit, if
    /// that is at most `max_wait` away: see [`Algorithm::reserve`]. The
    /// returned [`Reservation`] says when they may be used.
    ///
    /// # Errors
    ///
    /// The denial a check at `now` would give, when the units do not fit
    /// within `max_wait` or can never fit. A refusal changes nothing.
    pub fn reserve_n_at<const HZ: u64>(
        &self,
        n: u32,
        now: Instant<HZ>,
        max_wait: Duration<HZ>,
    ) -> Result<Reservation<'w, HZ, A>, Denied<HZ>>
    where
        A: Algorithm<HZ>,
    {
        let algorithm = self.algorithm;
        let (booking, before, after) = update(self.word, charge_ordering(A::GUARDS_MEMORY), |s| {
            algorithm.reserve(s, n, now, max_wait).next()
        });
        let ready = booking?;
        let receipt = Receipt::new(before, after, n, ready.as_ticks());
        Ok(Reservation::new(self.word, algorithm, receipt, ready))
    }
}

impl<const HZ: u64, A: Algorithm<HZ>> Limiter<HZ> for WordRef<'_, A> {
    #[inline(always)]
    fn check_n_at(&self, n: u32, now: Instant<HZ>) -> Decision<HZ> {
        let decide = self.algorithm.decider(n, now);
        // The closure is inlined too: out of line, it returned the whole
        // answer through memory on every call, and the benches showed it.
        update(
            self.word,
            charge_ordering(A::GUARDS_MEMORY),
            #[inline(always)]
            |state| decide(state).next(),
        )
        .0
    }

    #[inline]
    fn snapshot_at(&self, now: Instant<HZ>) -> Status<HZ> {
        // Relaxed: one read of the only shared datum (see `update`).
        self.algorithm
            .status(self.word.load(Ordering::Relaxed), now)
    }
}

impl<const HZ: u64, A: Algorithm<HZ>> Refund<HZ> for WordRef<'_, A> {
    fn refund_n_at(&self, n: u32, now: Instant<HZ>) -> Status<HZ> {
        let algorithm = self.algorithm;
        let (_, _, after) = update(self.word, give_back_ordering(A::GUARDS_MEMORY), |state| {
            Next::Store(algorithm.refund(state, n, now), ())
        });
        algorithm.status(after, now)
    }
}

/// A member of [`Tiers`](crate::Tiers): a charge is undone by restoring the
/// word it replaced.
impl<const HZ: u64, A: Algorithm<HZ>> Charge<HZ> for WordRef<'_, A> {
    #[inline]
    fn peek_n_at(&self, n: u32, now: Instant<HZ>) -> Decision<HZ> {
        // Relaxed: one read of the only shared datum (see `update`).
        self.algorithm
            .decide(self.word.load(Ordering::Relaxed), n, now)
            .answer()
    }

    #[inline]
    fn charge_n_at(&self, n: u32, now: Instant<HZ>) -> Charged<'_, HZ> {
        self.charge(n, now)
    }

    #[inline]
    fn undo(&self, receipt: Receipt<'_>) -> bool {
        restore(
            self.word,
            self.algorithm,
            receipt,
            receipt.before,
            receipt.n,
        )
    }
}

/// Replaces the charge of `receipt` on `word` by `replacement` (a state
/// computed from `receipt.before`), giving back `give_back` units.
///
/// If the word still holds the state the charge stored, it is swapped for
/// `replacement`: bit-exact, as if the charge had been `replacement`'s from
/// the start. Otherwise other operations have acted on top of the charge and
/// their decisions assumed it; the word is then changed only as far as
/// [`Algorithm::take_back`] says is safe, else left alone (the charge is
/// kept: stricter, never looser). Returns whether the units were given back.
///
/// A word that left the charged state and came back to it through units
/// operations that cancel out (a refund, then a check) is treated as
/// untouched: their net effect on the units was nil. Operations that are not
/// units operations (a reset) take `&mut` access, which no receipt outlives.
pub(crate) fn restore<const HZ: u64, A: Algorithm<HZ>>(
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
    let ordering = give_back_ordering(A::GUARDS_MEMORY);
    let mut current = receipt.after;
    loop {
        let next = if current == receipt.after {
            replacement
        } else {
            match algorithm.take_back(current, give_back, at) {
                Some(next) => next,
                None => return false,
            }
        };
        // A strong compare-exchange: a spurious failure would send an
        // untouched word down the `take_back` path.
        match word.compare_exchange(current, next, ordering, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(actual) => current = actual,
        }
    }
}

/// An [`Algorithm`] with an atomic state word of its own: the limiter every
/// one-word algorithm of the crate is ([`Gcra`](crate::Gcra) is
/// `WordLimiter<GcraConfig>`), and the one an algorithm from another crate
/// becomes.
///
/// Its size is the algorithm's plus 8 bytes. For 8 bytes of RAM with the
/// configuration in flash or folded into the code, use [`WordRef`] on a
/// `static` word.
#[derive(Debug)]
pub struct WordLimiter<A> {
    word: AtomicU64,
    algorithm: A,
}

impl<A> WordLimiter<A> {
    const_fn! {
        /// A fresh limiter (state `0`) for `algorithm`.
        pub const fn from_algorithm(algorithm: A) -> Self {
            Self {
                word: AtomicU64::new(0),
                algorithm,
            }
        }
    }

    /// The algorithm (the configuration).
    pub const fn algorithm(&self) -> &A {
        &self.algorithm
    }

    /// The limiter as a [`WordRef`]: its word and its algorithm.
    #[inline(always)]
    pub const fn as_word_ref(&self) -> WordRef<'_, A> {
        WordRef::new(&self.word, &self.algorithm)
    }

    /// The state word as it is now (to save it, or to inspect it).
    pub fn state(&self) -> u64 {
        self.as_word_ref().state()
    }

    /// Makes the limiter fresh (full), as if it had been idle forever.
    ///
    /// Takes `&mut self`: a reset forgives units, so no [`Receipt`] or
    /// [`Reservation`] of this limiter may outlive it (an undo after a reset
    /// could give back units that a later check took).
    pub fn reset(&mut self) {
        // Relaxed: `&mut self` excludes every other access.
        self.word.store(0, Ordering::Relaxed);
    }

    /// Replaces the state (`&mut self`: nothing else sees the limiter
    /// meanwhile).
    pub(crate) fn set_state(&mut self, state: u64) {
        // Relaxed: `&mut self` excludes every other access.
        self.word.store(state, Ordering::Relaxed);
    }

    /// Replaces the algorithm and the state together (`&mut self`: nothing
    /// else sees the limiter meanwhile).
    pub(crate) fn replace(&mut self, algorithm: A, state: u64) {
        self.algorithm = algorithm;
        // Relaxed: `&mut self` excludes every other access.
        self.word.store(state, Ordering::Relaxed);
    }

    /// Books `n` units at `now`: see [`WordRef::reserve_n_at`].
    ///
    /// # Errors
    ///
    /// As [`WordRef::reserve_n_at`].
    pub fn reserve_n_at<const HZ: u64>(
        &self,
        n: u32,
        now: Instant<HZ>,
        max_wait: Duration<HZ>,
    ) -> Result<Reservation<'_, HZ, A>, Denied<HZ>>
    where
        A: Algorithm<HZ>,
    {
        self.as_word_ref().reserve_n_at(n, now, max_wait)
    }
}

/// The [`Limiter`], [`Refund`] and [`Charge`] of a limiter that owns its
/// word, each the [`WordRef`] of `as_word_ref()`.
macro_rules! forward_to_word_ref {
    ($limiter:ident) => {
        impl<const HZ: u64, A: Algorithm<HZ>> Limiter<HZ> for $limiter<A> {
            #[inline(always)]
            fn check_n_at(&self, n: u32, now: Instant<HZ>) -> Decision<HZ> {
                self.as_word_ref().check_n_at(n, now)
            }

            #[inline]
            fn snapshot_at(&self, now: Instant<HZ>) -> Status<HZ> {
                self.as_word_ref().snapshot_at(now)
            }
        }

        impl<const HZ: u64, A: Algorithm<HZ>> Refund<HZ> for $limiter<A> {
            fn refund_n_at(&self, n: u32, now: Instant<HZ>) -> Status<HZ> {
                self.as_word_ref().refund_n_at(n, now)
            }
        }

        impl<const HZ: u64, A: Algorithm<HZ>> Charge<HZ> for $limiter<A> {
            #[inline]
            fn peek_n_at(&self, n: u32, now: Instant<HZ>) -> Decision<HZ> {
                self.as_word_ref().peek_n_at(n, now)
            }

            #[inline]
            fn charge_n_at(&self, n: u32, now: Instant<HZ>) -> Charged<'_, HZ> {
                self.as_word_ref().charge(n, now)
            }

            #[inline]
            fn undo(&self, receipt: Receipt<'_>) -> bool {
                self.as_word_ref().undo(receipt)
            }
        }
    };
}

forward_to_word_ref!(WordLimiter);
forward_to_word_ref!(PaddedWordLimiter);

/// A value alone on its cache line: aligned, and so padded, to 128 bytes
/// (two 64-byte lines, which x86 prefetchers fetch in pairs).
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct CacheAligned<T>(pub T);

/// A [`WordLimiter`] whose state word has a cache line of its own, for
/// servers whose threads hammer one limiter: opt-in, since it takes 256
/// bytes where a `WordLimiter` takes the configuration plus 8.
///
/// In a `WordLimiter` the word shares a line with the configuration that
/// every check reads, so each compare-and-swap of one thread takes that line
/// from the others' caches, configuration and all. Here a store invalidates
/// the word's line alone, and the configuration stays shared in every cache.
///
/// ```
/// use ratecore::kernel::PaddedWordLimiter;
/// use ratecore::algorithms::GcraConfig;
/// use ratecore::{Instant, Limiter, Quota};
///
/// let limiter = PaddedWordLimiter::from_algorithm(
///     GcraConfig::<1_000>::new(Quota::per_second(10).burst(2)).unwrap(),
/// );
/// let t = Instant::<1_000>::from_ticks(0);
/// assert!(limiter.check_at(t).is_ok());
/// assert!(limiter.check_at(t).is_ok());
/// assert!(limiter.check_at(t).is_err());
/// ```
#[derive(Debug)]
pub struct PaddedWordLimiter<A> {
    word: CacheAligned<AtomicU64>,
    algorithm: A,
}

impl<A> PaddedWordLimiter<A> {
    const_fn! {
        /// A fresh limiter (state `0`) for `algorithm`.
        pub const fn from_algorithm(algorithm: A) -> Self {
            Self {
                word: CacheAligned(AtomicU64::new(0)),
                algorithm,
            }
        }
    }

    /// The algorithm (the configuration).
    pub const fn algorithm(&self) -> &A {
        &self.algorithm
    }

    /// The limiter as a [`WordRef`]: its word and its algorithm.
    #[inline(always)]
    pub const fn as_word_ref(&self) -> WordRef<'_, A> {
        WordRef::new(&self.word.0, &self.algorithm)
    }

    /// The state word as it is now (to save it, or to inspect it).
    pub fn state(&self) -> u64 {
        self.as_word_ref().state()
    }
}

crate::macros::forward_algorithm! {
    /// A limiter doubles as its configuration: a keyed table of
    /// `WordLimiter<A>` plans decides with their algorithms and ignores their
    /// own words.
    impl<A> for WordLimiter<A> => |this| this.algorithm
}

#[cfg(feature = "defmt")]
impl<A: defmt::Format> defmt::Format for WordLimiter<A> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "WordLimiter {{ algorithm: {}, state: {=u64:#x} }}",
            self.algorithm,
            self.state()
        );
    }
}
