//! The one place atomics come from.
//!
//! Normal builds use [`portable_atomic`]: native instructions where the target
//! has them, otherwise portable-atomic's fallback (a global lock table, for
//! targets with 32-bit CAS only) or, with the `critical-section` feature, a
//! critical section. Under `cfg(loom)` the same names resolve to loom's
//! model-checked atomics so that `tests/loom.rs` explores every interleaving of
//! the real code.

#[cfg(not(loom))]
pub(crate) use portable_atomic::{AtomicBool, AtomicU8};

/// Public: the kernel re-exports it as the word a `WordRef` applies to, and
/// its orderings with it.
#[cfg(not(loom))]
pub use portable_atomic::{AtomicU64, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

/// Keeps every load before it ahead of the loads after it, for the compiler
/// only: no instruction, and no order between threads. A one-word check
/// that reads its configuration before its state word (see
/// `Algorithm::decider`) calls it between the two: without it the compiler
/// sinks the configuration's loads next to their use, after the word's.
/// (Not on bare metal, where no check reads its configuration first.)
#[cfg(not(target_os = "none"))]
#[inline(always)]
pub(crate) fn config_before_word() {
    #[cfg(not(loom))]
    use portable_atomic::compiler_fence;
    // loom models threads, not the compiler: core's fence serves.
    #[cfg(loom)]
    use core::sync::atomic::compiler_fence;
    compiler_fence(Ordering::Acquire);
}

/// 128-bit words, for keyed tables: a slot's key tag and its state change
/// together in one compare-and-swap. portable-atomic uses the native
/// instruction where there is one (x86_64's `cmpxchg16b`, detected at run time
/// when the build does not assume it; aarch64; ...) and its fallback elsewhere.
#[cfg(not(loom))]
pub(crate) use portable_atomic::AtomicU128;

#[cfg(loom)]
pub(crate) use loom_u128::AtomicU128;

/// loom has no 128-bit atomics: under `cfg(loom)` one word is a loom mutex
/// around a `u128`. Each operation is then one atomic step that loom
/// interleaves with every other, which is what the keyed table's protocol is
/// checked against; the ordering arguments themselves are in its comments.
#[cfg(loom)]
mod loom_u128 {
    use super::Ordering;
    use loom::sync::{Mutex, MutexGuard};

    /// `pub` in this private module (unreachable from outside all the
    /// same), as portable-atomic's type is: the keyed table's slots name it
    /// as a `Deref` target.
    #[derive(Debug)]
    pub struct AtomicU128(Mutex<u128>);

    impl AtomicU128 {
        pub(crate) fn new(value: u128) -> Self {
            Self(Mutex::new(value))
        }

        pub(crate) fn is_lock_free() -> bool {
            true
        }

        fn lock(&self) -> MutexGuard<'_, u128> {
            match self.0.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            }
        }

        pub(crate) fn load(&self, _: Ordering) -> u128 {
            *self.lock()
        }

        pub(crate) fn compare_exchange(
            &self,
            current: u128,
            new: u128,
            _: Ordering,
            _: Ordering,
        ) -> Result<u128, u128> {
            let mut word = self.lock();
            if *word == current {
                *word = new;
                Ok(current)
            } else {
                Err(*word)
            }
        }

        pub(crate) fn compare_exchange_weak(
            &self,
            current: u128,
            new: u128,
            success: Ordering,
            failure: Ordering,
        ) -> Result<u128, u128> {
            self.compare_exchange(current, new, success, failure)
        }
    }
}
