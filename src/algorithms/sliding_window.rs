//! The sliding-window counter: a fixed window's count, smoothed by the
//! previous window's.

use crate::algorithms::grid::{Grid, Windows, mask, wait_until, window_ticks};
use crate::answer::{Denied, RateLimited, Status};
use crate::kernel::{Algorithm, Step, WordLimiter};
use crate::quota::{Quota, QuotaError};
use crate::time::{Duration, Instant, NANOS};

/// The sliding-window counter: about `limit` units in any span of length `W`,
/// from two counts and a window index in one atomic `u64`.
///
/// Time is cut into aligned windows of length `W` as for
/// [`FixedWindow`](crate::FixedWindow), which keep a count each. At an instant
/// with `elapsed` ticks into the current window, the units in the trailing
/// span of length `W` are estimated by assuming the previous window's units
/// were spread evenly over it:
///
/// ```text
/// estimate = ceil(prev * (W - elapsed) / W) + curr
/// ```
///
/// and a check of `n` is admitted iff `estimate + n <= limit`. The weighted
/// term is rounded **up** (in integer arithmetic), so the rounding can only
/// deny, never admit: the test is exactly the rational `prev * (W - elapsed) / W
/// + curr + n <= limit`.
///
/// ```
/// use ratecore::{Instant, Limiter, Quota, SlidingWindow};
///
/// let limiter = SlidingWindow::<1_000>::new(Quota::per_second(10)).unwrap();
/// let t = |ms| Instant::<1_000>::from_ticks(ms);
/// assert!(limiter.check_n_at(10, t(999)).is_ok()); // 10 at the end of window 0
/// // 250 ms into window 1, 3/4 of window 0 is still in the trailing second:
/// // estimate = ceil(10 * 750 / 1000) = 8, so 2 more fit.
/// assert_eq!(limiter.snapshot_at(t(1_250)).remaining(), 2);
/// let denied = limiter.check_n_at(3, t(1_250)).unwrap_err();
/// assert_eq!(denied.retry_after().unwrap().as_ticks(), 50); // at 1300: ceil(10 * 700 / 1000) = 7
/// ```
///
/// # How far it can be off
///
/// The estimate is exact when traffic is even; it errs when the previous
/// window's units were bunched. Per aligned window it never admits more than
/// `limit` (the current count alone is bounded). In any span of `W` ticks it
/// admits at most
///
/// ```text
/// 2 * limit - ceil(2 * limit / W)      (W >= 2; and `limit` when W = 1)
/// ```
///
/// which is below `2 * limit`, and the bound is reached. *Proof.* A span
/// `[t, t + W)` that is not a whole window overlaps the end of a window `k`,
/// `d` ticks of it (`1 <= d < W`), and the start of window `k + 1`. It holds
/// `a <= P` units of window `k`, where `P <= limit` is window `k`'s total.
/// Let `b` be its units of window `k + 1`, and look at the last admitted
/// check among them, at instant `s <= t + W - 1`: the ticks left in window
/// `k + 1` are `end(k + 1) - s >= d + 1 >= 2`, so its test was
/// `ceil(P * (d + 1) / W) + b <= limit` at least. Hence
/// `a + b <= P + limit - ceil(2 * P / W)`, which grows with `P` (for `W >= 2`)
/// and is largest at `P = limit`. It is reached by `limit` units on the last
/// tick of a window after an empty one, then as many as pass on every tick of
/// the next. The README's "Sliding-window accuracy" measures the error in practice.
///
/// # Answers
///
/// `remaining` is exact (that many single units pass at the same instant),
/// `retry_after` is the exact first instant at which the same check passes,
/// and `reset_after` the first instant with a zero estimate (zero if it is
/// zero now). The quota's burst must equal its count, as for
/// [`FixedWindow`](crate::FixedWindow#answers).
///
/// # Largest limit
///
/// The word holds two counts of `b` bits each, `b` being the bits the limit
/// needs, and the window index in the remaining `64 - 2b` bits, which must
/// number every window of the first 2^32 seconds (136 years, as
/// [`Gcra`](crate::Gcra#range)). So the largest limit depends on the window
/// length alone, for clocks up to 2^32 Hz (faster ones run out of ticks
/// first, which allows more): [`max_limit`](SlidingWindow::max_limit)
/// computes it, and a larger count is refused with
/// [`QuotaError::LimitTooLarge`].
///
/// | window | largest limit |
/// | --- | --- |
/// | 1 ms | 2,047 |
/// | 100 ms | 16,383 |
/// | 1 s | 65,535 |
/// | 1 min | 262,143 |
/// | 1 h | 2,097,151 |
/// | 1 day | 16,777,215 |
///
/// For larger limits use [`Gcra`](crate::Gcra) (exact, any limit) or a
/// longer window.
///
/// # Range
///
/// Instants after [`horizon`](SlidingWindow::horizon) (at least 2^32 seconds
/// past tick 0, less two windows) are evaluated as the horizon: the estimate
/// stops decaying, which is stricter, and `retry_after` is no longer exact. A
/// stale `now`, in a window older than the state's, is evaluated at the start
/// of the state's window, its strictest instant, and counted there: never
/// looser than a fresh reading.
///
/// # Refunds
///
/// A [refund](crate::Refund) gives units back to the current window's count,
/// then to the previous one's.
///
/// # Progress
///
/// As [`Gcra`](crate::Gcra#progress): lock-free with a native 64-bit
/// compare-and-swap, and a denied check writes nothing.
pub type SlidingWindow<const HZ: u64 = NANOS> = WordLimiter<SlidingWindowConfig<HZ>>;

/// The configuration of a [`SlidingWindow`]: the window grid and the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SlidingWindowConfig<const HZ: u64 = NANOS> {
    windows: Windows,
}

/// A state word, unpacked.
#[derive(Clone, Copy)]
struct Word {
    window: u64,
    prev: u64,
    curr: u64,
}

/// The counts as seen from one instant.
#[derive(Clone, Copy)]
struct View {
    /// Counts of the window evaluated and the one before it.
    word: Word,
    /// Ticks left in that window at the instant evaluated (`1..=W`).
    left: u64,
}

/// The largest limit for `count_bits` bits per count.
const fn limit_of(count_bits: u32) -> u32 {
    mask(count_bits) as u32
}

impl<const HZ: u64> SlidingWindowConfig<HZ> {
    crate::algorithms::grid::window_config_items! {
        counts: 2;
        /// A [`QuotaError`]: the quota is zero somewhere, its burst differs from
        /// its count ([`BurstUnsupported`](QuotaError::BurstUnsupported)), its
        /// period does not fit 64-bit ticks ([`TooLarge`](QuotaError::TooLarge)),
        /// or its count is above [`max_limit`](SlidingWindow::max_limit)
        /// ([`LimitTooLarge`](QuotaError::LimitTooLarge)).
        fn new;
        /// The most units admitted per window, and the estimate's ceiling.
        fn limit;
    }

    /// The largest count a sliding window with `quota`'s period accepts at
    /// this clock rate (the quota's own count does not matter).
    ///
    /// ```
    /// use ratecore::{Quota, SlidingWindow};
    ///
    /// assert_eq!(SlidingWindow::<1_000>::max_limit(Quota::per_second(1)), Ok(65_535));
    /// assert!(SlidingWindow::<1_000>::new(Quota::per_second(65_536)).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// As [`new`](SlidingWindow::new) for the quota's period, and
    /// [`QuotaError::LimitTooLarge`] if not even a limit of 1 fits (a window
    /// of one tick at a clock faster than 2^32 Hz).
    pub const fn max_limit(quota: Quota) -> Result<u32, QuotaError> {
        let width = match window_ticks(&quota, HZ) {
            Ok(w) => w,
            Err(e) => return Err(e),
        };
        // Fewer count bits leave more index bits: the first that fits is the largest.
        let mut count_bits = u32::BITS;
        while count_bits > 0 {
            let index_bits = u64::BITS.saturating_sub(count_bits.saturating_mul(2));
            if Grid::with_width(width, HZ, 0, index_bits).is_ok() {
                return Ok(limit_of(count_bits));
            }
            count_bits = count_bits.saturating_sub(1);
        }
        Err(QuotaError::LimitTooLarge)
    }

    // A count takes `count_bits` bits, `1..=32` (`Windows::count_mask`):
    // each shift by it is under 64, so the plain (wrapping) shifts are
    // exact, and the window index, two counts up, is shifted twice (32 and
    // 32 make the whole word, where one shift by 64 would need a guard).
    const fn unpack(&self, state: u64) -> Word {
        let (bits, field) = (self.windows.count_bits, self.windows.count_mask());
        let above_curr = state.wrapping_shr(bits);
        Word {
            window: above_curr.wrapping_shr(bits),
            prev: above_curr & field,
            curr: state & field,
        }
    }

    const fn pack(&self, word: Word) -> u64 {
        let (bits, field) = (self.windows.count_bits, self.windows.count_mask());
        (word.window.wrapping_shl(bits) | (word.prev & field)).wrapping_shl(bits)
            | (word.curr & field)
    }

    /// The counts that decide a check at `now`.
    const fn view(&self, state: u64, now: u64) -> View {
        let stored = self.unpack(state);
        let (window, t) = self.windows.grid.locate(now);
        if window < stored.window {
            // Stale: the start of the state's window, where the previous
            // count weighs fully, is its strictest instant.
            return View {
                word: stored,
                left: self.windows.grid.width.d,
            };
        }
        let left = self.windows.grid.left_in(window, t);
        let (prev, curr) = if window == stored.window {
            (stored.prev, stored.curr)
        } else if window == stored.window.saturating_add(1) {
            (stored.curr, 0)
        } else {
            (0, 0)
        };
        View {
            word: Word { window, prev, curr },
            left,
        }
    }

    /// `ceil(prev * left / W)`: the previous window's share of the trailing span.
    const fn weighted(&self, view: &View) -> u128 {
        let share = (view.word.prev as u128).saturating_mul(view.left as u128);
        // `W >= 1`; the fallback only keeps the function total.
        match share.checked_add((self.windows.grid.width.d as u128).saturating_sub(1)) {
            Some(s) => match s.checked_div(self.windows.grid.width.d as u128) {
                Some(q) => q,
                None => share,
            },
            None => share,
        }
    }

    /// Whether `estimate + n <= limit`, without the estimate's division:
    /// `ceil(prev * left / W) <= k` for a whole `k` is `prev * left <= k * W`,
    /// so the test is `prev * left <= (limit - curr - n) * W`, two multiplies.
    #[inline]
    const fn fits(&self, view: &View, n: u32) -> bool {
        // Both below 2^33 (`curr <= limit` for states written here): no wrap.
        let need = view.word.curr.saturating_add(n as u64);
        let limit = self.windows.limit as u64;
        if need > limit {
            return false;
        }
        // Each product is below 2^32 * 2^64: fits in 128 bits.
        let share = (view.word.prev as u128).saturating_mul(view.left as u128);
        let room =
            (limit.wrapping_sub(need) as u128).saturating_mul(self.windows.grid.width.d as u128);
        share <= room
    }

    /// The first instant at which the estimate of `view` is zero, as ticks
    /// from `now` (zero if it is zero already).
    const fn reset_after(&self, word: &Word, now: u64) -> u64 {
        let end = self.windows.grid.end(word.window);
        if word.curr > 0 {
            // Next window: `curr` becomes `prev` and weighs until its end.
            wait_until(end.saturating_add(self.windows.grid.width.d as u128), now)
        } else if word.prev > 0 {
            wait_until(end, now)
        } else {
            0
        }
    }

    /// The first instant after the evaluated one at which `estimate + n <=
    /// limit`, given that it does not hold now; `room = limit - n`.
    const fn retry_at(&self, view: &View, room: u64) -> u128 {
        let width = self.windows.grid.width.d as u128;
        let end = self.windows.grid.end(view.word.window);
        let (prev, curr) = (view.word.prev as u128, view.word.curr as u128);
        let room = room as u128;
        if curr <= room {
            // Within this window, once `prev * left <= (room - curr) * W`,
            // i.e. `left <= (room - curr) * W / prev`; at the latest at the
            // next boundary, where the estimate is `curr <= room`.
            let most_left =
                match ((room.saturating_sub(curr)).saturating_mul(width)).checked_div(prev) {
                    Some(q) => q,
                    None => 0,
                };
            end.saturating_sub(most_left)
        } else {
            // In the next window, where `curr` is the previous count:
            // `left <= room * W / curr`; at the latest when it has passed.
            let most_left = match room.saturating_mul(width).checked_div(curr) {
                Some(q) => q,
                None => 0,
            };
            end.saturating_add(width).saturating_sub(most_left)
        }
    }
}

/// The configuration alone, applied to an external state word (for keyed
/// tables and other containers of many states).
///
/// The word holds the window index in its high bits, then the previous and
/// the current window's counts; the fresh state `0` is window 0 with
/// zero counts.
impl<const HZ: u64> Algorithm<HZ> for SlidingWindowConfig<HZ> {
    const NAME: &'static str = "sliding-window";

    fn fingerprint(&self) -> u64 {
        self.windows.fingerprint(b"sliding-window", HZ)
    }

    #[inline(always)]
    fn decide(&self, state: u64, n: u32, now: Instant<HZ>) -> Step<HZ> {
        if let Some(never) = self.windows.exceeds(n) {
            return never;
        }
        if n == 0 {
            // Zero units: admitted, whatever the estimate, and nothing stored.
            return Step::Keep(self.status(state, now));
        }
        let now = now.as_ticks();
        let view = self.view(state, now);
        let limit = self.windows.limit as u128;
        if self.fits(&view, n) {
            let after = self
                .weighted(&view)
                .saturating_add(view.word.curr as u128)
                .saturating_add(n as u128);
            let word = Word {
                // `curr + n <= after <= limit`: fits its field.
                curr: view.word.curr.saturating_add(n as u64),
                ..view.word
            };
            let status = Status::new(
                self.windows.limit,
                // `after <= limit`: fits a `u32`.
                limit.saturating_sub(after) as u32,
                Duration::<HZ>::from_ticks(self.reset_after(&word, now)),
            );
            Step::admit(state, self.pack(word), status)
        } else {
            let estimate = self.weighted(&view).saturating_add(view.word.curr as u128);
            // `n <= limit`: the room is not negative.
            let room = (self.windows.limit as u64).saturating_sub(n as u64);
            let retry = wait_until(self.retry_at(&view, room), now);
            let limited = RateLimited::new(
                self.windows.limit,
                limit.saturating_sub(estimate) as u32,
                Duration::<HZ>::from_ticks(retry),
                Duration::<HZ>::from_ticks(self.reset_after(&view.word, now)),
            );
            Step::Deny(Denied::RateLimited(limited))
        }
    }

    fn status(&self, state: u64, now: Instant<HZ>) -> Status<HZ> {
        let now = now.as_ticks();
        let view = self.view(state, now);
        let estimate = self.weighted(&view).saturating_add(view.word.curr as u128);
        Status::new(
            self.windows.limit,
            (self.windows.limit as u128).saturating_sub(estimate) as u32,
            Duration::<HZ>::from_ticks(self.reset_after(&view.word, now)),
        )
    }

    fn refund(&self, state: u64, n: u32, now: Instant<HZ>) -> u64 {
        // Take from the evaluated window's count, then from the one before;
        // the stored window index never changes here, so a refund cannot
        // make a later stale instant looser.
        let stored = self.unpack(state);
        let (window, _) = self.windows.grid.locate(now.as_ticks());
        let n = n as u64;
        let word = if window > stored.window.saturating_add(1) {
            // Both counts belong to windows that no longer weigh.
            stored
        } else if window == stored.window.saturating_add(1) {
            // The stored current count is now the previous window's.
            Word {
                curr: stored.curr.saturating_sub(n),
                ..stored
            }
        } else {
            let from_curr = if n < stored.curr { n } else { stored.curr };
            Word {
                curr: stored.curr.saturating_sub(from_curr),
                prev: stored.prev.saturating_sub(n.saturating_sub(from_curr)),
                ..stored
            }
        };
        self.pack(word)
    }

    fn idle_after(&self, state: u64, now: Instant<HZ>) -> Option<Duration<HZ>> {
        // From the window `idle` on, a fresh word sees zero counts in that
        // window and the one before; so does this word, once its counts have
        // aged out. (A word from a *later* window is not idle: it makes stale
        // instants stricter.)
        let stored = self.unpack(state);
        let idle = if stored.curr == 0 && stored.prev == 0 {
            stored.window
        } else if stored.curr == 0 {
            stored.window.saturating_add(1)
        } else {
            stored.window.saturating_add(2)
        };
        let now = now.as_ticks();
        let (window, _) = self.windows.grid.locate(now);
        if window >= idle {
            return Some(Duration::<HZ>::from_ticks(0));
        }
        if idle > self.windows.grid.last {
            return None;
        }
        // `idle > window >= 0`: window `idle` starts where `idle - 1` ends.
        let end = self.windows.grid.end(idle.saturating_sub(1));
        Some(Duration::<HZ>::from_ticks(wait_until(end, now)))
    }
}

impl<const HZ: u64> WordLimiter<SlidingWindowConfig<HZ>> {
    /// The largest limit a sliding window can count for `quota`'s period:
    /// see [`SlidingWindowConfig::max_limit`].
    ///
    /// # Errors
    ///
    /// As [`SlidingWindowConfig::max_limit`].
    pub const fn max_limit(quota: Quota) -> Result<u32, QuotaError> {
        SlidingWindowConfig::<HZ>::max_limit(quota)
    }

    crate::macros::forward_window_config!(SlidingWindowConfig);
}
