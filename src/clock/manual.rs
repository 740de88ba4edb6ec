use crate::kernel::sync::{AtomicU64, Ordering};
use crate::macros::const_fn;
use crate::time::{Clock, Duration, Instant};

/// A clock that moves only when told to: for tests, simulations and fuzzing.
///
/// It is one atomic word and can be a `static`. It follows the [`Clock`]
/// contract only as far as its caller does: [`set`](ManualClock::set) can move
/// it backwards, which is how tests exercise stale readings.
///
/// ```
/// use ratecore::clock::ManualClock;
/// use ratecore::{Clock, Duration};
///
/// static CLOCK: ManualClock<1_000> = ManualClock::new(0);
/// CLOCK.advance(Duration::<1_000>::from_ticks(250));
/// assert_eq!(CLOCK.now().as_ticks(), 250);
/// ```
#[derive(Debug)]
pub struct ManualClock<const HZ: u64> {
    ticks: AtomicU64,
}

impl<const HZ: u64> ManualClock<HZ> {
    const_fn! {
        /// A clock reading `ticks`.
        pub const fn new(ticks: u64) -> Self {
            Self { ticks: AtomicU64::new(ticks) }
        }
    }

    /// Moves the clock to `instant` (backwards too).
    pub fn set(&self, instant: Instant<HZ>) {
        // Relaxed: the clock is a single value; readers need no other data
        // published with it.
        self.ticks.store(instant.as_ticks(), Ordering::Relaxed);
    }

    /// Moves the clock forwards by `by`, saturating at `u64::MAX` ticks.
    pub fn advance(&self, by: Duration<HZ>) {
        // Relaxed: as in `set`; fetch_update is a compare-exchange loop on
        // this one word.
        let _ = self
            .ticks
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_add(by.as_ticks()))
            });
    }
}

crate::macros::defmt_format!(
    impl[const HZ: u64] for ManualClock<HZ> => |clock|
        "ManualClock {{ {=u64} ticks at {=u64} Hz }}",
        clock.now().as_ticks(),
        HZ,
);

impl<const HZ: u64> Clock<HZ> for ManualClock<HZ> {
    fn now(&self) -> Instant<HZ> {
        // Relaxed: pairs with nothing; see `set`.
        Instant::<HZ>::from_ticks(self.ticks.load(Ordering::Relaxed))
    }
}
