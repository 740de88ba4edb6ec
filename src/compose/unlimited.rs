//! The limiter that admits everything: rate limiting switched off.

use crate::answer::{Decision, Denied, Status};
use crate::kernel::{Algorithm, Booking, Step, fingerprint};
use crate::kernel::{Charge, Receipt};
use crate::kernel::{Limiter, Refund};
use crate::time::{Duration, Instant};

/// A limiter that admits every check and charges nothing: rate limiting
/// configured off (a deployment switch such as `RATE_LIMIT_ENABLED=false`;
/// see [`Toggle`](crate::compose::Toggle) to switch a configured limiter off).
///
/// # What it reports
///
/// Every answer is `Ok(Status { limit: u32::MAX, remaining: u32::MAX,
/// reset_after: 0 })`: the status of a limiter whose burst and refill are as
/// large as a `u32` can say. That keeps the metadata's own rules true:
/// `remaining` units (indeed any `n`) are admitted now, no `n` exceeds
/// `limit`, and the limiter is always full. Reporting the plan it replaces
/// (say `limit` 120, `remaining` 120) would claim a burst that is not
/// enforced, and a check of 200 would succeed against `remaining` 120. In a
/// set of [`Tiers`](crate::Tiers) it is never the binding tier, so the
/// answer is that of the tiers still enforced.
///
/// ```
/// use ratecore::{Instant, Limiter, compose::Unlimited};
///
/// let off = Unlimited::new();
/// let status = off.check_n_at(1_000_000, Instant::<1_000>::from_ticks(0)).unwrap();
/// assert_eq!((status.limit(), status.remaining()), (u32::MAX, u32::MAX));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Unlimited;

impl Unlimited {
    /// The unlimited limiter.
    pub const fn new() -> Self {
        Self
    }

    /// The status it always reports.
    pub const fn status<const HZ: u64>() -> Status<HZ> {
        Status::new(u32::MAX, u32::MAX, Duration::<HZ>::from_ticks(0))
    }
}

impl<const HZ: u64> Limiter<HZ> for Unlimited {
    fn check_n_at(&self, _n: u32, _now: Instant<HZ>) -> Decision<HZ> {
        Ok(Self::status())
    }

    fn snapshot_at(&self, _now: Instant<HZ>) -> Status<HZ> {
        Self::status()
    }
}

impl<const HZ: u64> Refund<HZ> for Unlimited {
    fn refund_n_at(&self, _n: u32, _now: Instant<HZ>) -> Status<HZ> {
        Self::status()
    }
}

impl<const HZ: u64> Charge<HZ> for Unlimited {
    fn peek_n_at(&self, _n: u32, _now: Instant<HZ>) -> Decision<HZ> {
        Ok(Self::status())
    }

    fn charge_n_at(
        &self,
        _n: u32,
        _now: Instant<HZ>,
    ) -> Result<(Status<HZ>, Receipt<'_>), Denied<HZ>> {
        Ok((Self::status(), Receipt::NOTHING))
    }

    fn undo(&self, _receipt: Receipt<'_>) -> bool {
        true
    }
}

/// The plan that admits everything, as an [`Algorithm`]: a keyed table's
/// plan, or a word's. Its state is always `0` (it stores nothing, so a key
/// under it never takes a slot of a [`KeyedLimiter`](crate::KeyedLimiter)),
/// and it answers as [`Unlimited`] does, with `limit` and `remaining` of
/// `u32::MAX`.
impl<const HZ: u64> Algorithm<HZ> for Unlimited {
    const NAME: &'static str = "unlimited";

    fn fingerprint(&self) -> u64 {
        fingerprint(b"unlimited", &[HZ])
    }

    fn decide(&self, _state: u64, _n: u32, _now: Instant<HZ>) -> Step<HZ> {
        Step::Keep(Self::status())
    }

    fn status(&self, _state: u64, _now: Instant<HZ>) -> Status<HZ> {
        Self::status()
    }

    fn refund(&self, state: u64, _n: u32, _now: Instant<HZ>) -> u64 {
        state
    }

    fn idle_after(&self, _state: u64, _now: Instant<HZ>) -> Option<Duration<HZ>> {
        Some(Duration::<HZ>::from_ticks(0))
    }
}

/// A plan that is either an algorithm's quota or unlimited, so that one
/// [`KeyedLimiter`](crate::KeyedLimiter) can hold both ("Free: 5 per minute;
/// Pro: 60 per minute; Enterprise: unlimited"): the table's plans are one
/// type.
///
/// ```
/// use ratecore::compose::OrUnlimited;
/// use ratecore::keyed::{Plan, WhenFull};
/// use ratecore::{Gcra, Instant, KeyedLimiter, Quota, const_unwrap};
///
/// const FREE: Plan<2> = const_unwrap!(Plan::new(0));
/// const ENTERPRISE: Plan<2> = const_unwrap!(Plan::new(1));
/// static PER_KEY: KeyedLimiter<OrUnlimited<Gcra<1_000>>, 1_000, 64, 2> = KeyedLimiter::new(
///     [
///         OrUnlimited::Limited(const_unwrap!(Gcra::new(Quota::per_minute(5)))),
///         OrUnlimited::Unlimited,
///     ],
///     [1, 2],
///     WhenFull::Deny,
/// );
///
/// let now = Instant::<1_000>::from_ticks(0);
/// assert!((0..5).all(|_| PER_KEY.check_at("free-key", FREE, now).is_ok()));
/// assert!(PER_KEY.check_at("free-key", FREE, now).is_err());
/// let status = PER_KEY.check_n_at("big-customer", ENTERPRISE, 1_000_000, now).unwrap().status().unwrap();
/// assert_eq!(status.remaining(), u32::MAX);
/// // The unlimited key stores nothing: only the free key holds a slot.
/// assert_eq!(PER_KEY.occupancy_at(now), 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum OrUnlimited<A> {
    /// The algorithm's quota.
    Limited(A),
    /// No limit: [`Unlimited`].
    Unlimited,
}

impl<const HZ: u64, A: Algorithm<HZ>> Algorithm<HZ> for OrUnlimited<A> {
    const NAME: &'static str = A::NAME;
    const GUARDS_MEMORY: bool = A::GUARDS_MEMORY;

    fn fingerprint(&self) -> u64 {
        match self {
            Self::Limited(a) => a.fingerprint(),
            Self::Unlimited => Algorithm::<HZ>::fingerprint(&Unlimited),
        }
    }

    #[inline]
    fn decide(&self, state: u64, n: u32, now: Instant<HZ>) -> Step<HZ> {
        match self {
            Self::Limited(a) => a.decide(state, n, now),
            Self::Unlimited => Unlimited.decide(state, n, now),
        }
    }

    fn status(&self, state: u64, now: Instant<HZ>) -> Status<HZ> {
        match self {
            Self::Limited(a) => a.status(state, now),
            Self::Unlimited => Self::status_unlimited(),
        }
    }

    fn refund(&self, state: u64, n: u32, now: Instant<HZ>) -> u64 {
        match self {
            Self::Limited(a) => a.refund(state, n, now),
            Self::Unlimited => state,
        }
    }

    fn idle_after(&self, state: u64, now: Instant<HZ>) -> Option<Duration<HZ>> {
        match self {
            Self::Limited(a) => a.idle_after(state, now),
            Self::Unlimited => Some(Duration::<HZ>::from_ticks(0)),
        }
    }

    fn reserve(&self, state: u64, n: u32, now: Instant<HZ>, max_wait: Duration<HZ>) -> Booking<HZ> {
        match self {
            Self::Limited(a) => a.reserve(state, n, now, max_wait),
            Self::Unlimited => Step::Keep(now),
        }
    }

    fn take_back(&self, state: u64, n: u32, at: Instant<HZ>) -> Option<u64> {
        match self {
            Self::Limited(a) => a.take_back(state, n, at),
            Self::Unlimited => Some(state),
        }
    }
}

impl<A> OrUnlimited<A> {
    fn status_unlimited<const HZ: u64>() -> Status<HZ> {
        Unlimited::status()
    }
}
