//! Where a table's slots live: inline in the table (a `static`, or any value
//! built by [`KeyedLimiter::new`](super::KeyedLimiter::new)), or, with the
//! `alloc` feature, on the heap, made by
//! [`KeyedLimiter::new_boxed`](super::KeyedLimiter::new_boxed).

// Under loom the slot type is the crate's own model of a 128-bit atomic,
// which the sealed trait names: unreachable from outside all the same.
#![cfg_attr(loom, allow(private_interfaces))]

use crate::kernel::sync::{AtomicU8, AtomicU128};

use super::slot;

mod sealed {
    use core::ops::Deref;

    use crate::kernel::sync::{AtomicU8, AtomicU128};

    /// A table's slots: the words, and beside them one hint byte per word
    /// (see `probe`). Dereferences to the words.
    #[derive(Clone, Copy)]
    pub struct Slots<'a> {
        pub(crate) words: &'a [AtomicU128],
        pub(crate) hints: &'a [AtomicU8],
    }

    impl Deref for Slots<'_> {
        type Target = [AtomicU128];

        fn deref(&self) -> &[AtomicU128] {
            self.words
        }
    }

    /// The slots; sealed so that only this module's storages, which hold
    /// exactly `N` words and `N` hints, can back a table.
    pub trait Sealed {
        fn words(&self) -> Slots<'_>;
    }
}

#[cfg(test)]
pub(crate) use sealed::Sealed;
pub(crate) use sealed::Slots;

/// Storage for a keyed table's `N` slots: [`InlineSlots`] (the default) or,
/// with the `alloc` feature, `BoxedSlots`. Sealed: implemented only here.
pub trait SlotStorage<const N: usize>: sealed::Sealed {}

/// `N` slots inside the table itself, `17 * N` bytes (a 16-byte word and a
/// one-byte hint each, rounded up to a multiple of 16): a table in a `static`
/// needs no allocation and no stack.
pub struct InlineSlots<const N: usize> {
    words: [AtomicU128; N],
    hints: [AtomicU8; N],
}

#[cfg(not(loom))]
impl<const N: usize> InlineSlots<N> {
    pub(crate) const fn vacant() -> Self {
        Self {
            words: [const { AtomicU128::new(slot::VACANT) }; N],
            hints: [const { AtomicU8::new(0) }; N],
        }
    }
}

#[cfg(loom)]
impl<const N: usize> InlineSlots<N> {
    pub(crate) fn vacant() -> Self {
        Self {
            words: core::array::from_fn(|_| AtomicU128::new(slot::VACANT)),
            hints: core::array::from_fn(|_| AtomicU8::new(0)),
        }
    }
}

impl<const N: usize> sealed::Sealed for InlineSlots<N> {
    #[inline]
    fn words(&self) -> Slots<'_> {
        Slots {
            words: &self.words,
            hints: &self.hints,
        }
    }
}

impl<const N: usize> SlotStorage<N> for InlineSlots<N> {}

/// `N` slots on the heap, made slot by slot (the `N` words in one
/// allocation, their `N` hint bytes in another): the table holds two
/// pointers, so building it never puts `17 * N` bytes on the stack.
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub struct BoxedSlots<const N: usize> {
    /// A thin pointer (the length is `N`): the table keeps its 120 bytes
    /// with the instant that reconfiguration needs.
    words: alloc::boxed::Box<[AtomicU128; N]>,
    hints: alloc::boxed::Box<[AtomicU8]>,
}

#[cfg(feature = "alloc")]
impl<const N: usize> BoxedSlots<N> {
    pub(crate) fn vacant() -> Self {
        // Collected through a `Vec` of exactly `N` elements written in
        // place: no array of `N` slots exists anywhere but on the heap.
        let words: alloc::boxed::Box<[AtomicU128]> =
            core::iter::repeat_with(|| AtomicU128::new(slot::VACANT))
                .take(N)
                .collect();
        Self {
            words: words.try_into().unwrap_or_else(|_| {
                // Never: exactly `N` were collected. Correct all the same,
                // only with the array on the stack first.
                alloc::boxed::Box::new(core::array::from_fn(|_| AtomicU128::new(slot::VACANT)))
            }),
            hints: core::iter::repeat_with(|| AtomicU8::new(0))
                .take(N)
                .collect(),
        }
    }
}

#[cfg(feature = "alloc")]
impl<const N: usize> sealed::Sealed for BoxedSlots<N> {
    #[inline]
    fn words(&self) -> Slots<'_> {
        Slots {
            words: &*self.words,
            hints: &self.hints,
        }
    }
}

#[cfg(feature = "alloc")]
impl<const N: usize> SlotStorage<N> for BoxedSlots<N> {}
