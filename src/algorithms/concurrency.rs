//! At most `k` units in flight.

use crate::answer::{AtCapacity, Denied, ExceedsBurst, Status};
use crate::kernel::{Algorithm, Limiter, Refund, Step, WordLimiter, fingerprint};
use crate::macros::const_fn;
use crate::quota::QuotaError;
use crate::time::{Duration, Instant};

/// Time plays no part in a concurrency limit; its word functions are
/// evaluated at this (arbitrary) tick rate.
const ANY_HZ: u64 = 1;

/// At most `limit` units in flight at once ("5 predictions at a time"), in
/// one atomic word.
///
/// [`try_acquire(n)`](ConcurrencyLimit::try_acquire) takes `n` units and
/// returns a [`Permit`] that gives them back when it is dropped: at the end
/// of its scope, on an early return, and (with `std`) when its holder panics
/// and unwinds. A refusal says how many units are in flight, for answers
/// such as "5/5 predictions running".
///
/// ```
/// use ratecore::ConcurrencyLimit;
///
/// static PREDICTIONS: ConcurrencyLimit = ratecore::const_unwrap!(ConcurrencyLimit::new(2));
///
/// let first = PREDICTIONS.try_acquire(1).unwrap();
/// let second = PREDICTIONS.try_acquire(1).unwrap();
/// let busy = PREDICTIONS.try_acquire(1).unwrap_err();
/// assert_eq!((busy.active, busy.limit), (2, 2));
/// drop(first);
/// assert!(PREDICTIONS.try_acquire(1).is_ok()); // dropped at once: released again
/// drop(second);
/// assert_eq!(PREDICTIONS.active(), 0);
/// ```
///
/// # As a limiter
///
/// It also implements [`Limiter`], [`Refund`] and [`Charge`](crate::kernel::Charge) (for every tick
/// rate: time plays no part), so it can stand with other limiters in generic
/// code. There a check acquires units *without* a permit, and the caller
/// gives them back with [`refund_n_at`](Refund::refund_n_at); prefer
/// `try_acquire` wherever the units are held in one scope. Its [`Status`]
/// reports `limit`, `remaining` = free units, and a `reset_after` of zero
/// (it does not refill with time: units come back when they are released).
/// A refusal is [`Denied::AtCapacity`], or [`Denied::ExceedsBurst`] when
/// `n > limit`. Undoing a [`Charge`](crate::kernel::Charge) is exact even when other units were
/// acquired or released since: counts commute.
///
/// # Progress
///
/// Acquiring is a compare-and-swap loop on the count, releasing an atomic
/// read-modify-write: lock-free where the target has a native 64-bit
/// compare-and-swap (see [`Gcra`](crate::Gcra#progress) for the others).
///
/// # Memory ordering
///
/// It is a semaphore: acquiring units (`try_acquire`, a check, a charge) is
/// an `Acquire` operation and giving them back (dropping the permit, a
/// refund) a `Release`, so everything a holder did before releasing
/// happens-before whatever the next holder of those units does. With a limit
/// of 1 the holders' sections are ordered one after another, as under a
/// lock. (Undoing a [`Charge`](crate::kernel::Charge) releases nothing: the units were never used.)
pub type ConcurrencyLimit = WordLimiter<ConcurrencyConfig>;

/// The configuration of a [`ConcurrencyLimit`]: the most units in flight.
/// The state word is the count in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConcurrencyConfig {
    limit: u32,
}

impl ConcurrencyConfig {
    /// At most `limit` units in flight.
    ///
    /// # Errors
    ///
    /// [`QuotaError::ZeroBurst`] for a zero limit.
    pub const fn new(limit: u32) -> Result<Self, QuotaError> {
        if limit == 0 {
            Err(QuotaError::ZeroBurst)
        } else {
            Ok(Self { limit })
        }
    }

    /// The most units in flight at once.
    pub const fn limit(&self) -> u32 {
        self.limit
    }

    const fn status<const HZ: u64>(&self, active: u32) -> Status<HZ> {
        Status::new(
            self.limit,
            self.limit.saturating_sub(active),
            Duration::<HZ>::from_ticks(0),
        )
    }
}

const fn clamp(state: u64) -> u32 {
    if state > u32::MAX as u64 {
        u32::MAX
    } else {
        state as u32
    }
}

impl WordLimiter<ConcurrencyConfig> {
    const_fn! {
        /// At most `limit` units in flight, none in flight now.
        ///
        /// # Errors
        ///
        /// [`QuotaError::ZeroBurst`] for a zero limit.
        pub const fn new(limit: u32) -> Result<Self, QuotaError> {
            match ConcurrencyConfig::new(limit) {
                Ok(config) => Ok(Self::from_algorithm(config)),
                Err(e) => Err(e),
            }
        }
    }

    /// The most units in flight at once.
    pub const fn limit(&self) -> u32 {
        self.algorithm().limit()
    }

    /// Units in flight now.
    pub fn active(&self) -> u32 {
        clamp(self.state())
    }

    /// Takes `n` units, held until the [`Permit`] is dropped.
    ///
    /// # Errors
    ///
    /// [`AtCapacity`](crate::answer::AtCapacity) when fewer than `n` units are free (with
    /// `requested > limit` when they can never be).
    pub fn try_acquire(&self, n: u32) -> Result<Permit<'_>, AtCapacity> {
        match self.check_n_at(n, Instant::<ANY_HZ>::from_ticks(0)) {
            Ok(_) => Ok(Permit { limit: self, n }),
            Err(Denied::AtCapacity(busy)) => Err(busy),
            Err(_) => Err(AtCapacity::new(n, self.active(), self.limit())),
        }
    }

    fn release(&self, n: u32) {
        let _ = self.refund_n_at(n, Instant::<ANY_HZ>::from_ticks(0));
    }
}

/// Units taken from a [`ConcurrencyLimit`], given back when dropped.
#[must_use = "dropping a permit releases its units at once"]
#[derive(Debug)]
pub struct Permit<'a> {
    limit: &'a ConcurrencyLimit,
    n: u32,
}

impl Permit<'_> {
    /// Units held.
    pub const fn units(&self) -> u32 {
        self.n
    }

    /// Gives the units back now (the same as dropping the permit).
    pub fn release(self) {
        drop(self);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.limit.release(self.n);
    }
}

/// The configuration alone (`limit`), applied to a state word holding the
/// count in flight: also for keyed tables of per-key concurrency limits.
impl<const HZ: u64> Algorithm<HZ> for ConcurrencyConfig {
    const NAME: &'static str = "concurrency";
    const GUARDS_MEMORY: bool = true;

    fn fingerprint(&self) -> u64 {
        fingerprint(b"concurrency", &[self.limit as u64])
    }

    fn decide(&self, state: u64, n: u32, _now: Instant<HZ>) -> Step<HZ> {
        let active = clamp(state);
        if n > self.limit {
            return Step::Deny(Denied::ExceedsBurst(ExceedsBurst::new(n, self.limit)));
        }
        if n == 0 {
            return Step::Keep(self.status(active));
        }
        match active.checked_add(n) {
            Some(after) if after <= self.limit => {
                Step::admit(state, after as u64, self.status(after))
            }
            _ => Step::Deny(Denied::AtCapacity(AtCapacity::new(n, active, self.limit))),
        }
    }

    fn status(&self, state: u64, _now: Instant<HZ>) -> Status<HZ> {
        ConcurrencyConfig::status(self, clamp(state))
    }

    fn refund(&self, state: u64, n: u32, _now: Instant<HZ>) -> u64 {
        state.saturating_sub(n as u64)
    }

    fn idle_after(&self, state: u64, _now: Instant<HZ>) -> Option<Duration<HZ>> {
        // Units come back when they are released, never with time.
        if state == 0 {
            Some(Duration::<HZ>::from_ticks(0))
        } else {
            None
        }
    }

    fn take_back(&self, state: u64, n: u32, _at: Instant<HZ>) -> Option<u64> {
        // Acquisitions and releases commute: taking our units out of the
        // count is exact whatever happened since.
        Some(state.saturating_sub(n as u64))
    }
}

crate::macros::defmt_format!(
    impl[] for Permit<'_> => |permit| "Permit {{ units: {=u32} }}", permit.n
);
