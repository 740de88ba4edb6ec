//! The step of an algorithm: a pure function over one 64-bit state word.

use crate::answer::{Denied, Status};
use crate::time::{Duration, Instant};

/// What one step of an [`Algorithm`] decided, and what to store.
///
/// A denial carries no state: a refused check that writes something cannot
/// be written down, so it cannot happen. `T` is what an admission answers:
/// a [`Status`] for a check, the ready instant for a reservation.
///
/// ```compile_fail
/// use ratecore::answer::{Denied, ExceedsBurst};
/// use ratecore::kernel::Step;
///
/// // A denial that stores a state does not type-check.
/// let step: Step<1_000> = Step::Deny(Denied::ExceedsBurst(ExceedsBurst::new(3, 2)), 42);
/// ```
///
/// ```
/// use ratecore::answer::{Denied, ExceedsBurst};
/// use ratecore::kernel::Step;
///
/// let step: Step<1_000> = Step::Deny(Denied::ExceedsBurst(ExceedsBurst::new(3, 2)));
/// assert_eq!(step.stored(), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Step<const HZ: u64, T = Status<HZ>> {
    /// Admitted; the state word must become the given state (with a
    /// compare-and-swap against the state the step was computed from).
    Store(u64, T),
    /// Admitted; the state is unchanged, nothing is stored.
    Keep(T),
    /// Refused; nothing is stored.
    Deny(Denied<HZ>),
}

impl<const HZ: u64, T> Step<HZ, T> {
    /// The answer, without the state to store.
    ///
    /// # Errors
    ///
    /// The refusal of a [`Step::Deny`].
    #[inline(always)]
    pub fn answer(self) -> Result<T, Denied<HZ>> {
        match self {
            Self::Store(_, answer) | Self::Keep(answer) => Ok(answer),
            Self::Deny(denied) => Err(denied),
        }
    }

    /// The state to store, if the step stores one.
    #[inline(always)]
    pub const fn stored(&self) -> Option<u64> {
        match self {
            Self::Store(state, _) => Some(*state),
            Self::Keep(_) | Self::Deny(_) => None,
        }
    }

    /// The answer and the state to store, apart.
    #[inline(always)]
    pub fn split(self) -> (Result<T, Denied<HZ>>, Option<u64>) {
        match self {
            Self::Store(state, answer) => (Ok(answer), Some(state)),
            Self::Keep(answer) => (Ok(answer), None),
            Self::Deny(denied) => (Err(denied), None),
        }
    }

    /// The step as the compare-and-swap loop takes it: the answer, and the
    /// state to store if any.
    #[inline(always)]
    pub(crate) fn next(self) -> crate::kernel::cas::Next<u64, Result<T, Denied<HZ>>> {
        use crate::kernel::cas::Next;
        match self {
            Self::Store(state, answer) => Next::Store(state, Ok(answer)),
            Self::Keep(answer) => Next::Keep(Ok(answer)),
            Self::Deny(denied) => Next::Keep(Err(denied)),
        }
    }

    /// An admission that stores `next` unless it equals `state` (then it
    /// keeps the state).
    #[inline(always)]
    pub const fn admit(state: u64, next: u64, answer: T) -> Self {
        if next == state {
            Self::Keep(answer)
        } else {
            Self::Store(next, answer)
        }
    }
}

/// A rate-limit algorithm whose whole state is one `u64`: its configuration,
/// and the transition `(state, now, n) -> step` as a pure function.
///
/// This is the kernel every limiter of the crate is built on, and an
/// algorithm written in another crate is a first-class limiter through it:
/// [`WordLimiter`](crate::kernel::WordLimiter) gives it an atomic word of its
/// own, [`WordRef`](crate::kernel::WordRef) applies it to a word the caller
/// owns (a `static`), a [`KeyedLimiter`](crate::KeyedLimiter) keeps a state
/// per key, [`Tiers`](crate::Tiers) combine it with others, and a remote
/// store can read a word, [`decide`](Algorithm::decide) and commit the result
/// with a compare-and-set, expiring it after [`idle_after`](Algorithm::idle_after).
///
/// # Rules
///
/// An implementation MUST keep these; every container relies on them.
///
/// - The state `0` MUST be the fresh state: full, nothing used. (A `static`
///   word starts at zero, and a missing key in a store reads as zero.)
/// - `decide` MUST be pure: the same `(state, n, now)` gives the same step.
/// - `decide` with `n = 0` MUST admit and MUST NOT store (a zero-unit check
///   reports the state and changes nothing).
/// - A [`Step::Deny`] MUST mean that storing nothing is correct: the check
///   charged nothing.
/// - An instant earlier than one the state has seen (a stale reading) MUST
///   NOT admit more than the state's latest instant would.
/// - [`idle_after`](Algorithm::idle_after) MUST be exact or late, never early:
///   from the instant it names on, the state decides exactly as `0` does.
pub trait Algorithm<const HZ: u64> {
    /// A short name of the algorithm (`"gcra"`, `"fixed-window"`), for keys
    /// of remote stores and for saved states.
    const NAME: &'static str;

    /// A semaphore sets this: its units guard memory (a permit), so an
    /// admitted check acquires and a refund releases. Rate limiters leave it
    /// `false`: their word publishes nothing, and relaxed updates suffice.
    const GUARDS_MEMORY: bool = false;

    /// A stable hash of the configuration: two configurations with the same
    /// fingerprint read a state word alike. Keys of remote stores and saved
    /// states carry it, so a state is never read under other parameters.
    /// See [`fingerprint`](crate::kernel::fingerprint) for a helper.
    fn fingerprint(&self) -> u64;

    /// Decides `n` units at `now` from `state`.
    fn decide(&self, state: u64, n: u32, now: Instant<HZ>) -> Step<HZ>;

    /// [`decide`](Algorithm::decide) for `n` units at `now`, as a function of
    /// the state alone, built before the state word is loaded: a check
    /// calls this, then loads its word and applies the function (again on
    /// each retry of its compare-and-swap).
    ///
    /// Overriding it MUST NOT change a decision: `decider(n, now)(state)`
    /// MUST equal `decide(state, n, now)`. What it may change is when the
    /// configuration is read. Where the word shares a cache line with the
    /// configuration and threads contend for it, an implementation that
    /// reads its configuration here (and computes what depends on it and
    /// `now` alone) leaves fewer loads between the word's load and the
    /// compare-and-swap that must find it unchanged. The default reads
    /// everything inside [`decide`](Algorithm::decide), after the word.
    #[inline(always)]
    fn decider(&self, n: u32, now: Instant<HZ>) -> impl Fn(u64) -> Step<HZ> {
        #[inline(always)]
        move |state| self.decide(state, n, now)
    }

    /// The status at `now` of a limiter in `state`, changing nothing.
    fn status(&self, state: u64, now: Instant<HZ>) -> Status<HZ>;

    /// The state after giving back `n` units at `now` (capacity never rises
    /// above the burst).
    fn refund(&self, state: u64, n: u32, now: Instant<HZ>) -> u64;

    /// How long from `now` until `state` decides exactly as the fresh state
    /// `0` would, at that instant and every later one, for any sequence of
    /// checks: zero if it does already, `None` if the passage of time alone
    /// never makes it so (units in flight). A store may drop the state then
    /// (an expiry, a reclaimed slot).
    fn idle_after(&self, state: u64, now: Instant<HZ>) -> Option<Duration<HZ>>;

    /// Whether `state` is idle at `now`: see [`idle_after`](Algorithm::idle_after).
    #[inline]
    fn is_idle(&self, state: u64, now: Instant<HZ>) -> bool {
        matches!(self.idle_after(state, now), Some(wait) if wait.as_ticks() == 0)
    }

    /// [`is_idle`](Algorithm::is_idle) at `now` as a function of the state
    /// alone, built once for many states: a keyed table's insertion asks
    /// it of every slot of a window it scans.
    ///
    /// Overriding it MUST NOT change an answer: `idleness(now)(state)` MUST
    /// equal `is_idle(state, now)`. What it may change is what is computed
    /// per state: an implementation that computes what depends on `now`
    /// alone here (`Gcra`: the instant's virtual time) leaves one compare
    /// per state. The default calls `is_idle` for each state.
    #[inline(always)]
    fn idleness(&self, now: Instant<HZ>) -> impl Fn(u64) -> bool {
        #[inline(always)]
        move |state| self.is_idle(state, now)
    }

    /// Books `n` units at `now` for the first instant at which they fit, if
    /// that is at most `max_wait` after `now` (shaping instead of rejecting).
    ///
    /// Admits with the instant at which the units may be used. A refusal
    /// (the units do not fit within `max_wait`, or can never fit) is the
    /// denial a check at `now` would give.
    ///
    /// The default books nothing ahead: it is [`decide`](Algorithm::decide)
    /// at `now`, ready at once when admitted and refused otherwise.
    fn reserve(
        &self,
        state: u64,
        n: u32,
        now: Instant<HZ>,
        max_wait: Duration<HZ>,
    ) -> Step<HZ, Instant<HZ>> {
        let _ = max_wait;
        match self.decide(state, n, now) {
            Step::Store(next, _) => Step::Store(next, now),
            Step::Keep(_) => Step::Keep(now),
            Step::Deny(denied) => Step::Deny(denied),
        }
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
    fn take_back(&self, state: u64, n: u32, at: Instant<HZ>) -> Option<u64> {
        let _ = (state, n, at);
        None
    }
}

/// What [`Algorithm::reserve`] answers: the state to store with the instant
/// the units may be used.
pub(crate) type Booking<const HZ: u64> = Step<HZ, Instant<HZ>>;

crate::macros::forward_algorithm! {
    /// A reference to an algorithm is the algorithm: a configuration in a
    /// `const` or a `static` can be shared by many words.
    impl<A: ?Sized> for &A => |this| (**this)
}

/// FNV-1a over `words`, as a `const fn`: a stable configuration fingerprint
/// for [`Algorithm::fingerprint`]. Feed it the algorithm's name, the tick
/// rate and every number the decision reads.
///
/// ```
/// use ratecore::kernel::fingerprint;
///
/// const A: u64 = fingerprint(b"gcra", &[1_000, 100, 5]);
/// const B: u64 = fingerprint(b"gcra", &[1_000, 100, 6]);
/// assert_ne!(A, B);
/// ```
pub const fn fingerprint(name: &[u8], words: &[u64]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    const fn mix(mut hash: u64, mut bytes: &[u8]) -> u64 {
        while let [byte, rest @ ..] = bytes {
            hash = (hash ^ *byte as u64).wrapping_mul(PRIME);
            bytes = rest;
        }
        hash
    }
    let mut hash = mix(0xcbf2_9ce4_8422_2325, name);
    let mut words = words;
    while let [word, rest @ ..] = words {
        hash = mix(hash, &word.to_le_bytes());
        words = rest;
    }
    hash
}
