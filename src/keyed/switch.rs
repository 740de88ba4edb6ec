//! An on/off switch for a keyed table: [`Toggle`] around a [`KeyedLimiter`].

use core::hash::Hash;

use crate::answer::Status;
use crate::compose::{Toggle, Unlimited};
use crate::kernel::Algorithm;
use crate::keyed::{Admitted, KeyedDecision, KeyedLimiter, Plan};
use crate::time::{Clock, Instant};

/// A keyed table behind a switch (`RATE_LIMIT_ENABLED`, "a switch to turn
/// rate limiting off"): switched on, every check is the table's; switched
/// off, every check answers [`Admitted::Unlimited`], charges nothing and
/// takes no slot, and a snapshot reports [`Unlimited`]'s status (`limit` and
/// `remaining` of `u32::MAX`), so the metadata stays true. Switching does not
/// touch the table: switched back on, every key has what it had counted.
///
/// ```
/// use ratecore::compose::Toggle;
/// use ratecore::keyed::{Admitted, Plan, WhenFull};
/// use ratecore::{Gcra, Instant, KeyedLimiter, Quota, const_unwrap};
///
/// // "A per-organisation limit per minute, default 100, and a switch to turn
/// // rate limiting off."
/// static PER_ORG: Toggle<KeyedLimiter<Gcra<1_000>, 1_000, 256>> = Toggle::new(
///     KeyedLimiter::new(
///         [const_unwrap!(Gcra::new(Quota::per_minute(100)))],
///         [3, 4],
///         WhenFull::Deny,
///     ),
///     true,
/// );
///
/// let now = Instant::<1_000>::from_ticks(0);
/// assert!(PER_ORG.check_n_at("acme", Plan::FIRST, 100, now).is_ok());
/// assert!(PER_ORG.check_at("acme", Plan::FIRST, now).is_err());
/// PER_ORG.set_enabled(false);
/// assert_eq!(PER_ORG.check_at("acme", Plan::FIRST, now), Ok(Admitted::Unlimited));
/// assert_eq!(PER_ORG.snapshot_at("acme", Plan::FIRST, now).remaining(), u32::MAX);
/// PER_ORG.set_enabled(true);
/// assert!(PER_ORG.check_at("acme", Plan::FIRST, now).is_err());
/// ```
/// A method of the switched table that is the table's own when on and
/// answers [`Unlimited`]'s status when off (nothing was counted).
macro_rules! unlimited_when_off {
    ($(#[$attr:meta])* fn $name:ident($($arg:ident: $ty:ty),*)) => {
        $(#[$attr])*
        pub fn $name<K: Hash + ?Sized>(&self, key: &K, plan: Plan<P>, $($arg: $ty),*) -> Status<HZ> {
            self.when_on(|table| table.$name(key, plan, $($arg),*), Unlimited::status())
        }
    };
}

impl<A: Algorithm<HZ>, const HZ: u64, const N: usize, const P: usize>
    Toggle<KeyedLimiter<A, HZ, N, P>>
{
    /// `on(table)` when switched on, `off` when off.
    fn when_on<T>(&self, on: impl FnOnce(&KeyedLimiter<A, HZ, N, P>) -> T, off: T) -> T {
        if self.is_enabled() {
            on(self.inner())
        } else {
            off
        }
    }

    super::checks::keyed_checks! {
        /// [`KeyedLimiter::check_n_at`] when on; [`Admitted::Unlimited`] when off.
        ///
        /// # Errors
        ///
        /// When on, those of [`KeyedLimiter::check_n_at`]; never when off.
        fn check_n_at(&self, key, plan, n, now) -> KeyedDecision<HZ> {
            self.when_on(
                |table| table.check_n_at(key, plan, n, now),
                Ok(Admitted::Unlimited),
            )
        }
    }

    unlimited_when_off! {
        /// The key's status when on; [`Unlimited`]'s when off.
        fn snapshot_at(now: Instant<HZ>)
    }

    unlimited_when_off! {
        /// [`KeyedLimiter::refund_n_at`] when on; nothing when off (nothing was
        /// charged), answering [`Unlimited`]'s status.
        fn refund_n_at(n: u32, now: Instant<HZ>)
    }
}
