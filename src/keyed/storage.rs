//! Where a table's slots live: inline in the table (a `static`, or any value
//! built by [`KeyedLimiter::new`](super::KeyedLimiter::new)), or, with the
//! `alloc` feature, in one heap allocation made by
//! [`KeyedLimiter::new_boxed`](super::KeyedLimiter::new_boxed).

// Under loom the slot type is the crate's own model of a 128-bit atomic,
// which the sealed trait names: unreachable from outside all the same.
#![cfg_attr(loom, allow(private_interfaces))]

use crate::kernel::sync::AtomicU128;

use super::slot;

mod sealed {
    use crate::kernel::sync::AtomicU128;

    /// The slots as a slice; sealed so that only this module's storages,
    /// which hold exactly `N` slots, can back a table.
    pub trait Sealed {
        fn words(&self) -> &[AtomicU128];
    }
}

#[cfg(test)]
pub(crate) use sealed::Sealed;

/// Storage for a keyed table's `N` slots: [`InlineSlots`] (the default) or,
/// with the `alloc` feature, `BoxedSlots`. Sealed: implemented only here.
pub trait SlotStorage<const N: usize>: sealed::Sealed {}

/// `N` slots inside the table itself, `16 * N` bytes: a table in a `static`
/// needs no allocation and no stack.
pub struct InlineSlots<const N: usize>([AtomicU128; N]);

#[cfg(not(loom))]
impl<const N: usize> InlineSlots<N> {
    pub(crate) const fn vacant() -> Self {
        Self([const { AtomicU128::new(slot::VACANT) }; N])
    }
}

#[cfg(loom)]
impl<const N: usize> InlineSlots<N> {
    pub(crate) fn vacant() -> Self {
        Self(core::array::from_fn(|_| AtomicU128::new(slot::VACANT)))
    }
}

impl<const N: usize> sealed::Sealed for InlineSlots<N> {
    fn words(&self) -> &[AtomicU128] {
        &self.0
    }
}

impl<const N: usize> SlotStorage<N> for InlineSlots<N> {}

/// `N` slots in one heap allocation, made slot by slot: the table holds a
/// pointer, so building it never puts `16 * N` bytes on the stack.
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub struct BoxedSlots<const N: usize>(alloc::boxed::Box<[AtomicU128]>);

#[cfg(feature = "alloc")]
impl<const N: usize> BoxedSlots<N> {
    pub(crate) fn vacant() -> Self {
        // Collected through a `Vec` of exactly `N` elements written in
        // place: no array of `N` slots exists anywhere but on the heap.
        Self(
            core::iter::repeat_with(|| AtomicU128::new(slot::VACANT))
                .take(N)
                .collect(),
        )
    }
}

#[cfg(feature = "alloc")]
impl<const N: usize> sealed::Sealed for BoxedSlots<N> {
    fn words(&self) -> &[AtomicU128] {
        &self.0
    }
}

#[cfg(feature = "alloc")]
impl<const N: usize> SlotStorage<N> for BoxedSlots<N> {}
