//! The exact sliding log: a ring of admitted checks' timestamps.

use core::mem::ManuallyDrop;

use heapless::Deque;

use crate::algorithms::grid::{wait_until, window_ticks};
use crate::answer::{Decision, Denied, ExceedsBurst, RateLimited, Status};
use crate::quota::{Quota, QuotaError};
use crate::time::{Duration, Instant};

/// One admitted check (or several at the same instant, merged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    at: u64,
    units: u32,
}

/// Exactly at most `limit` units in any span of length `W`: a log of the
/// admitted checks in a fixed ring of `N` entries.
///
/// A unit admitted at instant `a` counts until `a + W` (exclusive), so a check
/// of `n` at `now` is admitted iff the units admitted in the trailing
/// half-open span `(now - W, now]` plus `n` are at most `limit`; no half-open
/// span of `W` ticks ever holds more than `limit` units. There is no
/// estimate and no rounding (`W` is the quota's period rounded up to whole
/// ticks, which is stricter).
///
/// ```
/// use ratecore::{Instant, Quota, SlidingLog};
///
/// // 3 units per second, in a log of 3 entries (48 bytes of them).
/// let mut log = SlidingLog::<1_000, 3>::new(Quota::per_second(3)).unwrap();
/// let t = |ms| Instant::<1_000>::from_ticks(ms);
/// assert!(log.check_n_at(2, t(100)).is_ok());
/// assert!(log.check_at(t(700)).is_ok());
/// let denied = log.check_at(t(800)).unwrap_err();
/// assert_eq!(denied.retry_after().unwrap().as_ticks(), 300); // the units of t=100 expire at 1100
/// assert_eq!(log.check_n_at(2, t(1_100)).unwrap().remaining(), 0);
/// ```
///
/// # Memory
///
/// Each entry is an instant and a unit count, 16 bytes (12 where `u64` is
/// 4-byte aligned); checks at the same instant share one entry. A log takes
/// `16 * N + 56` bytes on 64-bit targets (a little less on 32-bit ones),
/// inline, with no allocation: `SlidingLog<_, 100>` is 1,656 bytes. Since every entry holds
/// at least one unit, `N >= limit` entries always suffice, and construction
/// demands it ([`QuotaError::LimitTooLarge`] otherwise), so a check is never
/// refused for want of an entry. Checks cost time linear in the number of
/// entries that expire, and a denial walks the log to find `retry_after`.
///
/// # Sharing
///
/// `SlidingLog` itself is used through `&mut self` (one owner, or inside your
/// own lock). With the `critical-section` feature,
/// `SharedSlidingLog` puts it behind a `critical_section::Mutex` and
/// implements [`Limiter`](crate::Limiter) through `&self`.
///
/// # Answers and time
///
/// `remaining` is exact, `retry_after` is the exact first instant at which
/// enough units have expired, and `reset_after` the instant the last counted
/// unit expires. The quota's burst must equal its count, as for
/// [`FixedWindow`](crate::FixedWindow#answers).
///
/// A stale `now`, earlier than the latest admitted check, is evaluated (and
/// recorded) at that latest instant: a fresh reading can only see fewer units.
/// Units admitted within `W` ticks of the end of the `u64` tick line never
/// expire (stricter), and `retry_after` is then not exact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlidingLog<const HZ: u64, const N: usize> {
    /// Admitted checks, oldest first, instants non-decreasing. Entries that
    /// have expired are dropped at the next admitted check.
    ///
    /// In `ManuallyDrop` because `Deque` has a destructor (a no-op for `Copy`
    /// entries), and a type with one cannot be taken out of a `Result` in a
    /// constant: without it, `const_unwrap!(SlidingLog::new(..))` would not
    /// compile. Nothing leaks: entries own nothing.
    entries: ManuallyDrop<Deque<Entry, N>>,
    /// Units in all entries, expired or not.
    held: u64,
    /// The latest instant any units were recorded at: stale readings are
    /// evaluated there. Kept apart from the entries because an undo can
    /// remove the latest entry, and the floor must not move back with it
    /// (an older entry dropped as expired by that record would count again
    /// at a stale instant that no longer sees it).
    latest: u64,
    width: u64,
    limit: u32,
}

/// The log as seen from one instant.
#[derive(Clone, Copy)]
struct Seen {
    /// The instant evaluated: `now`, or the latest entry's if later.
    at: u64,
    /// Entries (a prefix of the log) that have expired by then, and their units.
    expired: usize,
    expired_units: u64,
    /// Units still counted.
    counted: u64,
}

impl<const HZ: u64, const N: usize> SlidingLog<HZ, N> {
    /// An empty log for `quota`, in ticks of `1 / HZ` seconds.
    ///
    /// `N` must be at least 1 (a compile-time error otherwise).
    ///
    /// # Errors
    ///
    /// A [`QuotaError`]: the quota is zero somewhere, its burst differs from
    /// its count ([`BurstUnsupported`](QuotaError::BurstUnsupported)), its
    /// period does not fit 64-bit ticks ([`TooLarge`](QuotaError::TooLarge)),
    /// or its count is larger than `N` ([`LimitTooLarge`](QuotaError::LimitTooLarge)).
    pub const fn new(quota: Quota) -> Result<Self, QuotaError> {
        let width = match window_ticks(&quota, HZ) {
            Ok(w) => w,
            Err(e) => return Err(e),
        };
        if quota.count() as u128 > N as u128 {
            return Err(QuotaError::LimitTooLarge);
        }
        Ok(Self {
            entries: ManuallyDrop::new(Deque::new()),
            held: 0,
            latest: 0,
            width,
            limit: quota.count(),
        })
    }

    /// The most units admitted in any span of length `W`.
    pub const fn limit(&self) -> u32 {
        self.limit
    }

    /// The span length `W`.
    pub const fn window(&self) -> Duration<HZ> {
        Duration::<HZ>::from_ticks(self.width)
    }

    /// Empties the log, as if nothing had ever been admitted.
    pub fn reset(&mut self) {
        self.entries.clear();
        self.held = 0;
        self.latest = 0;
    }

    /// The instant `at` of an entry stops counting, if it ever does.
    const fn expiry(&self, at: u64) -> Option<u64> {
        at.checked_add(self.width)
    }

    fn see(&self, now: u64) -> Seen {
        let at = if self.latest > now { self.latest } else { now };
        let mut expired = 0usize;
        let mut expired_units = 0u64;
        for entry in self.entries.iter() {
            match self.expiry(entry.at) {
                Some(end) if end <= at => {
                    expired = expired.saturating_add(1);
                    expired_units = expired_units.saturating_add(entry.units as u64);
                }
                _ => break,
            }
        }
        Seen {
            at,
            expired,
            expired_units,
            counted: self.held.saturating_sub(expired_units),
        }
    }

    /// Ticks from `now` until every counted unit has expired.
    fn reset_after(&self, seen: &Seen, now: u64) -> u64 {
        match self.entries.back() {
            Some(latest) if seen.counted > 0 => {
                wait_until((latest.at as u128).saturating_add(self.width as u128), now)
            }
            _ => 0,
        }
    }

    fn status(&self, seen: &Seen, now: u64) -> Status<HZ> {
        /* `counted <= limit`: every admitted check kept it so. */
        Status::new(
            self.limit,
            (self.limit as u64).saturating_sub(seen.counted) as u32,
            Duration::<HZ>::from_ticks(self.reset_after(seen, now)),
        )
    }

    /// Checks `n` units at `now` and, if they are admitted, records them.
    ///
    /// A denial changes nothing; `n = 0` records nothing.
    ///
    /// # Errors
    ///
    /// [`Denied::RateLimited`] with the exact `retry_after` when the trailing
    /// span holds more than `limit - n` units; [`Denied::ExceedsBurst`] when
    /// `n > limit`.
    pub fn check_n_at(&mut self, n: u32, now: Instant<HZ>) -> Decision<HZ> {
        self.charge_n_at(n, now).map(|(status, _)| status)
    }

    /// What [`check_n_at`](SlidingLog::check_n_at) would answer now,
    /// recording nothing.
    ///
    /// # Errors
    ///
    /// As [`check_n_at`](SlidingLog::check_n_at).
    pub fn peek_n_at(&self, n: u32, now: Instant<HZ>) -> Decision<HZ> {
        self.decide(n, now.as_ticks()).map(|(status, _)| status)
    }

    /// [`check_n_at`](SlidingLog::check_n_at), also returning the tick the
    /// units were recorded at (the evaluated instant), for
    /// [`undo_n_at`](SlidingLog::undo_n_at).
    ///
    /// # Errors
    ///
    /// As [`check_n_at`](SlidingLog::check_n_at).
    pub fn charge_n_at(
        &mut self,
        n: u32,
        now: Instant<HZ>,
    ) -> Result<(Status<HZ>, u64), Denied<HZ>> {
        let (status, seen) = self.decide(n, now.as_ticks())?;
        if n > 0 {
            self.record(&seen, n);
        }
        Ok((status, seen.at))
    }

    /// The decision for `n` units at `now`, and the view it was made from.
    fn decide(&self, n: u32, now: u64) -> Result<(Status<HZ>, Seen), Denied<HZ>> {
        if n > self.limit {
            return Err(Denied::ExceedsBurst(ExceedsBurst::new(n, self.limit)));
        }
        let seen = self.see(now);
        let room = (self.limit as u64).saturating_sub(seen.counted);
        if (n as u64) <= room {
            // The status after recording: `n` more counted, and if any were
            // recorded, the latest entry is at the evaluated instant.
            let reset_after = if n > 0 {
                wait_until((seen.at as u128).saturating_add(self.width as u128), now)
            } else {
                self.reset_after(&seen, now)
            };
            let status = Status::new(
                self.limit,
                room.saturating_sub(n as u64) as u32,
                Duration::<HZ>::from_ticks(reset_after),
            );
            Ok((status, seen))
        } else {
            let limited = RateLimited::new(
                self.limit,
                room as u32,
                Duration::<HZ>::from_ticks(self.retry_after(&seen, n, now)),
                Duration::<HZ>::from_ticks(self.reset_after(&seen, now)),
            );
            Err(Denied::RateLimited(limited))
        }
    }

    /// Takes back `n` units recorded at tick `at` by
    /// [`charge_n_at`](SlidingLog::charge_n_at); returns whether they were
    /// there to take.
    ///
    /// Exact whatever was recorded since: the log counts units per instant,
    /// and a log with some admitted units removed still holds at most
    /// `limit` in any span (a subset of an admitted set is admitted). Units
    /// that have expired and been dropped are not there any more, and
    /// nothing is taken (they no longer count anyway).
    pub fn undo_n_at(&mut self, n: u32, at: u64) -> bool {
        let mut found = false;
        for entry in self.entries.iter_mut() {
            if entry.at == at && entry.units >= n && n > 0 {
                entry.units = entry.units.saturating_sub(n);
                found = true;
                break;
            }
        }
        if !found {
            return false;
        }
        self.held = self.held.saturating_sub(n as u64);
        // Drop the entry if it is now empty, keeping every entry at least one
        // unit (the bound on entries that makes `record` infallible): rotate
        // the ring once, leaving the empty entry out. At most `N` moves, and
        // the ring only shrinks, so no push can fail.
        let len = self.entries.len();
        for _ in 0..len {
            if let Some(entry) = self.entries.pop_front() {
                if entry.units > 0 {
                    let _ = self.entries.push_back(entry);
                }
            }
        }
        true
    }

    /// Checks one unit at `now`. See [`check_n_at`](SlidingLog::check_n_at).
    ///
    /// # Errors
    ///
    /// As [`check_n_at`](SlidingLog::check_n_at).
    pub fn check_at(&mut self, now: Instant<HZ>) -> Decision<HZ> {
        self.check_n_at(1, now)
    }

    /// The state at `now`, without changing anything (a peek).
    pub fn snapshot_at(&self, now: Instant<HZ>) -> Status<HZ> {
        let now = now.as_ticks();
        self.status(&self.see(now), now)
    }

    /// Drops the expired entries and records `n >= 1` units at `seen.at`.
    fn record(&mut self, seen: &Seen, n: u32) {
        for _ in 0..seen.expired {
            let _ = self.entries.pop_front();
        }
        self.held = self.held.saturating_sub(seen.expired_units);
        self.held = self.held.saturating_add(n as u64);
        self.latest = seen.at;
        match self.entries.back_mut() {
            // Instants never decrease along the log, so equal ones are adjacent.
            Some(latest) if latest.at == seen.at => {
                latest.units = latest.units.saturating_add(n);
            }
            _ => {
                // Cannot fail: every counted entry holds at least one unit and
                // they hold at most `limit - n < limit <= N` units together,
                // so fewer than `N` entries remain after the expired ones.
                let _ = self.entries.push_back(Entry {
                    at: seen.at,
                    units: n,
                });
            }
        }
    }

    /// Ticks from `now` until enough units have expired for `n` more.
    fn retry_after(&self, seen: &Seen, n: u32, now: u64) -> u64 {
        // `counted + n > limit`: this many must expire first.
        let excess = seen
            .counted
            .saturating_add(n as u64)
            .saturating_sub(self.limit as u64);
        let mut freed = 0u64;
        let mut at = u128::MAX;
        for entry in self.entries.iter().skip(seen.expired) {
            freed = freed.saturating_add(entry.units as u64);
            if freed >= excess {
                at = (entry.at as u128).saturating_add(self.width as u128);
                break;
            }
        }
        wait_until(at, now)
    }
}

crate::macros::defmt_format!(
    impl[const HZ: u64, const N: usize] for SlidingLog<HZ, N> => |log|
        "SlidingLog {{ limit: {}, window: {} ticks, entries: {}/{} }}",
        log.limit,
        log.width,
        log.entries.len(),
        N,
);

#[cfg(feature = "critical-section")]
pub use shared::SharedSlidingLog;

#[cfg(feature = "critical-section")]
mod shared {
    use core::cell::RefCell;

    use super::SlidingLog;
    use crate::answer::{Decision, Denied, RateLimited, Status};
    use crate::kernel::{Charge, Limiter, Receipt};
    use crate::quota::{Quota, QuotaError};
    use crate::time::{Duration, Instant};

    /// A [`SlidingLog`] shared through a `critical_section::Mutex`: the
    /// [`Limiter`] for the exact log.
    ///
    /// Needs the `critical-section` feature.
    ///
    /// Each operation runs in one critical section, as long as the log's walk
    /// over its expired entries (or, on a denial, its counted ones). The
    /// application provides the critical-section implementation, as for the
    /// `critical-section` feature's atomics; on a host, the `critical-section`
    /// crate's `std` feature is one.
    ///
    /// ```
    /// # fn main() {
    /// # #[cfg(feature = "critical-section")] {
    /// use ratecore::{Instant, Limiter, Quota, algorithms::SharedSlidingLog};
    ///
    /// static LOG: SharedSlidingLog<1_000, 10> =
    ///     ratecore::const_unwrap!(SharedSlidingLog::new(Quota::per_second(10)));
    /// assert!(LOG.check_n_at(10, Instant::<1_000>::from_ticks(0)).is_ok());
    /// assert!(LOG.check_at(Instant::<1_000>::from_ticks(999)).is_err());
    /// # }
    /// # }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "critical-section")))]
    pub struct SharedSlidingLog<const HZ: u64, const N: usize> {
        log: critical_section::Mutex<RefCell<SlidingLog<HZ, N>>>,
    }

    impl<const HZ: u64, const N: usize> SharedSlidingLog<HZ, N> {
        /// An empty shared log for `quota`.
        ///
        /// # Errors
        ///
        /// As [`SlidingLog::new`].
        pub const fn new(quota: Quota) -> Result<Self, QuotaError> {
            match SlidingLog::new(quota) {
                Ok(log) => Ok(Self::from_log(log)),
                Err(e) => Err(e),
            }
        }

        /// Shares `log`.
        pub const fn from_log(log: SlidingLog<HZ, N>) -> Self {
            Self {
                log: critical_section::Mutex::new(RefCell::new(log)),
            }
        }

        /// The log, through exclusive access (no critical section needed).
        pub fn get_mut(&mut self) -> &mut SlidingLog<HZ, N> {
            self.log.get_mut().get_mut()
        }

        /// The log, unshared.
        pub fn into_inner(self) -> SlidingLog<HZ, N> {
            self.log.into_inner().into_inner()
        }

        /// Runs `f` on the log inside a critical section, or returns `None` if
        /// the log is already borrowed. That cannot happen: no code outside
        /// this module runs while it is borrowed. It keeps the path free of
        /// panics all the same.
        fn with<R>(&self, f: impl FnOnce(&mut SlidingLog<HZ, N>) -> R) -> Option<R> {
            critical_section::with(|cs| match self.log.borrow(cs).try_borrow_mut() {
                Ok(mut log) => Some(f(&mut log)),
                Err(_) => None,
            })
        }

        /// `f`'s decision on the log, or, if the log is borrowed (unreachable,
        /// see `with`), a denial, which never over-admits.
        fn decide_or_deny(
            &self,
            f: impl FnOnce(&mut SlidingLog<HZ, N>) -> Decision<HZ>,
        ) -> Decision<HZ> {
            match self.with(f) {
                Some(decision) => decision,
                None => Err(Denied::RateLimited(RateLimited::new(
                    self.limit(),
                    0,
                    Duration::<HZ>::from_ticks(1),
                    Duration::<HZ>::from_ticks(1),
                ))),
            }
        }

        /// The log's limit, for the unreachable fallbacks.
        fn limit(&self) -> u32 {
            critical_section::with(|cs| match self.log.borrow(cs).try_borrow() {
                Ok(log) => log.limit(),
                Err(_) => 0,
            })
        }
    }

    impl<const HZ: u64, const N: usize> Limiter<HZ> for SharedSlidingLog<HZ, N> {
        fn check_n_at(&self, n: u32, now: Instant<HZ>) -> Decision<HZ> {
            self.decide_or_deny(|log| log.check_n_at(n, now))
        }

        fn snapshot_at(&self, now: Instant<HZ>) -> Status<HZ> {
            match self.with(|log| log.snapshot_at(now)) {
                Some(status) => status,
                // Unreachable (see `with`).
                None => Status::new(self.limit(), 0, Duration::<HZ>::from_ticks(1)),
            }
        }
    }

    /// The exact log as a tier of [`Tiers`](crate::Tiers): a charge records
    /// its units at an instant, and an undo takes exactly those units back
    /// (see [`SlidingLog::undo_n_at`]), whatever was recorded since.
    impl<const HZ: u64, const N: usize> Charge<HZ> for SharedSlidingLog<HZ, N> {
        fn peek_n_at(&self, n: u32, now: Instant<HZ>) -> Decision<HZ> {
            self.decide_or_deny(|log| log.peek_n_at(n, now))
        }

        fn charge_n_at(
            &self,
            n: u32,
            now: Instant<HZ>,
        ) -> Result<(Status<HZ>, Receipt<'_>), Denied<HZ>> {
            match self.with(|log| log.charge_n_at(n, now)) {
                // `before != after` marks a charge that recorded units; the
                // receipt's instant and units are what the undo takes back.
                Some(Ok((status, at))) if n > 0 => Ok((status, Receipt::new(0, 1, n, at))),
                Some(Ok((status, _))) => Ok((status, Receipt::NOTHING)),
                Some(Err(denied)) => Err(denied),
                None => Err(Denied::RateLimited(RateLimited::new(
                    self.limit(),
                    0,
                    Duration::<HZ>::from_ticks(1),
                    Duration::<HZ>::from_ticks(1),
                ))),
            }
        }

        fn undo(&self, receipt: Receipt<'_>) -> bool {
            if receipt.before() == receipt.after() {
                return true;
            }
            self.with(|log| log.undo_n_at(receipt.units(), receipt.at()))
                .unwrap_or(false)
        }
    }

    impl<const HZ: u64, const N: usize> core::fmt::Debug for SharedSlidingLog<HZ, N> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            match self.with(|log| {
                f.debug_struct("SharedSlidingLog")
                    .field("log", log)
                    .finish()
            }) {
                Some(result) => result,
                None => f.write_str("SharedSlidingLog { <borrowed> }"),
            }
        }
    }

    #[cfg(feature = "defmt")]
    impl<const HZ: u64, const N: usize> defmt::Format for SharedSlidingLog<HZ, N> {
        fn format(&self, f: defmt::Formatter<'_>) {
            let _ = self.with(|log| defmt::write!(f, "Shared{}", log));
        }
    }
}
