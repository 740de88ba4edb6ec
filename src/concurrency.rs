//! At most `k` units in flight.

use crate::algorithm::{Algorithm, acquire_word, peek_word, release_word, status_word, undo_word};
use crate::charge::{Charge, Receipt};
use crate::decision::{AtCapacity, Decision, Denied, ExceedsBurst, Status};
use crate::limiter::{Limiter, Refund};
use crate::macros::const_fn;
use crate::quota::QuotaError;
use crate::sync::{AtomicU64, Ordering};
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
/// It also implements [`Limiter`], [`Refund`] and [`Charge`] (for every tick
/// rate: time plays no part), so it can stand with other limiters in generic
/// code. There a check acquires units *without* a permit, and the caller
/// gives them back with [`refund_n_at`](Refund::refund_n_at); prefer
/// `try_acquire` wherever the units are held in one scope. Its [`Status`]
/// reports `limit`, `remaining` = free units, and a `reset_after` of zero
/// (it does not refill with time: units come back when they are released).
/// A refusal is [`Denied::AtCapacity`], or [`Denied::ExceedsBurst`] when
/// `n > limit`. Undoing a [`Charge`] is exact even when other units were
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
/// lock. (Undoing a [`Charge`] releases nothing: the units were never used.)
#[derive(Debug)]
pub struct ConcurrencyLimit {
    active: AtomicU64,
    limit: u32,
}

impl ConcurrencyLimit {
    const_fn! {
        /// A limit of `limit` units in flight, none taken.
        ///
        /// # Errors
        ///
        /// [`QuotaError::ZeroBurst`] for a limit of zero, which could admit nothing.
        pub const fn new(limit: u32) -> Result<Self, QuotaError> {
            if limit == 0 {
                Err(QuotaError::ZeroBurst)
            } else {
                Ok(Self { active: AtomicU64::new(0), limit })
            }
        }
    }

    /// The most units in flight at once.
    pub const fn limit(&self) -> u32 {
        self.limit
    }

    /// Units in flight now.
    pub fn active(&self) -> u32 {
        // Relaxed: a read of the count alone (see the type's docs).
        clamp(self.active.load(Ordering::Relaxed))
    }

    /// Takes `n` units, if that many are free, until the [`Permit`] is dropped.
    ///
    /// # Errors
    ///
    /// [`AtCapacity`] with the units in flight when fewer than `n` are free
    /// (and `requested > limit` when `n` could never fit). Nothing is taken.
    pub fn try_acquire(&self, n: u32) -> Result<Permit<'_>, AtCapacity> {
        match acquire_word(&self.active, self, n, Instant::<ANY_HZ>::from_ticks(0)) {
            Ok(_) => Ok(Permit { limit: self, n }),
            Err(Denied::AtCapacity(busy)) => Err(busy),
            Err(_) => Err(AtCapacity {
                requested: n,
                active: self.active(),
                limit: self.limit,
            }),
        }
    }

    fn release(&self, n: u32) {
        let _ = release_word(&self.active, self, n, Instant::<ANY_HZ>::from_ticks(0));
    }

    const fn status<const HZ: u64>(&self, active: u32) -> Status<HZ> {
        Status {
            limit: self.limit,
            remaining: self.limit.saturating_sub(active),
            reset_after: Duration::<HZ>::from_ticks(0),
        }
    }
}

/// A count read from a state word: at most `u32::MAX`.
const fn clamp(state: u64) -> u32 {
    if state > u32::MAX as u64 {
        u32::MAX
    } else {
        state as u32
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
/// count in flight: for keyed tables of per-key concurrency limits.
impl<const HZ: u64> Algorithm<HZ> for ConcurrencyLimit {
    const FRESH: u64 = 0;

    fn decide(&self, state: u64, n: u32, _now: Instant<HZ>) -> (Decision<HZ>, Option<u64>) {
        let active = clamp(state);
        if n > self.limit {
            let denied = Denied::ExceedsBurst(ExceedsBurst {
                requested: n,
                burst: self.limit,
            });
            return (Err(denied), None);
        }
        match active.checked_add(n) {
            // Zero units are always admitted: a check of nothing reports
            // the state.
            Some(after) if n == 0 || after <= self.limit => {
                let next = if n == 0 { None } else { Some(after as u64) };
                (Ok(self.status(after)), next)
            }
            _ => {
                let denied = Denied::AtCapacity(AtCapacity {
                    requested: n,
                    active,
                    limit: self.limit,
                });
                (Err(denied), None)
            }
        }
    }

    fn status(&self, state: u64, _now: Instant<HZ>) -> Status<HZ> {
        ConcurrencyLimit::status(self, clamp(state))
    }

    fn refunded(&self, state: u64, n: u32, _now: Instant<HZ>) -> u64 {
        state.saturating_sub(n as u64)
    }

    fn is_idle(&self, state: u64, _now: Instant<HZ>) -> bool {
        state == 0
    }

    fn uncharged(&self, state: u64, n: u32, _at: Instant<HZ>) -> Option<u64> {
        // Acquisitions and releases commute: taking our units out of the
        // count is exact whatever happened since.
        Some(state.saturating_sub(n as u64))
    }
}

impl<const HZ: u64> Limiter<HZ> for ConcurrencyLimit {
    fn check_n_at(&self, n: u32, now: Instant<HZ>) -> Decision<HZ> {
        acquire_word(&self.active, self, n, now).map(|(status, _)| status)
    }

    fn snapshot_at(&self, now: Instant<HZ>) -> Status<HZ> {
        status_word(&self.active, self, now)
    }
}

impl<const HZ: u64> Refund<HZ> for ConcurrencyLimit {
    fn refund_n_at(&self, n: u32, now: Instant<HZ>) -> Status<HZ> {
        release_word(&self.active, self, n, now)
    }
}

impl<const HZ: u64> Charge<HZ> for ConcurrencyLimit {
    fn peek_n_at(&self, n: u32, now: Instant<HZ>) -> Decision<HZ> {
        peek_word(&self.active, self, n, now)
    }

    fn charge_n_at(
        &self,
        n: u32,
        now: Instant<HZ>,
    ) -> Result<(Status<HZ>, Receipt<'_>), Denied<HZ>> {
        acquire_word(&self.active, self, n, now)
    }

    fn undo(&self, receipt: Receipt<'_>) -> bool {
        undo_word::<HZ, _>(&self.active, self, receipt)
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for ConcurrencyLimit {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "ConcurrencyLimit {{ active: {=u32}, limit: {=u32} }}",
            self.active(),
            self.limit
        );
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Permit<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Permit {{ units: {=u32} }}", self.n);
    }
}
