//! The limiter that admits everything: rate limiting switched off.

use crate::answer::{Decision, Denied, Status};
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
