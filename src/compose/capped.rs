//! A per-request cap in front of any limiter.

use crate::answer::{Decision, Denied, ExceedsRequestCap, Status};
use crate::kernel::{Charge, Receipt};
use crate::kernel::{Limiter, Refund};
use crate::time::Instant;

/// A limiter that refuses any single request of more than `cap` units,
/// whatever quota remains, with its own error
/// ([`Denied::ExceedsRequestCap`]), distinct from running out.
///
/// "At most 20,000 characters per request" in front of "1,000,000 characters
/// per day": a request of 25,000 characters is refused even on a fresh day.
/// Requests within the cap go to the inner limiter unchanged, and every
/// answer but the cap's refusal is the inner limiter's. Wrap
/// [`Unlimited`](crate::compose::Unlimited) for a cap with no rate behind it.
///
/// ```
/// use ratecore::{compose::Capped, Denied, Gcra, Instant, Limiter, Quota};
///
/// let daily = Gcra::<1_000>::new(Quota::per_day(1_000_000)).unwrap();
/// let chars = Capped::new(daily, 20_000);
/// let now = Instant::<1_000>::from_ticks(0);
/// assert!(chars.check_n_at(8_000, now).is_ok());
/// let Err(Denied::ExceedsRequestCap(refused)) = chars.check_n_at(25_000, now) else {
///     panic!("over the per-request cap")
/// };
/// assert_eq!((refused.requested, refused.cap), (25_000, 20_000));
/// ```
///
/// A cap of zero refuses every request of one unit or more (a plan without
/// this feature); checks of zero units still report the inner state.
#[derive(Debug)]
pub struct Capped<L> {
    limiter: L,
    cap: u32,
}

impl<L> Capped<L> {
    /// `limiter`, with at most `cap` units per request.
    pub const fn new(limiter: L, cap: u32) -> Self {
        Self { limiter, cap }
    }

    /// The most units one request may ask for.
    pub const fn cap(&self) -> u32 {
        self.cap
    }

    /// The limiter behind the cap.
    pub const fn inner(&self) -> &L {
        &self.limiter
    }

    const fn refusal<const HZ: u64>(&self, n: u32) -> Option<Denied<HZ>> {
        if n > self.cap {
            Some(Denied::ExceedsRequestCap(ExceedsRequestCap {
                requested: n,
                cap: self.cap,
            }))
        } else {
            None
        }
    }
}

impl<const HZ: u64, L: Limiter<HZ>> Limiter<HZ> for Capped<L> {
    fn check_n_at(&self, n: u32, now: Instant<HZ>) -> Decision<HZ> {
        match self.refusal(n) {
            Some(denied) => Err(denied),
            None => self.limiter.check_n_at(n, now),
        }
    }

    fn snapshot_at(&self, now: Instant<HZ>) -> Status<HZ> {
        self.limiter.snapshot_at(now)
    }
}

impl<const HZ: u64, L: Refund<HZ>> Refund<HZ> for Capped<L> {
    fn refund_n_at(&self, n: u32, now: Instant<HZ>) -> Status<HZ> {
        self.limiter.refund_n_at(n, now)
    }
}

impl<const HZ: u64, L: Charge<HZ>> Charge<HZ> for Capped<L> {
    fn peek_n_at(&self, n: u32, now: Instant<HZ>) -> Decision<HZ> {
        match self.refusal(n) {
            Some(denied) => Err(denied),
            None => self.limiter.peek_n_at(n, now),
        }
    }

    fn charge_n_at(
        &self,
        n: u32,
        now: Instant<HZ>,
    ) -> Result<(Status<HZ>, Receipt<'_>), Denied<HZ>> {
        match self.refusal(n) {
            Some(denied) => Err(denied),
            None => self.limiter.charge_n_at(n, now),
        }
    }

    fn undo(&self, receipt: Receipt<'_>) -> bool {
        self.limiter.undo(receipt)
    }
}

crate::macros::defmt_format!(
    impl[L: defmt::Format] for Capped<L> => |capped|
        "Capped {{ cap: {=u32}, limiter: {} }}",
        capped.cap,
        capped.limiter,
);
