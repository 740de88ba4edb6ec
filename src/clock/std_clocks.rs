use std::time::{SystemTime, UNIX_EPOCH};

use crate::time::{Clock, Instant};

/// Converts a `std` duration to ticks of `1 / HZ` s, rounding down and
/// saturating at `u64::MAX`.
fn ticks<const HZ: u64>(elapsed: std::time::Duration) -> u64 {
    let ticks = elapsed.as_nanos().saturating_mul(u128::from(HZ)) / 1_000_000_000;
    u64::try_from(ticks).unwrap_or(u64::MAX)
}

/// Monotonic time since the clock was created, from [`std::time::Instant`].
///
/// Use one clock for all limiters that share state: instants from two
/// `MonotonicClock`s have different origins.
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[derive(Clone, Copy, Debug)]
pub struct MonotonicClock<const HZ: u64 = { crate::time::NANOS }> {
    origin: std::time::Instant,
}

impl<const HZ: u64> MonotonicClock<HZ> {
    /// A clock whose tick 0 is now.
    pub fn new() -> Self {
        Self {
            origin: std::time::Instant::now(),
        }
    }
}

impl<const HZ: u64> Default for MonotonicClock<HZ> {
    fn default() -> Self {
        Self::new()
    }
}

crate::macros::defmt_format!(
    /// The origin is a `std::time::Instant`, which has no portable numeric value:
    /// shows the clock's current reading instead.
    impl[const HZ: u64] for MonotonicClock<HZ> => |clock|
        "MonotonicClock {{ {=u64} ticks at {=u64} Hz }}",
        clock.now().as_ticks(),
        HZ,
);

impl<const HZ: u64> Clock<HZ> for MonotonicClock<HZ> {
    fn now(&self) -> Instant<HZ> {
        Instant::<HZ>::from_ticks(ticks::<HZ>(self.origin.elapsed()))
    }
}

/// Wall-clock time since the Unix epoch, from [`std::time::SystemTime`]: for
/// `X-RateLimit-Reset` timestamps and windows aligned to calendar minutes.
///
/// The system clock can be stepped backwards, which breaks the [`Clock`]
/// contract's monotonicity: limiters then decide as for a stale reading
/// (stricter, never looser). Times before 1970 read as tick 0.
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[derive(Clone, Copy, Debug, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WallClock;

impl WallClock {
    /// Whole seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

impl<const HZ: u64> Clock<HZ> for WallClock {
    fn now(&self) -> Instant<HZ> {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Instant::<HZ>::from_ticks(ticks::<HZ>(since_epoch))
    }
}
