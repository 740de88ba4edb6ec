//! [`embassy-time`](embassy_time): a [`Clock`] over `embassy_time::Instant`, and
//! async waiting until a limiter admits.
//!
//! The library sets no `tick-hz-*` feature and brings no time driver: the
//! application picks both, as for any embassy-time user, and the limiters
//! work in its ticks ([`TICK_HZ`]), so nothing is converted on a check.
//!
//! ```
//! use ratecore::clock::embassy::{EmbassyClock, TICK_HZ};
//! use ratecore::{Gcra, Limiter, Quota};
//!
//! static SENSOR: Gcra<TICK_HZ> = ratecore::const_unwrap!(Gcra::new(Quota::per_second(50).burst(5)));
//!
//! assert!(SENSOR.check(&EmbassyClock).is_ok());
//! ```

use embassy_time::Timer;

use crate::answer::{Denied, Status};
use crate::kernel::Limiter;
use crate::time::{Clock, Duration, Instant};

/// embassy-time's tick rate, chosen by the application's `tick-hz-*` feature
/// (or its driver); limiters meant for [`EmbassyClock`] use it as their `HZ`.
pub const TICK_HZ: u64 = embassy_time::TICK_HZ;

/// The embassy time driver's clock, at [`TICK_HZ`].
///
/// `embassy_time::Instant` is already a monotonic `u64` tick count, so this
/// clock is exact and costs one driver read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EmbassyClock;

impl EmbassyClock {
    /// The same instant in this crate's time type.
    pub const fn instant(at: embassy_time::Instant) -> Instant<TICK_HZ> {
        Instant::<TICK_HZ>::from_ticks(at.as_ticks())
    }

    /// The same instant as an `embassy_time::Instant`.
    pub const fn to_embassy_instant(at: Instant<TICK_HZ>) -> embassy_time::Instant {
        embassy_time::Instant::from_ticks(at.as_ticks())
    }

    /// The same span as an `embassy_time::Duration` (a `retry_after`, say).
    pub const fn to_embassy_duration(span: Duration<TICK_HZ>) -> embassy_time::Duration {
        embassy_time::Duration::from_ticks(span.as_ticks())
    }
}

impl Clock<TICK_HZ> for EmbassyClock {
    fn now(&self) -> Instant<TICK_HZ> {
        Self::instant(embassy_time::Instant::now())
    }
}

/// Waits until `limiter` admits one unit, then charges it. See [`until_n_ready`].
///
/// # Errors
///
/// As [`until_n_ready`].
pub async fn until_ready<L: Limiter<TICK_HZ> + ?Sized>(
    limiter: &L,
) -> Result<Status<TICK_HZ>, Denied<TICK_HZ>> {
    until_n_ready(limiter, 1).await
}

/// Waits until `limiter` admits `n` units, then charges them, and returns the
/// admitted check's [`Status`].
///
/// Each attempt checks at [`EmbassyClock`]'s `now`; a
/// [`RateLimited`](Denied::RateLimited) denial sleeps on an
/// `embassy_time::Timer` until exactly `now + retry_after`, and checks again
/// (other users of the limiter may have taken the capacity meanwhile, so it
/// can sleep more than once; waiters are not queued fairly).
///
/// # Cancel safety
///
/// Cancel-safe: the units are charged only by the check that succeeds, in the
/// same poll that returns `Ready`. Dropping the future at any point before
/// that (a `select`, a timeout) leaves the limiter exactly as if the future
/// had never been polled: a denied check charges nothing.
///
/// # Errors
///
/// Returns the [`Denied`] answer at once, without waiting, whenever it has no
/// [`retry_after`](Denied::retry_after) (no instant at which time alone
/// admits the check): [`ExceedsBurst`](Denied::ExceedsBurst) for `n` above
/// the burst, [`ExceedsRequestCap`](Denied::ExceedsRequestCap) for `n` above
/// a [`Capped`](crate::compose::Capped) limiter's cap, [`AtCapacity`](Denied::AtCapacity)
/// from a [`ConcurrencyLimit`](crate::ConcurrencyLimit) (units in flight come
/// back when they are released, not with time), and
/// [`TableFull`](Denied::TableFull) from a limiter that reports a full keyed
/// table. Only [`RateLimited`](Denied::RateLimited) is waited on.
pub async fn until_n_ready<L: Limiter<TICK_HZ> + ?Sized>(
    limiter: &L,
    n: u32,
) -> Result<Status<TICK_HZ>, Denied<TICK_HZ>> {
    loop {
        let now = EmbassyClock.now();
        match limiter.check_n_at(n, now) {
            Ok(status) => return Ok(status),
            Err(denied) => match denied.retry_after() {
                Some(wait) => {
                    let at = Instant::<TICK_HZ>::from_ticks(
                        now.as_ticks().saturating_add(wait.as_ticks()),
                    );
                    Timer::at(EmbassyClock::to_embassy_instant(at)).await;
                }
                None => return Err(denied),
            },
        }
    }
}
