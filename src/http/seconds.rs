//! Tick durations to whole seconds, exactly and without overflow.
//!
//! HTTP speaks whole seconds (`Retry-After`, `X-RateLimit-Reset`, the draft's
//! `t` and `w`); limiters speak ticks of `1 / HZ` seconds. Every conversion
//! here rounds **up**: a client told to wait `s` seconds never comes back
//! before the limiter is ready.

use crate::time::{Duration, Instant};

/// The whole seconds in `duration`, rounded up: the smallest `s` with
/// `s * HZ >= ticks`, for every `HZ` and every tick count, with no overflow.
///
/// A zero duration is zero seconds. At the degenerate rate `HZ = 0` (a tick
/// that never ends) any non-zero duration saturates to `u64::MAX`.
///
/// ```
/// use ratecore::Duration;
/// use ratecore::http::ceil_seconds;
///
/// assert_eq!(ceil_seconds(Duration::<1_000>::from_ticks(0)), 0);
/// assert_eq!(ceil_seconds(Duration::<1_000>::from_ticks(1)), 1);
/// assert_eq!(ceil_seconds(Duration::<1_000>::from_ticks(12_000)), 12);
/// assert_eq!(ceil_seconds(Duration::<1_000>::from_ticks(12_001)), 13);
/// assert_eq!(ceil_seconds(Duration::<1>::from_ticks(u64::MAX)), u64::MAX);
/// ```
pub const fn ceil_seconds<const HZ: u64>(duration: Duration<HZ>) -> u64 {
    let ticks = duration.as_ticks();
    match (ticks.checked_div(HZ), ticks.checked_rem(HZ)) {
        (Some(whole), Some(0)) => whole,
        // A remainder means HZ >= 2, so `whole <= u64::MAX / 2`: the +1
        // cannot saturate.
        (Some(whole), Some(_)) => whole.saturating_add(1),
        _ if ticks == 0 => 0,
        _ => u64::MAX,
    }
}

/// The Unix second at which `after` has elapsed from the wall-clock instant
/// `unix_now` (ticks since 1970-01-01T00:00:00Z), rounded up: the first whole
/// second at or after the exact moment.
///
/// The sum is taken in 128 bits, so it is exact for every input; a result
/// past `u64::MAX` seconds (possible only at `HZ = 1`) saturates, which errs
/// late, never early.
///
/// ```
/// use ratecore::{Duration, Instant};
/// use ratecore::http::unix_seconds_after;
///
/// // 1 700 000 000.250 s + 59.5 s = 1 700 000 059.75 s -> 1 700 000 060
/// let now = Instant::<1_000>::from_ticks(1_700_000_000_250);
/// assert_eq!(unix_seconds_after(now, Duration::<1_000>::from_ticks(59_500)), 1_700_000_060);
/// ```
pub const fn unix_seconds_after<const HZ: u64>(unix_now: Instant<HZ>, after: Duration<HZ>) -> u64 {
    // Two u64 values cannot overflow a u128: the saturating add is exact.
    let sum = (unix_now.as_ticks() as u128).saturating_add(after.as_ticks() as u128);
    let hz = HZ as u128;
    let seconds = match (sum.checked_div(hz), sum.checked_rem(hz)) {
        (Some(whole), Some(0)) => whole,
        // A remainder means hz >= 2: no saturation.
        (Some(whole), Some(_)) => whole.saturating_add(1),
        _ if sum == 0 => 0,
        _ => u128::MAX,
    };
    if seconds > u64::MAX as u128 {
        u64::MAX
    } else {
        seconds as u64
    }
}
