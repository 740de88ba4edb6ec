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

/// The bits of a 64-bit key hash left beside its 46-bit fingerprint, which
/// choose the window of a table that [`Window::fits_spare`].
pub(crate) const SPARE_BITS: u32 = u64::BITS - super::slot::FINGERPRINT_BITS;

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
    /// The window of a key whose hash spreads as `spread` (64 uniform bits)
    /// over `capacity` slots: the first group from one 32-bit half, the
    /// offset to the second from the other.
    // Inlined: `capacity` is a constant, folded into the divisions.
    #[inline(always)]
    pub(crate) const fn new(capacity: usize, spread: u64) -> Self {
        let groups = capacity.div_ceil(GROUP);
        // Truncations pick the two 32-bit halves of `spread`.
        let one = scale(spread as u32, groups);
        // A second group different from the first: an offset in 1..groups.
        let offset = scale((spread >> 32) as u32, groups.saturating_sub(1)).saturating_add(1);
        Self::of_groups(capacity, one, offset)
    }

    /// Whether a table of `capacity` slots has at most `2^SPARE_BITS`
    /// ordered pairs of distinct groups, so that
    /// [`from_spare`](Self::from_spare) can choose its windows: up to 512
    /// groups, 8,192 slots.
    pub(crate) const fn fits_spare(capacity: usize) -> bool {
        let groups = capacity.div_ceil(GROUP);
        groups.saturating_mul(groups.saturating_sub(1)) <= 1 << SPARE_BITS
    }

    /// The window of a key whose hash spreads as `spare`, `SPARE_BITS`
    /// uniform bits (the bits above them ignored), over `capacity` slots,
    /// for a table that [`fits_spare`](Self::fits_spare): the bits pick one
    /// of the `groups * (groups - 1)` ordered pairs of distinct groups, each
    /// pair by `floor` or `ceil` of `2^SPARE_BITS / pairs` of their values.
    // Inlined: `capacity` is a constant, folded into the divisions.
    #[inline(always)]
    pub(crate) const fn from_spare(capacity: usize, spare: u64) -> Self {
        let groups = capacity.div_ceil(GROUP);
        let others = groups.saturating_sub(1);
        let pairs = groups.saturating_mul(others) as u64;
        let bits = spare & ((1 << SPARE_BITS) - 1);
        // `bits < 2^18` and `pairs <= 2^18` (`fits_spare`): no overflow, and
        // the pair is below `pairs`.
        let pair = (bits.saturating_mul(pairs) >> SPARE_BITS) as usize;
        let (one, offset) = match (pair.checked_div(others), pair.checked_rem(others)) {
            (Some(one), Some(offset)) => (one, offset.saturating_add(1)),
            // One group: the window is the whole table.
            _ => (0, 0),
        };
        Self::of_groups(capacity, one, offset)
    }

    /// The window of groups `one` and `one + offset` (modulo the number of
    /// groups) of a table of `capacity` slots; the whole table if it has
    /// one group.
    // Inlined: `capacity` is a constant, folded into the divisions.
    #[inline(always)]
    const fn of_groups(capacity: usize, one: usize, offset: usize) -> Self {
        let groups = capacity.div_ceil(GROUP);
        if groups <= 1 {
            return Self {
                first: 0,
                first_len: capacity,
                second: 0,
                second_len: 0,
            };
        }
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
    use std::vec;
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

    /// Every ordered pair of distinct groups is chosen by `floor` or `ceil`
    /// of `2^18 / pairs` spare values, counted over all of them; and the
    /// 64-bit split is used exactly up to 512 groups.
    #[test]
    fn spare_bits_choose_every_pair_of_groups_evenly() {
        assert!(Window::fits_spare(8_192));
        assert!(!Window::fits_spare(8_193));
        assert!(Window::fits_spare(1));
        for capacity in [33usize, 48, 100, 1_024, 8_000, 8_192] {
            let groups = capacity.div_ceil(GROUP);
            let mut counts = vec![0u32; groups * groups];
            for spare in 0..1u64 << SPARE_BITS {
                let window = Window::from_spare(capacity, spare);
                let [one, two] = window.groups();
                let (a, b) = (one.start / GROUP, two.start / GROUP);
                assert_ne!(a, b, "{capacity} {spare}");
                assert!(one.end <= capacity && two.end <= capacity);
                counts[a * groups + b] += 1;
            }
            let pairs = (groups * (groups - 1)) as u64;
            let low = (1u64 << SPARE_BITS) / pairs;
            for a in 0..groups {
                for b in 0..groups {
                    let count = u64::from(counts[a * groups + b]);
                    if a == b {
                        assert_eq!(count, 0);
                    } else {
                        assert!(
                            count == low || count == low + 1,
                            "{capacity} {a} {b} {count}"
                        );
                    }
                }
            }
        }
    }
}
