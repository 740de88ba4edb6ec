//! The trait implementations every one-word limiter shares, written once.
//!
//! A one-word limiter is an [`Algorithm`](crate::Algorithm) plus the atomic
//! word it is applied to; its [`Limiter`](crate::Limiter),
//! [`Refund`](crate::Refund) and [`Charge`](crate::Charge) are the crate's
//! word functions (`check_word`, `status_word`, ...) on those two parts.

/// Implements `Limiter`, `Refund` and `Charge` for `$ty<HZ>` from its state
/// word (the field `$word`) and its algorithm: `Self`, or the field `$field`
/// of type `$fty`. With a field, `Algorithm` itself is delegated to it too.
macro_rules! one_word_limiter {
    ($ty:ident, $word:ident, Self) => {
        impl<const HZ: u64> $ty<HZ> {
            /// The state word and the algorithm that decides on it.
            #[inline]
            fn word_parts(&self) -> (&$crate::sync::AtomicU64, &Self) {
                (&self.$word, self)
            }
        }
        $crate::one_word::one_word_limiter!(@traits $ty);
    };
    ($ty:ident, $word:ident, $field:ident: $fty:ty) => {
        impl<const HZ: u64> $ty<HZ> {
            /// The state word and the algorithm that decides on it.
            #[inline]
            fn word_parts(&self) -> (&$crate::sync::AtomicU64, &$fty) {
                (&self.$word, &self.$field)
            }
        }
        $crate::one_word::one_word_limiter!(@traits $ty);

        /// The configuration alone, applied to an external state word (for
        /// keyed tables and other containers of many states).
        impl<const HZ: u64> $crate::Algorithm<HZ> for $ty<HZ> {
            const FRESH: u64 = <$fty as $crate::Algorithm<HZ>>::FRESH;

            #[inline]
            fn decide(
                &self,
                state: u64,
                n: u32,
                now: $crate::Instant<HZ>,
            ) -> ($crate::Decision<HZ>, Option<u64>) {
                $crate::Algorithm::<HZ>::decide(&self.$field, state, n, now)
            }

            #[inline]
            fn status(&self, state: u64, now: $crate::Instant<HZ>) -> $crate::Status<HZ> {
                $crate::Algorithm::<HZ>::status(&self.$field, state, now)
            }

            #[inline]
            fn refunded(&self, state: u64, n: u32, now: $crate::Instant<HZ>) -> u64 {
                $crate::Algorithm::<HZ>::refunded(&self.$field, state, n, now)
            }

            #[inline]
            fn is_idle(&self, state: u64, now: $crate::Instant<HZ>) -> bool {
                $crate::Algorithm::<HZ>::is_idle(&self.$field, state, now)
            }

            #[inline]
            fn reserve(
                &self,
                state: u64,
                n: u32,
                now: $crate::Instant<HZ>,
                max_wait: $crate::Duration<HZ>,
            ) -> (Result<$crate::Instant<HZ>, $crate::Denied<HZ>>, Option<u64>) {
                $crate::Algorithm::<HZ>::reserve(&self.$field, state, n, now, max_wait)
            }

            #[inline]
            fn uncharged(&self, state: u64, n: u32, at: $crate::Instant<HZ>) -> Option<u64> {
                $crate::Algorithm::<HZ>::uncharged(&self.$field, state, n, at)
            }
        }
    };
    (@traits $ty:ident) => {
        impl<const HZ: u64> $crate::Limiter<HZ> for $ty<HZ> {
            #[inline]
            fn check_n_at(&self, n: u32, now: $crate::Instant<HZ>) -> $crate::Decision<HZ> {
                let (word, algorithm) = self.word_parts();
                $crate::algorithm::check_word(word, algorithm, n, now)
            }

            #[inline]
            fn snapshot_at(&self, now: $crate::Instant<HZ>) -> $crate::Status<HZ> {
                let (word, algorithm) = self.word_parts();
                $crate::algorithm::status_word(word, algorithm, now)
            }
        }

        impl<const HZ: u64> $crate::Refund<HZ> for $ty<HZ> {
            fn refund_n_at(&self, n: u32, now: $crate::Instant<HZ>) -> $crate::Status<HZ> {
                let (word, algorithm) = self.word_parts();
                $crate::algorithm::refund_word(word, algorithm, n, now)
            }
        }

        /// A member of [`Tiers`](crate::Tiers): a charge is undone by restoring
        /// the word it replaced.
        impl<const HZ: u64> $crate::Charge<HZ> for $ty<HZ> {
            #[inline]
            fn peek_n_at(&self, n: u32, now: $crate::Instant<HZ>) -> $crate::Decision<HZ> {
                let (word, algorithm) = self.word_parts();
                $crate::algorithm::peek_word(word, algorithm, n, now)
            }

            #[inline]
            fn charge_n_at(
                &self,
                n: u32,
                now: $crate::Instant<HZ>,
            ) -> Result<($crate::Status<HZ>, $crate::Receipt<'_>), $crate::Denied<HZ>> {
                let (word, algorithm) = self.word_parts();
                $crate::algorithm::charge_word(word, algorithm, n, now)
            }

            #[inline]
            fn undo(&self, receipt: $crate::Receipt<'_>) -> bool {
                let (word, algorithm) = self.word_parts();
                $crate::algorithm::undo_word::<HZ, _>(word, algorithm, receipt)
            }
        }
    };
}
pub(crate) use one_word_limiter;
