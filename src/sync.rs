//! The one place atomics come from.
//!
//! Normal builds use [`portable_atomic`]: native instructions where the target
//! has them, otherwise portable-atomic's fallback (a global lock table, for
//! targets with 32-bit CAS only) or, with the `critical-section` feature, a
//! critical section. Under `cfg(loom)` the same names resolve to loom's
//! model-checked atomics so that `tests/loom.rs` explores every interleaving of
//! the real code.

#[cfg(not(loom))]
pub(crate) use portable_atomic::{AtomicBool, AtomicU64, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
