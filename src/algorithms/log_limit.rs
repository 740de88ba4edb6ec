//! Log limiting, the Linux kernel's way: at most `burst` events per interval,
//! and the number suppressed, reported once when the next interval opens.

use crate::algorithms::grid::{bits, field_mask, mask, shl, window_ticks};
use crate::kernel::cas::{Next, update};
use crate::kernel::sync::Ordering;
use crate::kernel::{WordLimiter, WordRef, fingerprint};
use crate::macros::const_fn;
use crate::quota::{Quota, QuotaError};
use crate::time::{Clock, Duration, Instant, NANOS};

/// Bits of the suppressed count in the state word.
const SUPPRESSED_BITS: u32 = 16;

/// `value << shift` in 128 bits (`shift < 64`: no bit is lost).
const fn wide_shl(value: u64, shift: u32) -> u128 {
    match (value as u128).checked_shl(shift) {
        Some(v) => v,
        None => 0,
    }
}

/// The largest burst: a burst needs as many bits as its value, and the window
/// start needs at least 32 of the word's 64.
pub const MAX_LOG_BURST: u32 = u16::MAX as u32;

/// A log limiter: what the Linux kernel's `___ratelimit` (behind
/// `printk_ratelimited` and `dev_err_ratelimited`) does, in one atomic `u64`.
///
/// The first event opens a window of `interval` ticks (not aligned to
/// anything: it starts at that event). At most `burst` events of a window are
/// emitted; the later ones are suppressed and counted. The first event after
/// the window (strictly later than `start + interval`, as the kernel's
/// `time_is_before_jiffies(begin + interval)`) opens the next window, is
/// emitted, and carries the count of what was suppressed before it, exactly
/// once: that is where the kernel prints "N callbacks suppressed".
///
/// ```
/// use ratecore::Instant;
/// use ratecore::algorithms::{LogLimiter, LogVerdict};
/// use ratecore::quota::Quota;
///
/// // The kernel's default: 10 messages per 5 seconds.
/// let limiter = LogLimiter::<1_000>::new(Quota::with_period(10, ratecore::Duration::<1>::from_ticks(5))).unwrap();
/// let t = |ms| Instant::<1_000>::from_ticks(ms);
/// for _ in 0..10 {
///     assert_eq!(limiter.check_at(t(100)), LogVerdict::Emit { suppressed_before: 0 });
/// }
/// assert_eq!(limiter.check_at(t(200)), LogVerdict::Suppress);
/// assert_eq!(limiter.check_at(t(5_100)), LogVerdict::Suppress); // still inside [100, 5100]
/// assert_eq!(limiter.check_at(t(5_101)), LogVerdict::Emit { suppressed_before: 2 });
/// assert_eq!(limiter.check_at(t(5_102)), LogVerdict::Emit { suppressed_before: 0 });
/// ```
///
/// Wrapping a logging call (`std`; the `examples/log_limit.rs` example runs
/// this):
///
/// ```
/// use ratecore::algorithms::{LogLimiter, LogVerdict};
/// use ratecore::{Duration, Instant, const_unwrap};
///
/// static NOISY: LogLimiter<1_000> =
///     const_unwrap!(LogLimiter::from_interval(Duration::<1_000>::from_ticks(5_000), 10));
///
/// fn report(error: &str, now: Instant<1_000>) {
///     if let LogVerdict::Emit { suppressed_before } = NOISY.check_at(now) {
///         if suppressed_before > 0 {
///             eprintln!("report: {suppressed_before} callbacks suppressed");
///         }
///         eprintln!("report: {error}");
///     }
/// }
/// report("link down", Instant::<1_000>::from_ticks(0));
/// ```
///
/// On firmware, with `defmt` (the `defmt` feature derives `defmt::Format`
/// for [`LogVerdict`]; not run here, it needs a target's global logger):
///
/// ```ignore
/// use ratecore::algorithms::{LogLimiter, LogVerdict};
/// use ratecore::{Duration, Instant, const_unwrap};
///
/// static CRC_ERRORS: LogLimiter<32_768> =
///     const_unwrap!(LogLimiter::from_interval(Duration::<32_768>::from_ticks(5 * 32_768), 10));
///
/// fn on_crc_error(now: Instant<32_768>, frame: u16) {
///     match CRC_ERRORS.check_at(now) {
///         LogVerdict::Emit { suppressed_before: 0 } => defmt::warn!("crc error in frame {=u16}", frame),
///         LogVerdict::Emit { suppressed_before } => {
///             defmt::warn!("{=u32} crc errors suppressed", suppressed_before);
///             defmt::warn!("crc error in frame {=u16}", frame);
///         }
///         LogVerdict::Suppress => {}
///     }
/// }
/// ```
///
/// # Not a rate limiter's denial
///
/// A suppressed event is counted, so a suppression stores a new state word:
/// unlike a rate limiter's [`Step::Deny`](crate::kernel::Step::Deny), which
/// charges nothing, it is an event the limiter must remember. That is why
/// [`LogLimitConfig`] is not an [`Algorithm`](crate::kernel::Algorithm)
/// (whose denials cannot store) and the log limiter has its own
/// [`check_at`](WordLimiter::check_at), which runs the kernel's one
/// compare-and-swap loop with a step that stores on both verdicts.
///
/// # Precision and range
///
/// The word packs the window's start, the events emitted in it (as many bits
/// as the burst needs, so the burst is at most [`MAX_LOG_BURST`]) and the
/// events suppressed (16 bits: a count above 65,535 in one window is reported
/// as 65,535). The start takes the remaining bits, counted in grains of
/// [`grain`](LogLimitConfig::grain) ticks, a power of two chosen so that the
/// start can be numbered for `2^32` seconds (136 years) past tick 0: one tick
/// at clock rates up to a few kHz with a small burst, 2^18 ns (262 µs) at
/// nanosecond ticks with a burst of 10. A window's start is rounded *up* to
/// its grain, so a window lasts up to one grain longer than the interval:
/// stricter, never looser; a grain longer than the interval is refused.
/// Instants past [`horizon`](LogLimitConfig::horizon) are evaluated as the
/// horizon (the window open there never closes). A stale instant (earlier
/// than the window's start) counts in the current window.
///
/// # Progress
///
/// As [`Gcra`](crate::Gcra#progress): lock-free with a native 64-bit
/// compare-and-swap.
pub type LogLimiter<const HZ: u64 = NANOS> = WordLimiter<LogLimitConfig<HZ>>;

/// What the log limiter says about one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LogVerdict {
    /// Log it. `suppressed_before` is the number of events suppressed in the
    /// window before this one, reported once, by the event that opens the
    /// next window (zero otherwise).
    Emit {
        /// Events suppressed since the last report (at most 65,535).
        suppressed_before: u32,
    },
    /// Do not log it; it is counted and reported when the next window opens.
    Suppress,
}

impl LogVerdict {
    /// Whether the event should be logged.
    pub const fn is_emit(&self) -> bool {
        matches!(self, Self::Emit { .. })
    }
}

/// The configuration of a [`LogLimiter`]: the interval and the burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LogLimitConfig<const HZ: u64 = NANOS> {
    interval: u64,
    burst: u32,
    /// Bits of the emitted count (the low field).
    count_bits: u32,
    /// `log2` of the grain of the window start.
    grain_shift: u32,
    /// The last instant evaluated as itself.
    horizon: u64,
}

/// A state word, unpacked. `start` is `0` before the first event, else the
/// window's start in grains plus one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Word {
    start: u64,
    suppressed: u64,
    emitted: u64,
}

impl<const HZ: u64> LogLimitConfig<HZ> {
    /// `quota.count()` events per `quota`'s period: the burst and the
    /// interval, as the kernel's `DEFINE_RATELIMIT_STATE(name, interval, burst)`.
    ///
    /// # Errors
    ///
    /// A [`QuotaError`]: the quota is zero somewhere, its burst differs from
    /// its count ([`BurstUnsupported`](QuotaError::BurstUnsupported)), its
    /// period does not fit 64-bit ticks, or the count is above
    /// [`MAX_LOG_BURST`] or needs a grain longer than the interval
    /// ([`LimitTooLarge`](QuotaError::LimitTooLarge)).
    pub const fn new(quota: Quota) -> Result<Self, QuotaError> {
        match window_ticks(&quota, HZ) {
            Ok(interval) => {
                Self::from_interval(Duration::<HZ>::from_ticks(interval), quota.count())
            }
            Err(e) => Err(e),
        }
    }

    /// At most `burst` events per `interval`, in the kernel's own terms.
    ///
    /// # Errors
    ///
    /// [`QuotaError::ZeroPeriod`] for an empty interval,
    /// [`QuotaError::ZeroBurst`] for a zero burst, and
    /// [`QuotaError::LimitTooLarge`] as in [`new`](LogLimitConfig::new).
    pub const fn from_interval(interval: Duration<HZ>, burst: u32) -> Result<Self, QuotaError> {
        let interval = interval.as_ticks();
        if interval == 0 {
            return Err(QuotaError::ZeroPeriod);
        }
        if burst == 0 {
            return Err(QuotaError::ZeroBurst);
        }
        if burst > MAX_LOG_BURST {
            return Err(QuotaError::LimitTooLarge);
        }
        let count_bits = bits(burst);
        let start_bits = u64::BITS
            .saturating_sub(count_bits)
            .saturating_sub(SUPPRESSED_BITS);
        // Grains numbered 0..=max, stored as 1..=max+1 (0 is "no window yet").
        let max = mask(start_bits).saturating_sub(1);
        // Enough grains for 2^32 seconds, or for the whole tick line.
        let needed = (HZ as u128).saturating_mul(1 << 32);
        let needed = if needed > u64::MAX as u128 {
            u64::MAX
        } else {
            needed as u64
        };
        // The smallest power-of-two grain that numbers them: at most 2^32,
        // since `max >= 2^32 - 2`.
        let mut grain_shift = 0;
        while grain_shift < 63 && wide_shl(max, grain_shift) < needed as u128 {
            grain_shift = grain_shift.saturating_add(1);
        }
        // `max * grain` may pass the end of the tick line: the horizon is
        // then the last tick, whose grain (rounded up) is still at most `max`.
        let last = wide_shl(max, grain_shift);
        let horizon = if last > u64::MAX as u128 {
            u64::MAX
        } else {
            last as u64
        };
        if shl(1, grain_shift) > interval {
            return Err(QuotaError::LimitTooLarge);
        }
        Ok(Self {
            interval,
            burst,
            count_bits,
            grain_shift,
            horizon,
        })
    }

    /// The interval: a window's length.
    pub const fn interval(&self) -> Duration<HZ> {
        Duration::<HZ>::from_ticks(self.interval)
    }

    /// The most events emitted per window.
    pub const fn burst(&self) -> u32 {
        self.burst
    }

    /// The grain to which a window's start is rounded up (1 tick when exact).
    pub const fn grain(&self) -> Duration<HZ> {
        Duration::<HZ>::from_ticks(shl(1, self.grain_shift))
    }

    /// The last instant evaluated as itself; later ones are evaluated as this one.
    pub const fn horizon(&self) -> Instant<HZ> {
        Instant::<HZ>::from_ticks(self.horizon)
    }

    /// A stable hash of the configuration (see
    /// [`Algorithm::fingerprint`](crate::kernel::Algorithm::fingerprint)).
    pub const fn fingerprint(&self) -> u64 {
        fingerprint(
            b"log-limit",
            &[
                HZ,
                self.interval,
                self.burst as u64,
                self.grain_shift as u64,
            ],
        )
    }

    // The word's shifts are plain (wrapping) shifts: the emitted count takes
    // the bits of a burst of at most `MAX_LOG_BURST`, 1 to 16, and the
    // suppressed count 16 above it, so no shift reaches 64 and none needs
    // the compare and conditional move of `shl` and `shr`, which allow a
    // whole-word shift. The same for the grain: `grain_shift` is at most 63
    // (`from_interval`).

    const fn unpack(&self, state: u64) -> Word {
        let above_emitted = state.wrapping_shr(self.count_bits);
        Word {
            emitted: state & field_mask(self.count_bits),
            suppressed: above_emitted & mask(SUPPRESSED_BITS),
            start: above_emitted.wrapping_shr(SUPPRESSED_BITS),
        }
    }

    const fn pack(&self, word: Word) -> u64 {
        (word.start.wrapping_shl(SUPPRESSED_BITS) | word.suppressed).wrapping_shl(self.count_bits)
            | word.emitted
    }

    /// The window start, in grains, of a window opened at `now` (rounded up).
    const fn grain_of(&self, now: u64) -> u64 {
        let down = now.wrapping_shr(self.grain_shift);
        if down.wrapping_shl(self.grain_shift) == now {
            down
        } else {
            down.saturating_add(1)
        }
    }

    /// The pure step: the verdict for an event at `now` in `state`, and the
    /// state to store (both verdicts store: a suppression is counted). Equal
    /// states mean nothing to store (a saturated suppressed count).
    pub const fn step(&self, state: u64, now: Instant<HZ>) -> (LogVerdict, u64) {
        let now = now.as_ticks();
        let now = if now > self.horizon {
            self.horizon
        } else {
            now
        };
        let mut word = self.unpack(state);
        let mut reported = 0;
        if word.start == 0 {
            // The kernel's `if (!rs->begin) rs->begin = jiffies;`.
            word.start = self.grain_of(now).saturating_add(1);
        } else {
            let start = word.start.saturating_sub(1).wrapping_shl(self.grain_shift);
            // Opens the next window iff `now > start + interval`.
            if now.saturating_sub(start) > self.interval {
                reported = word.suppressed;
                word = Word {
                    start: self.grain_of(now).saturating_add(1),
                    suppressed: 0,
                    emitted: 0,
                };
            }
        }
        if word.emitted < self.burst as u64 {
            word.emitted = word.emitted.saturating_add(1);
            (
                LogVerdict::Emit {
                    suppressed_before: reported as u32,
                },
                self.pack(word),
            )
        } else {
            if word.suppressed < mask(SUPPRESSED_BITS) {
                word.suppressed = word.suppressed.saturating_add(1);
            }
            (LogVerdict::Suppress, self.pack(word))
        }
    }

    /// The events suppressed so far in the current window of `state` (the
    /// count the next window's first event will report).
    pub const fn suppressed(&self, state: u64) -> u32 {
        self.unpack(state).suppressed as u32
    }
}

impl<'w, const HZ: u64> WordRef<'w, LogLimitConfig<HZ>> {
    /// The verdict for an event at `now`, counted in the word.
    pub fn check_at(&self, now: Instant<HZ>) -> LogVerdict {
        let config = self.algorithm();
        // Relaxed: the word is the only shared datum and publishes nothing
        // (as a rate limiter's, see `kernel::cas::update`).
        update(self.word(), Ordering::Relaxed, |state| {
            let (verdict, next) = config.step(state, now);
            if next == state {
                Next::Keep(verdict)
            } else {
                Next::Store(next, verdict)
            }
        })
        .0
    }

    /// [`check_at`](Self::check_at) the clock's current instant.
    pub fn check<C: Clock<HZ> + ?Sized>(&self, clock: &C) -> LogVerdict {
        self.check_at(clock.now())
    }

    /// The events suppressed so far in the current window.
    pub fn suppressed(&self) -> u32 {
        self.algorithm().suppressed(self.state())
    }
}

impl<const HZ: u64> WordLimiter<LogLimitConfig<HZ>> {
    const_fn! {
        /// A fresh log limiter: see [`LogLimitConfig::new`].
        ///
        /// # Errors
        ///
        /// As [`LogLimitConfig::new`].
        pub const fn new(quota: Quota) -> Result<Self, QuotaError> {
            match LogLimitConfig::new(quota) {
                Ok(config) => Ok(Self::from_algorithm(config)),
                Err(e) => Err(e),
            }
        }
    }

    const_fn! {
        /// A fresh log limiter: see [`LogLimitConfig::from_interval`].
        ///
        /// # Errors
        ///
        /// As [`LogLimitConfig::from_interval`].
        pub const fn from_interval(interval: Duration<HZ>, burst: u32) -> Result<Self, QuotaError> {
            match LogLimitConfig::from_interval(interval, burst) {
                Ok(config) => Ok(Self::from_algorithm(config)),
                Err(e) => Err(e),
            }
        }
    }

    /// The verdict for an event at `now`: see [`LogLimiter`].
    pub fn check_at(&self, now: Instant<HZ>) -> LogVerdict {
        self.as_word_ref().check_at(now)
    }

    /// [`check_at`](Self::check_at) the clock's current instant.
    pub fn check<C: Clock<HZ> + ?Sized>(&self, clock: &C) -> LogVerdict {
        self.check_at(clock.now())
    }

    /// The events suppressed so far in the current window.
    pub fn suppressed(&self) -> u32 {
        self.as_word_ref().suppressed()
    }
}
