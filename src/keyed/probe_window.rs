//! Where a key may live: its probe window of two groups of slots.
//!
//! The table is cut into groups of [`GROUP`] consecutive slots (the last one
//! may be shorter). A key's hash picks two different groups; the key lives in
//! a slot of one of them, and a new key goes to the group with more room
//! ("the power of two choices"). Compared with linear probing bounded to the
//! same number of slots, two choices fill the table far more evenly before any
//! window is full: with 1,024 slots, windows of 32 probing linearly overflow
//! at a median of 72% occupancy, two groups of 16 at 93% (a simulation of
//! random keys; see the table's docs). A table of at most `2 * GROUP` slots is
//! one window: every key may use every slot.

/// Slots per group: 16 slots of 16 bytes, four 64-byte cache lines.
pub(crate) const GROUP: usize = 16;

/// The most slots a key may use: two groups.
pub(crate) const MAX_WINDOW: usize = 2 * GROUP;

/// The slots a key may use, as positions `0..len()` in a fixed order that all
/// threads agree on (it decides which of two racing insertions survives).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    first: usize,
    first_len: usize,
    second: usize,
    second_len: usize,
}

/// `floor(x * n / 2^32)`: maps 32 uniform bits onto `0..n` (for `n > 0`).
const fn scale(x: u32, n: usize) -> usize {
    // `x < 2^32`, so the result is below `n` and fits a `usize`.
    (((x as u128).saturating_mul(n as u128)) >> 32) as usize
}

impl Window {
    /// The window of a key whose hash spreads as `spread` over `capacity` slots.
    pub(crate) const fn new(capacity: usize, spread: u64) -> Self {
        let groups = capacity.div_ceil(GROUP);
        if groups <= 1 {
            return Self {
                first: 0,
                first_len: capacity,
                second: 0,
                second_len: 0,
            };
        }
        // Truncations pick the two 32-bit halves of `spread`.
        let one = scale(spread as u32, groups);
        // A second group different from the first: an offset in 1..groups.
        let offset = scale((spread >> 32) as u32, groups.saturating_sub(1)).saturating_add(1);
        let two = match one.saturating_add(offset).checked_rem(groups) {
            Some(g) => g,
            None => 0,
        };
        let (first, first_len) = group(one, capacity);
        let (second, second_len) = group(two, capacity);
        Self {
            first,
            first_len,
            second,
            second_len,
        }
    }

    /// How many slots the key may use.
    pub(crate) const fn len(&self) -> usize {
        self.first_len.saturating_add(self.second_len)
    }

    /// The slot index at `position` (`position < len()`).
    pub(crate) const fn slot(&self, position: usize) -> usize {
        if position < self.first_len {
            self.first.saturating_add(position)
        } else {
            self.second
                .saturating_add(position.saturating_sub(self.first_len))
        }
    }

    /// The slot indices of the two groups, in position order: positions
    /// `0..first.len()` are the first range, the others the second (empty
    /// when the table is one window).
    pub(crate) const fn groups(&self) -> [core::ops::Range<usize>; 2] {
        [
            self.first..self.first.saturating_add(self.first_len),
            self.second..self.second.saturating_add(self.second_len),
        ]
    }
}

/// First slot and length of group `g` of a table of `capacity` slots.
const fn group(g: usize, capacity: usize) -> (usize, usize) {
    let start = g.saturating_mul(GROUP);
    let left = capacity.saturating_sub(start);
    (start, if left < GROUP { left } else { GROUP })
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec::Vec;

    #[test]
    fn small_tables_are_one_window() {
        for capacity in 1..=2 * GROUP {
            let window = Window::new(capacity, 0xdead_beef_0bad_f00d);
            let slots: Vec<usize> = (0..window.len()).map(|p| window.slot(p)).collect();
            let mut sorted = slots.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted, (0..capacity).collect::<Vec<_>>(), "{capacity}");
        }
    }

    #[test]
    fn large_tables_use_two_distinct_groups_in_range() {
        for capacity in [2 * GROUP + 1, 100, 1_024, 1_000_003] {
            for spread in [0, 1, u64::MAX, 0x8000_0000_ffff_ffff, 0xffff_ffff_0000_0000] {
                let window = Window::new(capacity, spread);
                assert!(window.len() <= 2 * GROUP);
                let mut slots: Vec<usize> = (0..window.len()).map(|p| window.slot(p)).collect();
                assert!(slots.iter().all(|&s| s < capacity), "{capacity} {spread:x}");
                let [one, two] = window.groups();
                let by_groups: Vec<usize> = one.chain(two).collect();
                assert_eq!(by_groups, slots, "{capacity} {spread:x}");
                slots.sort_unstable();
                slots.dedup();
                assert_eq!(
                    slots.len(),
                    window.len(),
                    "groups overlap: {capacity} {spread:x}"
                );
            }
        }
    }
}
