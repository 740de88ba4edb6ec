use crate::kernel::sync::{AtomicU64, Ordering};
use crate::macros::const_fn;
use crate::time::{Clock, Instant};

/// A [`Clock`] over a 32-bit hardware tick counter that wraps, extended to a
/// monotonic `u64` without locks.
///
/// `read` returns the counter's raw value (an up-counter; negate a
/// down-counter's value). The clock keeps its last extended reading in one
/// atomic word and extends each new raw value from it: the ticks elapsed since
/// then are `raw - last` modulo 2^32.
///
/// ```
/// use ratecore::Clock;
/// use ratecore::clock::WrappingCounter;
/// use ratecore::kernel::{AtomicU64, Ordering};
///
/// // Stands in for a 32-bit timer register, e.g. a 1 MHz TIMER->CNT (the
/// // crate's own atomic, which every target has, holding its value).
/// static TIMER: AtomicU64 = AtomicU64::new((u32::MAX - 9) as u64);
/// fn read_timer() -> u32 {
///     TIMER.load(Ordering::Relaxed) as u32
/// }
///
/// static CLOCK: WrappingCounter<fn() -> u32, 1_000_000> = WrappingCounter::new(read_timer);
///
/// assert_eq!(CLOCK.now().as_ticks(), u64::from(u32::MAX - 9));
/// TIMER.store(5, Ordering::Relaxed); // the counter wrapped: 15 ticks later
/// assert_eq!(CLOCK.now().as_ticks(), (1 << 32) + 5);
/// ```
///
/// # The rule the caller must keep
///
/// **Read the clock at least once per wrap period**: consecutive calls of
/// [`now`](Clock::now) (from any thread or interrupt) must be less than 2^32
/// counter ticks apart, and so must the start and the end of each call. At
/// 1 MHz the wrap period is 71 minutes; at 100 MHz it is 43 seconds. If checks
/// can be further apart than that, call `now` from a periodic interrupt as
/// well, at least twice per wrap period (say, from the timer's own
/// half-period compare interrupt).
///
/// If the rule is broken, the wraps that went unseen are lost: the clock
/// falls behind the counter by a whole multiple of 2^32 ticks. It never jumps
/// ahead and never goes backwards, so a limiter on it only sees less time pass
/// and decides more strictly (never admits more than its quota), but its
/// `retry_after` answers are then too short by the lost time.
///
/// # Origin and range
///
/// Tick 0 is the counter's 0 of the wrap period in which the clock is first
/// read: the first reading is the raw value itself. Readings saturate at
/// `u64::MAX` ticks (584 years at 1 GHz).
///
/// A counter of `k < 32` bits works too: return its value shifted left by
/// `32 - k` bits (so it wraps at 2^32) and multiply `HZ` by `2^(32 - k)`.
///
/// # Progress
///
/// One load and one compare-exchange on the state word, retried (with a new
/// counter read) only when another call published a reading meanwhile:
/// lock-free where the target has 64-bit atomics, and otherwise as described
/// for the limiters (the `critical-section` feature makes it interrupt-safe on
/// single-core chips).
pub struct WrappingCounter<F, const HZ: u64> {
    read: F,
    /// The latest extended reading any call has published.
    last: AtomicU64,
}

impl<F, const HZ: u64> WrappingCounter<F, HZ> {
    const_fn! {
        /// A clock over the counter that `read` returns.
        pub const fn new(read: F) -> Self {
            Self { read, last: AtomicU64::new(0) }
        }
    }

    /// The latest reading published by any call of [`now`](Clock::now) (tick
    /// 0 before the first), without reading the counter.
    pub fn last(&self) -> Instant<HZ> {
        // Acquire: pairs with the compare-exchange in `now`, like `now`'s load.
        Instant::<HZ>::from_ticks(self.last.load(Ordering::Acquire))
    }
}

impl<F: Fn() -> u32, const HZ: u64> Clock<HZ> for WrappingCounter<F, HZ> {
    fn now(&self) -> Instant<HZ> {
        // Acquire: pairs with the Release of the compare-exchange below (in
        // any thread): the reading we extend from was taken from the counter
        // before our own read, and our counter read cannot move above this
        // load. (Reading the counter first and the state second would let a
        // newer state make an older raw value look a whole wrap later.)
        let mut last = self.last.load(Ordering::Acquire);
        loop {
            let raw = (self.read)();
            // The low 32 bits of `last` are the raw value it was extended from.
            let low = (last & u64::from(u32::MAX)) as u32;
            let extended = last.saturating_add(u64::from(raw.wrapping_sub(low)));
            // Publishing with a compare-exchange (not a plain max) proves that
            // `last` was the latest reading: a load may return an older one,
            // which could be more than a wrap period old. Release on success:
            // pairs with the Acquire load above and the Acquire failure here,
            // and orders our counter read before the store. Acquire on
            // failure: as the load above, for the newer reading we retry from.
            match self.last.compare_exchange_weak(
                last,
                extended,
                Ordering::Release,
                Ordering::Acquire,
            ) {
                Ok(_) => return Instant::<HZ>::from_ticks(extended),
                Err(newer) => last = newer,
            }
        }
    }
}

impl<F, const HZ: u64> core::fmt::Debug for WrappingCounter<F, HZ> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WrappingCounter")
            .field("last", &self.last().as_ticks())
            .finish_non_exhaustive()
    }
}

crate::macros::defmt_format!(
    impl[F, const HZ: u64] for WrappingCounter<F, HZ> => |counter|
        "WrappingCounter {{ last: {=u64} ticks at {=u64} Hz }}",
        counter.last().as_ticks(),
        HZ,
);
