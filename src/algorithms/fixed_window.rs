//! The fixed window: at most `limit` units per aligned window.

use crate::algorithms::grid::{Windows, wait_until};
use crate::answer::{Denied, RateLimited, Status};
use crate::kernel::{Algorithm, Step, WordLimiter};
use crate::quota::{Quota, QuotaError};
use crate::time::{Duration, Instant, NANOS};

/// At most `limit` units in each aligned window of length `W`, in one atomic `u64`.
///
/// The quota's count is the limit and its period is `W`: `Quota::per_minute(100)`
/// admits 100 units in every calendar-aligned minute, and the count starts
/// again from zero at each boundary, all at once. Windows are aligned to
/// multiples of `W` from tick 0 ([`new`](FixedWindow::new)), or to any epoch
/// ([`with_epoch`](FixedWindow::with_epoch)): with a Unix
/// [`WallClock`](crate::clock) and `per_minute`, windows are UTC minutes.
///
/// ```
/// use ratecore::{FixedWindow, Instant, Limiter, Quota};
///
/// let limiter = FixedWindow::<1_000>::new(Quota::per_second(3)).unwrap();
/// let t = |ms| Instant::<1_000>::from_ticks(ms);
/// assert!(limiter.check_n_at(3, t(999)).is_ok());
/// let denied = limiter.check_at(t(999)).unwrap_err();
/// assert_eq!(denied.retry_after().unwrap().as_ticks(), 1); // the next window starts at 1000
/// assert_eq!(limiter.check_n_at(3, t(1_000)).unwrap().remaining(), 0);
/// ```
///
/// A fixed window is the cheapest limiter and the easiest to explain ("100 per
/// minute, resets at the start of the next minute"), but two windows' worth can
/// pass in quick succession across a boundary: up to `2 * limit` units in a
/// span of two ticks. [`SlidingWindow`](crate::SlidingWindow) and
/// [`SlidingLog`](crate::SlidingLog) close that gap.
///
/// # Answers
///
/// - `remaining`: units left in the current window (exact);
/// - `reset_after`: the time to the next boundary, or zero when nothing is
///   used in the current window (the limiter is full);
/// - `retry_after` (on a denial): the time to the next boundary, where the
///   count restarts: exact;
/// - `limit`: the quota's count. The quota's burst must equal its count (the
///   default): a fixed window has no burst of its own, and a different burst
///   is the error [`QuotaError::BurstUnsupported`] rather than being ignored.
///
/// # Precision and range
///
/// `W` is the quota's period rounded up to whole ticks (a longer window is
/// stricter). The state is a window index and a count packed into one word:
/// the count takes as many bits as the limit needs, the index the rest, at
/// least 32. Instants after [`horizon`](FixedWindow::horizon) (at least 2^32
/// seconds, 136 years, past tick 0, less two windows; within two windows of
/// the end of the `u64` tick line when a window has at least twice as many
/// ticks as the limit) all fall in the window that starts there, which never
/// ends: stricter, never looser, and `retry_after` is no longer exact. A quota of more than about
/// 2^32 units per second cannot number its windows that far and is refused
/// ([`QuotaError::LimitTooLarge`]).
///
/// A stale `now` (earlier than the window the state has reached, from a
/// caller that read the clock and then lost a race, or a clock that went
/// backwards) is counted in the state's window: it is admitted only if a
/// fresh reading would be, and never reopens an older window.
///
/// # Refunds
///
/// A [refund](crate::Refund) gives units back to the current window; units of
/// a window that has ended are gone with it, so nothing changes then.
///
/// # Progress
///
/// As [`Gcra`](crate::Gcra#progress): lock-free with a native 64-bit
/// compare-and-swap, and a denied check writes nothing.
pub type FixedWindow<const HZ: u64 = NANOS> = WordLimiter<FixedWindowConfig<HZ>>;

/// The configuration of a [`FixedWindow`]: the window grid and the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FixedWindowConfig<const HZ: u64 = NANOS> {
    windows: Windows,
}

/// A state word, unpacked.
#[derive(Clone, Copy)]
struct Word {
    window: u64,
    count: u64,
}

impl<const HZ: u64> FixedWindowConfig<HZ> {
    crate::algorithms::grid::window_config_items! {
        counts: 1;
        /// A [`QuotaError`]: the quota is zero somewhere, its burst differs from
        /// its count ([`BurstUnsupported`](QuotaError::BurstUnsupported)), its
        /// period does not fit 64-bit ticks ([`TooLarge`](QuotaError::TooLarge)),
        /// or its rate is above what the state can number
        /// ([`LimitTooLarge`](QuotaError::LimitTooLarge), see above).
        fn new;
        /// The most units admitted per window (the quota's count).
        fn limit;
    }

    // Shifts by the count's bits, `1..=32`, are under 64: see `count_mask`.
    const fn unpack(&self, state: u64) -> Word {
        Word {
            window: state.wrapping_shr(self.windows.count_bits),
            count: state & self.windows.count_mask(),
        }
    }

    const fn pack(&self, word: Word) -> u64 {
        word.window.wrapping_shl(self.windows.count_bits) | (word.count & self.windows.count_mask())
    }

    /// The window a check at `now` counts in, and what that window has used:
    /// the window of `now`, or the state's if that is later (a stale `now`).
    const fn current(&self, state: u64, now: u64) -> Word {
        self.current_in(state, self.windows.grid.locate(now).0)
    }

    /// [`current`](Self::current) when the window holding the instant is
    /// known already.
    const fn current_in(&self, state: u64, window: u64) -> Word {
        let stored = self.unpack(state);
        if window > stored.window {
            Word { window, count: 0 }
        } else {
            stored
        }
    }

    /// The decision for `n` units at `now` from `state`, where `window` is
    /// the window holding `now` (found before the word is loaded, or here).
    #[inline(always)]
    fn decide_in(&self, state: u64, n: u32, now: u64, window: u64) -> Step<HZ> {
        if let Some(never) = self.windows.exceeds(n) {
            return never;
        }
        let current = self.current_in(state, window);
        // `count <= limit` for states written here; saturating otherwise.
        let after = current.count.saturating_add(n as u64);
        if after <= self.windows.limit as u64 {
            let status = self.status_of(after, current.window, now);
            if n == 0 {
                Step::Keep(status)
            } else {
                let next = self.pack(Word {
                    window: current.window,
                    count: after,
                });
                Step::admit(state, next, status)
            }
        } else {
            // `used > 0` here (`used + n > limit >= n`), so the window must end first.
            let to_end = wait_until(self.windows.grid.end(current.window), now);
            // At the next boundary the count restarts and `n <= limit` fits.
            let limited = RateLimited::new(
                self.windows.limit,
                (self.windows.limit as u64).saturating_sub(current.count) as u32,
                Duration::<HZ>::from_ticks(to_end),
                Duration::<HZ>::from_ticks(to_end),
            );
            Step::Deny(Denied::RateLimited(limited))
        }
    }

    const fn status_of(&self, used: u64, window: u64, now: u64) -> Status<HZ> {
        Status::new(
            self.windows.limit,
            // `used <= limit` for every state this limiter writes; saturating
            // keeps a foreign word harmless.
            (self.windows.limit as u64).saturating_sub(used) as u32,
            Duration::<HZ>::from_ticks(if used == 0 {
                0
            } else {
                wait_until(self.windows.grid.end(window), now)
            }),
        )
    }
}

/// The configuration alone, applied to an external state word (for keyed
/// tables and other containers of many states).
///
/// The word holds the window index in its high bits and the window's count in
/// the low bits; the fresh state `0` is window 0 with a zero count.
impl<const HZ: u64> Algorithm<HZ> for FixedWindowConfig<HZ> {
    const NAME: &'static str = "fixed-window";

    fn fingerprint(&self) -> u64 {
        self.windows.fingerprint(b"fixed-window", HZ)
    }

    #[inline(always)]
    fn decide(&self, state: u64, n: u32, now: Instant<HZ>) -> Step<HZ> {
        let now = now.as_ticks();
        self.decide_in(state, n, now, self.windows.grid.locate(now).0)
    }

    /// As `Gcra`'s: the window holding `now` is found before the word is
    /// loaded (see `GcraConfig`'s `decider`); not on bare metal.
    #[cfg(not(target_os = "none"))]
    #[inline(always)]
    fn decider(&self, n: u32, now: Instant<HZ>) -> impl Fn(u64) -> Step<HZ> {
        let (window, _) = self.windows.grid.locate(now.as_ticks());
        crate::kernel::sync::config_before_word();
        #[inline(always)]
        move |state| self.decide_in(state, n, now.as_ticks(), window)
    }

    fn status(&self, state: u64, now: Instant<HZ>) -> Status<HZ> {
        let now = now.as_ticks();
        let current = self.current(state, now);
        self.status_of(current.count, current.window, now)
    }

    fn refund(&self, state: u64, n: u32, now: Instant<HZ>) -> u64 {
        let stored = self.unpack(state);
        let (window, _) = self.windows.grid.locate(now.as_ticks());
        if window > stored.window {
            return state;
        }
        self.pack(Word {
            window: stored.window,
            count: stored.count.saturating_sub(n as u64),
        })
    }

    fn idle_after(&self, state: u64, now: Instant<HZ>) -> Option<Duration<HZ>> {
        // A later window, or the same one with nothing used, decides as a
        // fresh word from here on: both start every window at zero. (A word
        // from a *later* window is not idle: it makes stale instants stricter.)
        let stored = self.unpack(state);
        let now = now.as_ticks();
        let (window, _) = self.windows.grid.locate(now);
        if window > stored.window || (window == stored.window && stored.count == 0) {
            return Some(Duration::<HZ>::from_ticks(0));
        }
        // Idle from the start of the window after the stored one.
        if stored.window >= self.windows.grid.last {
            return None;
        }
        Some(Duration::<HZ>::from_ticks(wait_until(
            self.windows.grid.end(stored.window),
            now,
        )))
    }
}

impl<const HZ: u64> WordLimiter<FixedWindowConfig<HZ>> {
    crate::macros::forward_window_config!(FixedWindowConfig);
}
