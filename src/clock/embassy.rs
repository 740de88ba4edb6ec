//! [`embassy-time`](embassy_time): a [`Clock`] over `embassy_time::Instant`, and
//! async waiting until a limiter admits.
//!
//! The library sets no `tick-hz-*` feature and brings no time driver: the
//! application picks both, as for any embassy-time user, and the limiters
//! work in its ticks ([`TICK_HZ`]), so nothing is converted on a check.
//!
//! # Interrupts on Cortex-M3/M4 (ARMv7-M)
//!
//! These cores have 32-bit but no 64-bit compare-and-swap, so every check
//! (including those [`until_ready`] makes) takes portable-atomic's spin lock
//! on the limiter's 64-bit word. Never check a limiter from an interrupt
//! handler (or a higher-priority interrupt executor) that can preempt a
//! check of the same limiter on the same core: the handler would spin on a
//! lock its own core holds, forever. Check from thread mode, or from tasks of
//! one executor priority. (On Cortex-M0 with the `critical-section` feature,
//! each check is one critical section instead, and on cores with 64-bit
//! compare-and-swap it is lock-free.)
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
#[cfg_attr(docsrs, doc(cfg(feature = "embassy-time")))]
pub const TICK_HZ: u64 = embassy_time::TICK_HZ;

/// The embassy time driver's clock, at [`TICK_HZ`].
///
/// `embassy_time::Instant` is already a monotonic `u64` tick count, so this
/// clock is exact and costs one driver read.
#[cfg_attr(docsrs, doc(cfg(feature = "embassy-time")))]
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
/// On Cortex-M3/M4 a check takes portable-atomic's spin lock: never call it
/// from an interrupt executor that can preempt a check of the same limiter on
/// the same core (see [the module docs](self#interrupts-on-cortex-m3m4-armv7-m)).
///
/// # Errors
///
/// As [`until_n_ready`].
#[cfg_attr(docsrs, doc(cfg(feature = "embassy-time")))]
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
/// On Cortex-M3/M4 each attempt takes portable-atomic's spin lock on the
/// limiter's 64-bit word: never wait from an interrupt executor that can
/// preempt a check of the same limiter on the same core (see
/// [the module docs](self#interrupts-on-cortex-m3m4-armv7-m)).
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
#[cfg_attr(docsrs, doc(cfg(feature = "embassy-time")))]
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
