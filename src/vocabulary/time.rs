//! Tick-native time: instants, durations and the [`Clock`] trait.
//!
//! Every limiter works in the ticks of its clock; the tick rate `HZ` is a const
//! generic, so no conversion happens on the hot path. The types are
//! [`fugit`]'s monotonic 64-bit instants and durations: the time line is a
//! plain `u64` that does not wrap (at 1 GHz it lasts 584 years), so ordering
//! instants is meaningful. Wrapping hardware counters must be extended to 64
//! bits before they are used as a [`Clock`].

/// A point on a clock's time line, in ticks of `1 / HZ` seconds.
pub type Instant<const HZ: u64> = fugit::Instant<u64, 1, HZ, fugit::kind::Monotonic>;

/// A span of time in ticks of `1 / HZ` seconds.
pub type Duration<const HZ: u64> = fugit::Duration<u64, 1, HZ>;

/// Nanosecond ticks, the rate of the `std` clocks.
pub const NANOS: u64 = 1_000_000_000;
/// Microsecond ticks.
pub const MICROS: u64 = 1_000_000;
/// Millisecond ticks, a common RTOS tick.
pub const MILLIS: u64 = 1_000;

/// A source of the current time, in ticks of `1 / HZ` seconds.
///
/// The limiters never read a clock on their own: every `*_at` method takes the
/// time as an argument, and the conveniences that take a clock call
/// [`now`](Clock::now) exactly once.
///
/// # Contract
///
/// An implementation:
///
/// - MUST return ticks of exactly `1 / HZ` seconds;
/// - MUST be monotonic: a call that happens after another MUST NOT return an
///   earlier instant (on every thread that shares the clock);
/// - MUST NOT wrap: extend narrow hardware counters to 64 bits first;
/// - MUST NOT fail or panic, and SHOULD be cheap (it is called on every check).
///
/// Breaking monotonicity does not make a limiter admit more than its quota: an
/// earlier instant is treated as a stale reading and only makes decisions
/// stricter. It does make `retry_after` answers inexact.
pub trait Clock<const HZ: u64> {
    /// The current instant.
    fn now(&self) -> Instant<HZ>;
}

impl<const HZ: u64, C: Clock<HZ> + ?Sized> Clock<HZ> for &C {
    fn now(&self) -> Instant<HZ> {
        (**self).now()
    }
}
