//! Aligned windows on the tick line, shared by [`FixedWindow`](crate::FixedWindow)
//! and [`SlidingWindow`](crate::SlidingWindow).
//!
//! Boundaries lie at `first + k * width` for `k >= 0`, with `first` in
//! `1..=width`: window 0 is `[0, first)` (a whole window when the grid is
//! aligned to tick 0, a partial one when it is aligned to another epoch), and
//! window `k >= 1` is `[first + (k - 1) * width, first + k * width)`.
//!
//! A limiter stores the window index in the bits its counts leave free of its
//! 64-bit word. So that an index never wraps into a wrong decision, windows
//! after the last storable one, `last`, do not exist: instants at or after
//! `horizon`, the start of window `last`, are all evaluated as `horizon`, which
//! can only make a limiter stricter (its last window never ends). Construction
//! demands enough index bits to number every window that starts before
//! `2^32` seconds past tick 0 (as `Gcra`'s horizon), so the horizon is at
//! least 136 years away, less two windows.

use crate::algorithms::divisor::Divisor;
use crate::answer::{Denied, ExceedsBurst};
use crate::kernel::{Step, fingerprint};
use crate::quota::{Quota, QuotaError};

/// The window geometry, immutable once built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Grid {
    /// Window length in ticks, at least 1, with its reciprocal: a check
    /// finds its window without a division.
    pub(crate) width: Divisor,
    /// The first boundary after tick 0, in `1..=width`.
    pub(crate) first: u64,
    /// The last window index the state can store.
    pub(crate) last: u64,
    /// The start of window `last`; later instants are evaluated as this one.
    pub(crate) horizon: u64,
}

/// What the window limiters' configurations share: the grid, the limit (the
/// quota's count), and the bits of each count in the state word, whose
/// window index takes the bits the counts leave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Windows {
    pub(crate) grid: Grid,
    pub(crate) limit: u32,
    /// Bits of each count.
    pub(crate) count_bits: u32,
}

impl Windows {
    /// The windows of `quota` at `hz` with a boundary at `epoch`, for a word
    /// of `counts` counts of the limit's bits and a window index.
    ///
    /// # Errors
    ///
    /// As [`Grid::new`], for the index bits the counts leave.
    pub(crate) const fn new(
        quota: &Quota,
        hz: u64,
        epoch: u64,
        counts: u32,
    ) -> Result<Self, QuotaError> {
        let count_bits = bits(quota.count());
        let index_bits = u64::BITS.saturating_sub(count_bits.saturating_mul(counts));
        match Grid::new(quota, hz, epoch, index_bits) {
            Ok(grid) => Ok(Self {
                grid,
                limit: quota.count(),
                count_bits,
            }),
            Err(e) => Err(e),
        }
    }

    /// A mask of one count's bits. A count takes the bits of a `u32` limit,
    /// `1..=32`, so shifts by `count_bits` are under 64 and the plain
    /// (wrapping) shifts are exact, without the compare and conditional
    /// move of [`shl`], which allows a whole-word shift.
    #[inline(always)]
    pub(crate) const fn count_mask(&self) -> u64 {
        field_mask(self.count_bits)
    }

    /// The refusal of a check of more units than a window ever admits, if
    /// `n` is one.
    pub(crate) const fn exceeds<const HZ: u64>(&self, n: u32) -> Option<Step<HZ>> {
        if n > self.limit {
            Some(Step::Deny(Denied::ExceedsBurst(ExceedsBurst::new(
                n, self.limit,
            ))))
        } else {
            None
        }
    }

    /// The fingerprint of a window limiter called `name` at `hz`.
    pub(crate) const fn fingerprint(&self, name: &[u8], hz: u64) -> u64 {
        let [a, b, c] = self.grid.words();
        fingerprint(
            name,
            &[hz, self.limit as u64, self.count_bits as u64, a, b, c],
        )
    }
}

/// The constructors and getters of a window limiter's configuration (which
/// holds its [`Windows`] in `windows`, for a word of `$counts` counts), with
/// their docs; the caller writes the `# Errors` of `new` and the doc of
/// `limit`.
macro_rules! window_config_items {
    (
        counts: $counts:literal;
        $(#[$new_errors:meta])*
        fn new;
        $(#[$limit_doc:meta])*
        fn limit;
    ) => {
        /// An empty limiter for `quota` with windows aligned to tick 0, in
        /// ticks of `1 / HZ` seconds.
        ///
        /// # Errors
        ///
        $(#[$new_errors])*
        pub const fn new(quota: Quota) -> Result<Self, QuotaError> {
            Self::with_epoch(quota, Instant::<HZ>::from_ticks(0))
        }

        /// An empty limiter for `quota` with a window boundary at `epoch` (and
        /// so at every multiple of the window length from it, before and after).
        ///
        /// # Errors
        ///
        /// As [`new`](Self::new).
        pub const fn with_epoch(quota: Quota, epoch: Instant<HZ>) -> Result<Self, QuotaError> {
            match $crate::algorithms::grid::Windows::new(&quota, HZ, epoch.as_ticks(), $counts) {
                Ok(windows) => Ok(Self { windows }),
                Err(e) => Err(e),
            }
        }

        $(#[$limit_doc])*
        pub const fn limit(&self) -> u32 {
            self.windows.limit
        }

        /// The window length `W`.
        pub const fn window(&self) -> Duration<HZ> {
            Duration::<HZ>::from_ticks(self.windows.grid.width.d)
        }

        /// The start of the last window the state can number; later instants are
        /// evaluated as this one.
        pub const fn horizon(&self) -> Instant<HZ> {
            Instant::<HZ>::from_ticks(self.windows.grid.horizon)
        }
    };
}
pub(crate) use window_config_items;

/// `a / b`, total: every divisor here is non-zero by construction, and the
/// `0` for `b == 0` only keeps the function free of panics.
const fn div(a: u64, b: u64) -> u64 {
    match a.checked_div(b) {
        Some(q) => q,
        None => 0,
    }
}

/// The number of bits needed to hold `value` (at least 1).
pub(crate) const fn bits(value: u32) -> u32 {
    let used = u32::BITS.saturating_sub(value.leading_zeros());
    if used == 0 { 1 } else { used }
}

/// A mask of the low `bits` bits (all 64 for `bits >= 64`).
pub(crate) const fn mask(bits: u32) -> u64 {
    match 1u64.checked_shl(bits) {
        Some(bit) => bit.wrapping_sub(1),
        None => u64::MAX,
    }
}

/// A mask of the low `bits` bits, for `bits < 64`: a field of a state word
/// that never takes the whole word, so the plain (wrapping) shift is exact,
/// without the compare and conditional move of [`mask`].
pub(crate) const fn field_mask(bits: u32) -> u64 {
    1u64.wrapping_shl(bits).wrapping_sub(1)
}

/// `value << shift`, zero when the shift is the whole word (the field is empty).
pub(crate) const fn shl(value: u64, shift: u32) -> u64 {
    match value.checked_shl(shift) {
        Some(v) => v,
        None => 0,
    }
}

/// The window length of `quota` in ticks of `1 / hz` seconds, rounded up (a
/// longer window with the same limit is stricter), checking that the quota
/// suits a window limiter.
pub(crate) const fn window_ticks(quota: &Quota, hz: u64) -> Result<u64, QuotaError> {
    if let Err(e) = quota.validate() {
        return Err(e);
    }
    if quota.burst_size() != quota.count() {
        return Err(QuotaError::BurstUnsupported);
    }
    quota.period_in_whole_ticks(hz)
}

impl Grid {
    /// The windows of `quota` at `hz`, with a boundary at `epoch`, for a state
    /// with `index_bits` bits of window index.
    ///
    /// # Errors
    ///
    /// Those of [`window_ticks`] and [`Grid::with_width`].
    pub(crate) const fn new(
        quota: &Quota,
        hz: u64,
        epoch: u64,
        index_bits: u32,
    ) -> Result<Self, QuotaError> {
        match window_ticks(quota, hz) {
            Ok(width) => Self::with_width(width, hz, epoch, index_bits),
            Err(e) => Err(e),
        }
    }

    /// Windows of `width >= 1` ticks at `hz`, with a boundary at `epoch`, for
    /// a state with `index_bits` bits of window index.
    ///
    /// # Errors
    ///
    /// [`QuotaError::LimitTooLarge`] when the index bits cannot number the
    /// windows of the first `2^32` seconds (nor those of the whole tick line,
    /// if that is shorter).
    pub(crate) const fn with_width(
        width: u64,
        hz: u64,
        epoch: u64,
        index_bits: u32,
    ) -> Result<Self, QuotaError> {
        let phase = match epoch.checked_rem(width) {
            Some(p) => p,
            None => 0,
        };
        let first = if phase == 0 { width } else { phase };
        let mut grid = Self {
            width: Divisor::new(width),
            first,
            last: 0,
            horizon: 0,
        };
        let storable = mask(index_bits);
        // Counted as if aligned to tick 0, whatever the epoch, so that the
        // largest limit depends on the window length alone. `hz >= 1` here
        // (the window is not empty), so the subtraction cannot wrap.
        let needed = div((1u64 << 32).saturating_mul(hz).saturating_sub(1), width);
        let whole_line = div(u64::MAX, width);
        let needed = if needed < whole_line {
            needed
        } else {
            whole_line
        };
        if storable < needed {
            return Err(QuotaError::LimitTooLarge);
        }
        let end_of_time = grid.index(u64::MAX);
        grid.last = if storable < end_of_time {
            storable
        } else {
            end_of_time
        };
        grid.horizon = grid.start(grid.last);
        Ok(grid)
    }

    /// The window holding instant `t` (not clamped to the horizon).
    #[inline]
    pub(crate) const fn index(&self, t: u64) -> u64 {
        if t < self.first {
            0
        } else {
            // `t >= first`: no wrap; the quotient is below `u64::MAX`.
            self.width
                .quotient(t.wrapping_sub(self.first))
                .saturating_add(1)
        }
    }

    /// The start of window `i` (0 for window 0), saturated at `u64::MAX`.
    #[inline]
    pub(crate) const fn start(&self, i: u64) -> u64 {
        match i.checked_sub(1) {
            None => 0,
            Some(k) => self.first.saturating_add(k.saturating_mul(self.width.d)),
        }
    }

    /// The end (exclusive) of window `i`, which may lie past `u64::MAX`.
    #[inline]
    pub(crate) const fn end(&self, i: u64) -> u128 {
        // Below 2^64 + 2^128 / 2: a `u64` times a `u64` plus a `u64` fits.
        (self.first as u128).saturating_add((i as u128).saturating_mul(self.width.d as u128))
    }

    /// The numbers the decisions read, for a configuration fingerprint.
    pub(crate) const fn words(&self) -> [u64; 3] {
        [self.width.d, self.first, self.last]
    }

    /// The instant evaluated for `now` (`now`, or the horizon if later) and
    /// its window.
    #[inline]
    pub(crate) const fn locate(&self, now: u64) -> (u64, u64) {
        if now >= self.horizon {
            (self.last, self.horizon)
        } else {
            (self.index(now), now)
        }
    }

    /// Ticks left in window `i` at instant `t` of that window (`1..=width`).
    #[inline]
    pub(crate) const fn left_in(&self, i: u64, t: u64) -> u64 {
        if i == 0 {
            self.first.saturating_sub(t)
        } else {
            // `t` lies in window `i`: `start(i) <= t < start(i) + width`.
            self.width.d.saturating_sub(t.saturating_sub(self.start(i)))
        }
    }
}

/// Ticks from `now` to `target`, an event still to come (a boundary, an
/// expiry), at least 1.
///
/// Exact whenever `target` is after `now` and within the tick line. Only past
/// the horizon can it be otherwise (the event never comes there, or `now` was
/// evaluated as the horizon); then the wait is saturated at the end of the
/// tick line, and at least 1 all the same: a limiter that is not full never
/// says it is.
#[inline]
pub(crate) const fn wait_until(target: u128, now: u64) -> u64 {
    let target = if target > u64::MAX as u128 {
        u64::MAX
    } else {
        target as u64
    };
    let ticks = target.saturating_sub(now);
    if ticks == 0 { 1 } else { ticks }
}
