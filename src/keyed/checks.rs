//! The check methods every keyed front end offers ([`KeyedLimiter`],
//! [`Toggle`] around one, [`KeyedTiers`]), written once: `check_n_at` with
//! the front end's own body, and the one-unit and clock forms that call it.
//!
//! [`KeyedLimiter`]: crate::KeyedLimiter
//! [`Toggle`]: crate::compose::Toggle
//! [`KeyedTiers`]: crate::keyed::KeyedTiers

/// Writes `check_n_at` (with the given attributes and body, whose names for
/// `self`, the key, the plan, the units and the instant are the caller's) and
/// `check_at`, `check_n`, `check` on top of it, all returning `$answer`.
/// The impl block must have `HZ` and `P` in scope, and import `Hash`,
/// `Plan`, `Instant` and `Clock`.
macro_rules! keyed_checks {
    (
        $(#[$attr:meta])*
        fn check_n_at(&$this:ident, $key:ident, $plan:ident, $n:ident, $now:ident) -> $answer:ty
        $body:block
    ) => {
        $(#[$attr])*
        pub fn check_n_at<K: Hash + ?Sized>(
            &$this,
            $key: &K,
            $plan: Plan<P>,
            $n: u32,
            $now: Instant<HZ>,
        ) -> $answer
        $body

        /// One unit at `now`: see [`check_n_at`](Self::check_n_at).
        ///
        /// # Errors
        ///
        /// As [`check_n_at`](Self::check_n_at).
        pub fn check_at<K: Hash + ?Sized>(
            &self,
            key: &K,
            plan: Plan<P>,
            now: Instant<HZ>,
        ) -> $answer {
            self.check_n_at(key, plan, 1, now)
        }

        /// `n` units at `clock.now()`: see [`check_n_at`](Self::check_n_at).
        ///
        /// # Errors
        ///
        /// As [`check_n_at`](Self::check_n_at).
        pub fn check_n<K: Hash + ?Sized>(
            &self,
            key: &K,
            plan: Plan<P>,
            n: u32,
            clock: &impl Clock<HZ>,
        ) -> $answer {
            self.check_n_at(key, plan, n, clock.now())
        }

        /// One unit at `clock.now()`: see [`check_n_at`](Self::check_n_at).
        ///
        /// # Errors
        ///
        /// As [`check_n_at`](Self::check_n_at).
        pub fn check<K: Hash + ?Sized>(
            &self,
            key: &K,
            plan: Plan<P>,
            clock: &impl Clock<HZ>,
        ) -> $answer {
            self.check_n_at(key, plan, 1, clock.now())
        }
    };
}

pub(crate) use keyed_checks;
