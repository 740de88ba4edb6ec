//! A rate-limit algorithm ratecore does not have, written outside it through
//! its public kernel only: **minimum spacing** (a debounce) combined with a
//! fixed window.
//!
//! [`MinSpacing`] admits a check when
//!
//! - at least `gap` ticks have passed since the last admitted check (one
//!   check is one event, whatever its `n`), and
//! - the units admitted in the current aligned window of `window` ticks
//!   (windows start at multiples of `window` from tick 0), plus `n`, are at
//!   most `burst`.
//!
//! A refused check charges nothing, and its `retry_after` is exact: the same
//! check succeeds at `now + retry_after` (if nothing else is admitted
//! meanwhile) and fails one tick earlier.
//!
//! # Why not a penalty box
//!
//! The first candidate was a *penalty box*: a check that finds the window
//! full is refused and starts a cooldown, during which every check is
//! refused. That cannot be written as a ratecore [`Algorithm`]: a
//! [`Step::Deny`] stores nothing, so the instant of the refusal that started
//! the cooldown is never recorded. Two histories with the same admitted
//! checks, one with a refused check at `r` and one without, leave the same
//! state word, yet must decide differently once the window has rolled over
//! before `r + cooldown`. (Starting the cooldown at the *admission* that
//! fills the window is expressible, but it is a different rule from the one
//! users ask for, and calling it a penalty box would mislead.) Minimum
//! spacing only needs the last *admitted* instant, which an admission stores,
//! so it is exact.
//!
//! # The state word
//!
//! `(last + 1) << 16 | count`: `last` is the tick of the last admitted check
//! (48 bits), `count` the units admitted in `last`'s window (16 bits, so
//! `burst` is at most 65,535). A `last + 1` of zero means "no admitted check
//! yet", so the word `0` is the fresh state. Instants from [`HORIZON`] on are
//! decided at `HORIZON`: stricter, never looser (with `gap > 0` nothing is
//! admitted there twice), and `retry_after` is no longer exact there. At
//! 1 MHz the horizon is 8.9 years of ticks; at 1 kHz, 8,900 years.
//!
//! A stale `now` (earlier than the last admitted instant) is decided at the
//! last admitted instant, and the wait from `now` to it is added to
//! `retry_after` and `reset_after`: a stale reading is never looser.
//!
//! # Three ways to use it, and a fourth
//!
//! As a limiter of its own ([`WordLimiter`], through the [`Limiter`] trait):
//!
//! ```
//! use ratecore::kernel::WordLimiter;
//! use ratecore::{Duration, Instant, Limiter};
//! use ratecore_min_spacing::MinSpacing;
//!
//! // At most one press per 200 ms, at most 3 per second.
//! let config = MinSpacing::<1_000>::new(Duration::<1_000>::from_ticks(200), Duration::<1_000>::from_ticks(1_000), 3).unwrap();
//! let button = WordLimiter::from_algorithm(config);
//! let t = Instant::<1_000>::from_ticks;
//!
//! assert!(button.check_at(t(0)).is_ok());
//! let bounce = button.check_at(t(50)).unwrap_err();
//! assert_eq!(bounce.retry_after().unwrap().as_ticks(), 150); // spacing: at 200
//! assert!(button.check_at(t(200)).is_ok());
//! assert!(button.check_at(t(400)).is_ok());
//! let full = button.check_at(t(600)).unwrap_err();
//! assert_eq!(full.retry_after().unwrap().as_ticks(), 400); // window: at 1000
//! assert!(button.check_at(t(1_000)).is_ok());
//! ```
//!
//! As a `static` 8-byte word with a `const` configuration ([`WordRef`]):
//!
//! ```
//! use ratecore::kernel::{AtomicU64, WordRef};
//! use ratecore::{Duration, Instant, Limiter};
//! use ratecore_min_spacing::MinSpacing;
//!
//! static STATE: AtomicU64 = AtomicU64::new(0);
//! const CONFIG: MinSpacing<1_000> = ratecore::const_unwrap!(MinSpacing::new(
//!     Duration::<1_000>::from_ticks(10),
//!     Duration::<1_000>::from_ticks(100),
//!     5,
//! ));
//!
//! let limiter = WordRef::new(&STATE, &CONFIG);
//! let t = Instant::<1_000>::from_ticks;
//! assert!(limiter.check_at(t(0)).is_ok());
//! assert_eq!(limiter.check_at(t(9)).unwrap_err().retry_after().unwrap().as_ticks(), 1);
//! assert!(limiter.check_at(t(10)).is_ok());
//! ```
//!
//! In a keyed table, one state per key:
//!
//! ```
//! use ratecore::keyed::{Plan, WhenFull};
//! use ratecore::{Duration, Instant, KeyedLimiter};
//! use ratecore_min_spacing::MinSpacing;
//!
//! const ONE: Plan<1> = ratecore::const_unwrap!(Plan::new(0));
//! static PER_USER: KeyedLimiter<MinSpacing<1_000>, 1_000, 64> = KeyedLimiter::new(
//!     [ratecore::const_unwrap!(MinSpacing::new(
//!         Duration::<1_000>::from_ticks(1_000),
//!         Duration::<1_000>::from_ticks(60_000),
//!         10,
//!     ))],
//!     [0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344],
//!     WhenFull::Deny,
//! );
//!
//! let t = Instant::<1_000>::from_ticks;
//! assert!(PER_USER.check_n_at("alice", ONE, 1, t(0)).is_ok());
//! assert!(PER_USER.check_n_at("bob", ONE, 1, t(0)).is_ok());
//! assert!(PER_USER.check_n_at("alice", ONE, 1, t(500)).is_err());
//! assert!(PER_USER.check_n_at("alice", ONE, 1, t(1_000)).is_ok());
//! ```
//!
//! As a tier next to a [`Gcra`](ratecore::Gcra): both must admit, and a
//! refusal of either charges neither.
//!
//! ```
//! use ratecore::compose::Tier;
//! use ratecore::kernel::WordLimiter;
//! use ratecore::{Duration, Gcra, Instant, Limiter, Quota, Tiers};
//! use ratecore_min_spacing::MinSpacing;
//!
//! let spacing = WordLimiter::from_algorithm(
//!     MinSpacing::<1_000>::new(Duration::<1_000>::from_ticks(100), Duration::<1_000>::from_ticks(1_000), 10).unwrap(),
//! );
//! let hourly = Gcra::<1_000>::new(Quota::per_hour(3)).unwrap();
//! let tiers = Tiers::new([Tier::new("spacing", &spacing), Tier::new("hourly", &hourly)]);
//! let t = Instant::<1_000>::from_ticks;
//!
//! assert!(tiers.check_at(t(0)).is_ok());
//! let denied = tiers.check_tiered_n_at(1, t(50)).unwrap_err();
//! assert_eq!(denied.name, "spacing");
//! assert!(tiers.check_at(t(100)).is_ok());
//! assert!(tiers.check_at(t(200)).is_ok());
//! let denied = tiers.check_tiered_n_at(1, t(300)).unwrap_err();
//! assert_eq!(denied.name, "hourly");
//! ```
//!
//! [`Limiter`]: ratecore::Limiter
//! [`WordLimiter`]: ratecore::kernel::WordLimiter
//! [`WordRef`]: ratecore::kernel::WordRef
#![no_std]

use core::fmt;

use ratecore::answer::{ExceedsBurst, RateLimited};
use ratecore::kernel::{Algorithm, Step, WordLimiter, fingerprint};
use ratecore::{Denied, Duration, Instant, Status};

/// Bits of the state word that hold the count.
const COUNT_BITS: u32 = 16;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

/// The largest `burst`.
pub const MAX_BURST: u32 = COUNT_MASK as u32;

/// The last instant (in ticks) the state can name: later instants are
/// decided here (stricter, never looser).
pub const HORIZON: u64 = (1 << (u64::BITS - COUNT_BITS)) - 2;

/// A [`MinSpacing`] with an atomic word of its own.
pub type MinSpacingLimiter<const HZ: u64> = WordLimiter<MinSpacing<HZ>>;

/// At most one admitted check per `gap` ticks, and at most `burst` units per
/// aligned window of `window` ticks. See the [crate docs](crate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MinSpacing<const HZ: u64> {
    gap: u64,
    window: u64,
    burst: u32,
}

/// Why a [`MinSpacing`] configuration was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpacingError {
    /// The window is zero ticks long.
    ZeroWindow,
    /// The burst is zero.
    ZeroBurst,
    /// The burst is above [`MAX_BURST`].
    BurstTooLarge,
}

impl SpacingError {
    /// A description, usable in `const` (for `ratecore::const_unwrap!`).
    pub const fn message(&self) -> &'static str {
        match self {
            Self::ZeroWindow => "the window must be at least one tick",
            Self::ZeroBurst => "the burst must be at least 1",
            Self::BurstTooLarge => "the burst must be at most 65,535",
        }
    }
}

impl fmt::Display for SpacingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl core::error::Error for SpacingError {}

/// The decoded state word.
#[derive(Clone, Copy)]
struct Word {
    /// The last admitted instant, if any check was admitted.
    last: Option<u64>,
    /// Units admitted in `last`'s window.
    count: u64,
}

impl Word {
    const fn decode(state: u64) -> Self {
        let tag = state >> COUNT_BITS;
        Self {
            last: tag.checked_sub(1),
            count: state & COUNT_MASK,
        }
    }

    const fn encode(last: u64, count: u64) -> u64 {
        ((last + 1) << COUNT_BITS) | (count & COUNT_MASK)
    }
}

/// What the state means at an instant.
struct View {
    /// The instant the decision is made at: `now`, or the last admitted
    /// instant if that is later, capped at the horizon.
    at: u64,
    /// How far `at` is ahead of the caller's `now`.
    stale: u64,
    /// Units used in `at`'s window.
    used: u64,
    /// Ticks from `at` until the spacing allows a check.
    gap_wait: u64,
    /// Ticks from `at` until the next window starts.
    to_next_window: u64,
}

impl<const HZ: u64> MinSpacing<HZ> {
    /// At most one admitted check per `gap` (zero: no spacing), and at most
    /// `burst` units per aligned `window`.
    ///
    /// # Errors
    ///
    /// A zero `window`, a zero `burst`, or a `burst` above [`MAX_BURST`].
    pub const fn new(
        gap: Duration<HZ>,
        window: Duration<HZ>,
        burst: u32,
    ) -> Result<Self, SpacingError> {
        if window.as_ticks() == 0 {
            return Err(SpacingError::ZeroWindow);
        }
        if burst == 0 {
            return Err(SpacingError::ZeroBurst);
        }
        if burst > MAX_BURST {
            return Err(SpacingError::BurstTooLarge);
        }
        Ok(Self {
            gap: gap.as_ticks(),
            window: window.as_ticks(),
            burst,
        })
    }

    /// The least time between two admitted checks.
    pub const fn gap(&self) -> Duration<HZ> {
        Duration::<HZ>::from_ticks(self.gap)
    }

    /// The window's length.
    pub const fn window(&self) -> Duration<HZ> {
        Duration::<HZ>::from_ticks(self.window)
    }

    /// The most units per window.
    pub const fn burst(&self) -> u32 {
        self.burst
    }

    fn view(&self, word: Word, now: u64) -> View {
        let now_capped = now.min(HORIZON);
        let at = match word.last {
            Some(last) if last > now_capped => last,
            _ => now_capped,
        };
        let stale = at.saturating_sub(now);
        let window_of = |t: u64| t / self.window;
        let (used, gap_wait) = match word.last {
            None => (0, 0),
            Some(last) => {
                let used = if window_of(last) == window_of(at) {
                    word.count
                } else {
                    0
                };
                (used, last.saturating_add(self.gap).saturating_sub(at))
            }
        };
        let to_next_window = self.window - at % self.window;
        View {
            at,
            stale,
            used,
            gap_wait,
            to_next_window,
        }
    }

    /// Status at the view: `remaining` is how many single-unit checks would
    /// succeed at the same instant, `reset_after` the time until the state
    /// decides as a fresh one.
    fn status_of(&self, view: &View) -> Status<HZ> {
        let left = u64::from(self.burst).saturating_sub(view.used);
        let remaining = match (view.gap_wait, left) {
            (_, 0) => 0,
            // One check is possible now, and then the spacing holds.
            (0, _) if self.gap > 0 => 1,
            (0, left) => left,
            _ => 0,
        };
        let until_full = if view.used > 0 {
            view.gap_wait.max(view.to_next_window)
        } else {
            view.gap_wait
        };
        Status::new(
            self.burst,
            u32::try_from(remaining).unwrap_or(u32::MAX),
            Duration::<HZ>::from_ticks(until_full.saturating_add(view.stale)),
        )
    }
}

impl<const HZ: u64> Algorithm<HZ> for MinSpacing<HZ> {
    const NAME: &'static str = "min-spacing";

    fn fingerprint(&self) -> u64 {
        fingerprint(
            Self::NAME.as_bytes(),
            &[HZ, self.gap, self.window, u64::from(self.burst), 1],
        )
    }

    fn decide(&self, state: u64, n: u32, now: Instant<HZ>) -> Step<HZ> {
        let word = Word::decode(state);
        let view = self.view(word, now.as_ticks());
        if n == 0 {
            return Step::Keep(self.status_of(&view));
        }
        if n > self.burst {
            return Step::Deny(Denied::ExceedsBurst(ExceedsBurst::new(n, self.burst)));
        }
        let fits_window = view.used + u64::from(n) <= u64::from(self.burst);
        let window_wait = if fits_window { 0 } else { view.to_next_window };
        let wait = view.gap_wait.max(window_wait);
        if wait == 0 {
            let next = Word::encode(view.at, view.used + u64::from(n));
            let after = self.view(Word::decode(next), view.at);
            let mut status = self.status_of(&after);
            if view.stale > 0 {
                status = Status::new(
                    status.limit(),
                    status.remaining(),
                    Duration::<HZ>::from_ticks(
                        status.reset_after().as_ticks().saturating_add(view.stale),
                    ),
                );
            }
            return Step::admit(state, next, status);
        }
        let status = self.status_of(&view);
        Step::Deny(Denied::RateLimited(RateLimited::new(
            self.burst,
            status.remaining(),
            Duration::<HZ>::from_ticks(wait.saturating_add(view.stale)),
            status.reset_after(),
        )))
    }

    fn status(&self, state: u64, now: Instant<HZ>) -> Status<HZ> {
        self.status_of(&self.view(Word::decode(state), now.as_ticks()))
    }

    /// Gives units back to the window of the last admitted check, if `now`
    /// is still in it; the spacing from that check stays (the event
    /// happened). Units of a window that has ended are gone with it.
    fn refund(&self, state: u64, n: u32, now: Instant<HZ>) -> u64 {
        let word = Word::decode(state);
        let Some(last) = word.last else {
            return state;
        };
        let view = self.view(word, now.as_ticks());
        if view.used == 0 {
            return state;
        }
        Word::encode(last, view.used.saturating_sub(u64::from(n)))
    }

    fn idle_after(&self, state: u64, now: Instant<HZ>) -> Option<Duration<HZ>> {
        let word = Word::decode(state);
        let Some(last) = word.last else {
            return Some(Duration::<HZ>::from_ticks(0));
        };
        let spaced = last.saturating_add(self.gap);
        let idle_at = if word.count > 0 {
            // The next window after `last`'s starts the count afresh.
            let next_window = (last / self.window + 1).saturating_mul(self.window);
            spaced.max(next_window)
        } else {
            spaced
        };
        if idle_at > HORIZON {
            // Instants from the horizon on are decided at the horizon, where
            // this state never becomes fresh.
            return None;
        }
        Some(Duration::<HZ>::from_ticks(
            idle_at.saturating_sub(now.as_ticks()),
        ))
    }
}
