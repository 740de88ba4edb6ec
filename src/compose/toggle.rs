//! A deployment switch: a configured limiter that can be turned off.

use crate::answer::{Decision, Denied, Status};
use crate::compose::Unlimited;
use crate::kernel::sync::{AtomicBool, Ordering};
use crate::kernel::{Charge, Receipt};
use crate::kernel::{Limiter, Refund};
use crate::macros::const_fn;
use crate::time::Instant;

/// A limiter with an on/off switch (`RATE_LIMIT_ENABLED`): switched on it
/// is the inner limiter; switched off it is [`Unlimited`], which admits
/// everything, charges nothing, and reports `limit` and `remaining` of
/// `u32::MAX` (see [`Unlimited`] for why).
///
/// The switch is an atomic flag, so a `static` limiter can be built in a
/// constant and switched from configuration at start-up, or at run time.
/// Switching does not touch the inner limiter's state: switched back on, it
/// remembers what it had counted.
///
/// ```
/// use ratecore::{Gcra, Instant, Limiter, Quota, compose::Toggle};
///
/// static API: Toggle<Gcra<1_000>> =
///     Toggle::new(ratecore::const_unwrap!(Gcra::new(Quota::per_minute(1))), true);
///
/// // At start-up, from the environment: RATE_LIMIT_ENABLED=false.
/// API.set_enabled(false);
/// let now = Instant::<1_000>::from_ticks(0);
/// assert!((0..100).all(|_| API.check_at(now).is_ok()));
/// API.set_enabled(true);
/// assert!(API.check_at(now).is_ok());
/// assert!(API.check_at(now).is_err());
/// ```
#[derive(Debug)]
pub struct Toggle<L> {
    limiter: L,
    enabled: AtomicBool,
}

impl<L> Toggle<L> {
    const_fn! {
        /// `limiter`, switched on or off.
        pub const fn new(limiter: L, enabled: bool) -> Self {
            Self { limiter, enabled: AtomicBool::new(enabled) }
        }
    }

    /// Switches limiting on or off.
    pub fn set_enabled(&self, enabled: bool) {
        // Relaxed: the flag is a standalone setting; no other data is
        // published with it, and a check racing a switch may see either side.
        self.enabled.store(enabled, Ordering::Relaxed);
    }

    /// Whether limiting is on.
    pub fn is_enabled(&self) -> bool {
        // Relaxed: pairs with the store in `set_enabled`; see there.
        self.enabled.load(Ordering::Relaxed)
    }

    /// The limiter behind the switch.
    pub const fn inner(&self) -> &L {
        &self.limiter
    }
}

/// `self.limiter.method(args)` when the switch is on, `Unlimited.method(args)`
/// when it is off: every method of a toggle but `undo` is one of these.
macro_rules! switched {
    ($this:ident.$method:ident($($arg:expr),*)) => {
        if $this.is_enabled() {
            $this.limiter.$method($($arg),*)
        } else {
            Unlimited.$method($($arg),*)
        }
    };
}

impl<const HZ: u64, L: Limiter<HZ>> Limiter<HZ> for Toggle<L> {
    fn check_n_at(&self, n: u32, now: Instant<HZ>) -> Decision<HZ> {
        switched!(self.check_n_at(n, now))
    }

    fn snapshot_at(&self, now: Instant<HZ>) -> Status<HZ> {
        switched!(self.snapshot_at(now))
    }
}

impl<const HZ: u64, L: Refund<HZ>> Refund<HZ> for Toggle<L> {
    fn refund_n_at(&self, n: u32, now: Instant<HZ>) -> Status<HZ> {
        switched!(self.refund_n_at(n, now))
    }
}

impl<const HZ: u64, L: Charge<HZ>> Charge<HZ> for Toggle<L> {
    fn peek_n_at(&self, n: u32, now: Instant<HZ>) -> Decision<HZ> {
        switched!(self.peek_n_at(n, now))
    }

    fn charge_n_at(
        &self,
        n: u32,
        now: Instant<HZ>,
    ) -> Result<(Status<HZ>, Receipt<'_>), Denied<HZ>> {
        switched!(self.charge_n_at(n, now))
    }

    fn undo(&self, receipt: Receipt<'_>) -> bool {
        // Whatever the switch says now: a receipt from the inner limiter is
        // given back to it, and `Receipt::NOTHING` (a charge made while
        // switched off) changes nothing.
        if receipt == Receipt::NOTHING {
            true
        } else {
            self.limiter.undo(receipt)
        }
    }
}

crate::macros::defmt_format!(
    /// Whether the switch is on, and the limiter behind it.
    impl[L: defmt::Format] for Toggle<L> => |toggle|
        "Toggle {{ enabled: {=bool}, limiter: {} }}",
        toggle.is_enabled(),
        toggle.limiter,
);
