//! The one place this crate touches ratecore's algorithm trait.
//!
//! ratecore's kernel is being made public with a new shape (`ratecore::kernel`:
//! `Step`, `NAME`, `fingerprint`, `idle_after`, ...). This module exposes
//! exactly that shape as [`SharedAlgorithm`] and [`Step`], implemented today
//! over the current [`ratecore::Algorithm`] trait, so the rest of the crate
//! depends only on the future shape. When the kernel lands, this module
//! becomes a blanket impl over `ratecore::kernel::Algorithm` (or a
//! re-export), and nothing else changes.
//!
//! Stop-gaps, to be replaced by the kernel's own methods:
//!
//! - [`SharedAlgorithm::idle_after`] is a binary search for the first
//!   instant at which `is_idle` holds (it is monotone in time);
//! - [`SharedAlgorithm::fingerprint`] is FNV-1a over the tick rate and the
//!   `Debug` text of the configuration, with the state field (always the
//!   first one) left out.

use core::fmt::{self, Write as _};

use ratecore::{
    Algorithm, ConcurrencyLimit, Denied, Duration, FixedWindow, Gcra, Instant, SlidingWindow,
    Status, TokenBucket,
};

/// What a check does to a state word: the kernel's `Step`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<const HZ: u64> {
    /// Admitted; store the new state word.
    Store(u64, Status<HZ>),
    /// Admitted; the state word is unchanged (nothing to store).
    Keep(Status<HZ>),
    /// Denied; nothing changes.
    Deny(Denied<HZ>),
}

/// A ratecore algorithm whose whole state is one `u64`, as this crate uses
/// it: the shape of `ratecore::kernel::Algorithm`.
///
/// Implemented for [`Gcra`], [`TokenBucket`], [`FixedWindow`],
/// [`SlidingWindow`] and [`ConcurrencyLimit`]; the limiter value serves as
/// the configuration (its own in-memory state is never read).
pub trait SharedAlgorithm<const HZ: u64> {
    /// The state of a key that has never been used (or has expired).
    const FRESH: u64;
    /// A short stable name, part of the Redis key (`"gcra"`, `"token-bucket"`, ...).
    const NAME: &'static str;
    /// A stable hash of the configuration, part of the Redis key, so a
    /// changed configuration never reads a state written under another.
    fn fingerprint(&self) -> u64;
    /// Decides `n` units at `now` from `state`.
    fn decide(&self, state: u64, n: u32, now: Instant<HZ>) -> Step<HZ>;
    /// The status at `now` of `state`, changing nothing.
    fn status(&self, state: u64, now: Instant<HZ>) -> Status<HZ>;
    /// The state after giving back `n` units at `now`.
    fn refund(&self, state: u64, n: u32, now: Instant<HZ>) -> u64;
    /// The smallest `d` such that `state` decides exactly as
    /// [`FRESH`](SharedAlgorithm::FRESH) at `now + d` and at every later
    /// instant; `None` if time alone never makes it so.
    fn idle_after(&self, state: u64, now: Instant<HZ>) -> Option<Duration<HZ>>;
}

/// Name and configuration fingerprint: the part of the future kernel trait
/// the current one lacks.
trait Named {
    const NAME: &'static str;
}

impl<const HZ: u64> Named for Gcra<HZ> {
    const NAME: &'static str = "gcra";
}
impl<const HZ: u64> Named for TokenBucket<HZ> {
    const NAME: &'static str = "token-bucket";
}
impl<const HZ: u64> Named for FixedWindow<HZ> {
    const NAME: &'static str = "fixed-window";
}
impl<const HZ: u64> Named for SlidingWindow<HZ> {
    const NAME: &'static str = "sliding-window";
}
impl Named for ConcurrencyLimit {
    const NAME: &'static str = "concurrency";
}

/// FNV-1a, 64 bits: stable across builds and platforms.
struct Fnv(u64);

impl fmt::Write for Fnv {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Ok(())
    }
}

/// Hashes `name`, `HZ` and the `Debug` text of `config` without its first
/// field (every one-word limiter's first field is its in-memory state word).
fn debug_fingerprint<const HZ: u64>(name: &str, config: &dyn fmt::Debug) -> u64 {
    let text = format!("{config:?}");
    let without_state = match text.split_once("{ ") {
        Some((head, rest)) => match rest.split_once(", ") {
            Some((_state, tail)) => format!("{head}{{ {tail}"),
            None => text.clone(),
        },
        None => text.clone(),
    };
    let mut hash = Fnv(0xcbf2_9ce4_8422_2325);
    // Writing to `Fnv` never fails.
    let _ = write!(hash, "{name}@{HZ}:{without_state}");
    hash.0
}

impl<const HZ: u64, A> SharedAlgorithm<HZ> for A
where
    A: Algorithm<HZ> + Named + fmt::Debug,
{
    const FRESH: u64 = <A as Algorithm<HZ>>::FRESH;
    const NAME: &'static str = <A as Named>::NAME;

    fn fingerprint(&self) -> u64 {
        debug_fingerprint::<HZ>(<A as Named>::NAME, self)
    }

    fn decide(&self, state: u64, n: u32, now: Instant<HZ>) -> Step<HZ> {
        match Algorithm::decide(self, state, n, now) {
            (Ok(status), Some(next)) => Step::Store(next, status),
            (Ok(status), None) => Step::Keep(status),
            (Err(denied), _) => Step::Deny(denied),
        }
    }

    fn status(&self, state: u64, now: Instant<HZ>) -> Status<HZ> {
        Algorithm::status(self, state, now)
    }

    fn refund(&self, state: u64, n: u32, now: Instant<HZ>) -> u64 {
        Algorithm::refunded(self, state, n, now)
    }

    fn idle_after(&self, state: u64, now: Instant<HZ>) -> Option<Duration<HZ>> {
        let start = now.as_ticks();
        let at = |d: u64| Instant::<HZ>::from_ticks(start.saturating_add(d));
        if self.is_idle(state, now) {
            return Some(Duration::<HZ>::from_ticks(0));
        }
        let mut hi = u64::MAX - start;
        if !self.is_idle(state, at(hi)) {
            return None;
        }
        // Invariant: not idle at `lo`, idle at `hi`.
        let mut lo = 0u64;
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.is_idle(state, at(mid)) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(Duration::<HZ>::from_ticks(hi))
    }
}

/// Which of two admitted tiers binds, as ratecore's `Tiers` chooses: the
/// smaller `remaining`, then the larger `reset_after`, then the lower
/// position (`a` is the earlier position). True when `b` binds tighter.
pub(crate) fn tighter<const HZ: u64>(a: &Status<HZ>, b: &Status<HZ>) -> bool {
    let key = |s: &Status<HZ>| (u32::MAX - s.remaining, s.reset_after.as_ticks());
    key(b) > key(a)
}

/// Which of two denials is more restrictive, as ratecore's `Tiers` chooses:
/// never-passing first, then the longest `retry_after` (then the smallest
/// `remaining`), then an unknown wait; ties to `a`, the earlier position.
/// True when `b` is more restrictive.
pub(crate) fn more_restrictive<const HZ: u64>(a: &Denied<HZ>, b: &Denied<HZ>) -> bool {
    fn severity<const HZ: u64>(denied: &Denied<HZ>) -> (u8, u64, u32) {
        match denied {
            Denied::RateLimited(limited) => (
                1,
                limited.retry_after.as_ticks(),
                u32::MAX.saturating_sub(limited.remaining),
            ),
            Denied::ExceedsBurst(_) | Denied::ExceedsRequestCap(_) => (2, 0, 0),
            // Waiting helps, for a time no one knows (units in flight).
            _ => (0, 0, 0),
        }
    }
    severity(b) > severity(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratecore::{Limiter, Quota, RefillMode};

    #[test]
    fn fingerprint_ignores_state_and_sees_configuration() {
        let a = Gcra::<1_000>::new(Quota::per_second(10)).unwrap();
        let b = Gcra::<1_000>::new(Quota::per_second(10)).unwrap();
        let _ = b.check_at(Instant::from_ticks(5));
        assert_eq!(a.fingerprint(), b.fingerprint());
        let c = Gcra::<1_000>::new(Quota::per_second(11)).unwrap();
        assert_ne!(a.fingerprint(), c.fingerprint());
        let d = Gcra::<1_000_000>::new(Quota::per_second(10)).unwrap();
        assert_ne!(a.fingerprint(), SharedAlgorithm::fingerprint(&d));
        let t = TokenBucket::<1_000>::new(Quota::per_second(10), RefillMode::Greedy).unwrap();
        let u = TokenBucket::<1_000>::new(Quota::per_second(10), RefillMode::Interval).unwrap();
        assert_ne!(t.fingerprint(), u.fingerprint());
        let k = ConcurrencyLimit::new(3).unwrap();
        let _held = k.try_acquire(2).unwrap();
        assert_eq!(
            SharedAlgorithm::<1_000>::fingerprint(&k),
            SharedAlgorithm::<1_000>::fingerprint(&ConcurrencyLimit::new(3).unwrap())
        );
    }

    #[test]
    fn idle_after_is_the_first_idle_instant() {
        let g = Gcra::<1_000>::new(Quota::per_second(10).burst(5)).unwrap();
        let now = Instant::<1_000>::from_ticks(1_000);
        let Step::Store(s, _) = SharedAlgorithm::decide(&g, 0, 3, now) else {
            panic!("admitted")
        };
        let d = g.idle_after(s, now).unwrap().as_ticks();
        assert_eq!(d, 300);
        assert!(g.is_idle(s, Instant::from_ticks(1_000 + d)));
        assert!(!g.is_idle(s, Instant::from_ticks(1_000 + d - 1)));
        let k = ConcurrencyLimit::new(3).unwrap();
        assert_eq!(SharedAlgorithm::<1_000>::idle_after(&k, 2, now), None);
        assert_eq!(
            SharedAlgorithm::<1_000>::idle_after(&k, 0, now),
            Some(Duration::<1_000>::from_ticks(0))
        );
    }
}
