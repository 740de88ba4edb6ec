//! The circuit breaker: closed, open, half-open, in one atomic word.

use super::breaker_state::{
    Admission, BreakerRejected, BreakerState, CLOSED, MAX_FAILURES, MAX_WINDOW, admit, report,
};
use crate::kernel::cas::{Next, update};
use crate::kernel::sync::{AtomicU64, Ordering};
use crate::macros::const_fn;
use crate::time::{Clock, Duration, Instant, NANOS};

crate::macros::error_enum! {
    /// Why a [`BreakerConfig`] was refused. Nothing was built.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[cfg_attr(feature = "defmt", derive(defmt::Format))]
    #[non_exhaustive]
    pub enum BreakerError {
        /// The consecutive-failure threshold is zero: the breaker would open
        /// without any failure.
        ZeroFailures => "the consecutive-failure threshold is zero",
        /// The consecutive-failure threshold is above 2^20 - 1 (1,048,575), the
        /// width of its field in the state word.
        TooManyFailures => "the consecutive-failure threshold is above 1,048,575",
        /// The open timeout is zero: the breaker would never reject.
        ZeroTimeout => "the open timeout is zero",
        /// Zero probes: a half-open breaker could never close.
        ZeroProbes => "the half-open probe limit is zero",
        /// The count window is zero calls.
        ZeroWindow => "the failure-ratio window is zero calls",
        /// The count window is above 2^21 - 1 (2,097,151) calls, the width of its
        /// fields in the state word.
        WindowTooLarge => "the failure-ratio window is above 2,097,151 calls",
        /// The failure ratio is not in `(0, 1]` (or its denominator is zero).
        BadRatio => "the failure ratio is not in (0, 1]",
    }
}

/// The parameters of a [`CircuitBreaker`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BreakerConfig<const HZ: u64> {
    failures: u32,
    timeout: Duration<HZ>,
    probes: u32,
    window: Option<(u32, u32, u32)>,
}

impl<const HZ: u64> BreakerConfig<HZ> {
    /// Opens after `failures` consecutive failures, for `timeout`, then admits
    /// one probe.
    pub const fn new(failures: u32, timeout: Duration<HZ>) -> Self {
        Self {
            failures,
            timeout,
            probes: 1,
            window: None,
        }
    }

    /// Admits up to `probes` probes while half-open.
    #[must_use]
    pub const fn probes(self, probes: u32) -> Self {
        Self { probes, ..self }
    }

    /// Also opens when a count window of `window` calls ends with at least
    /// `numerator / denominator` of them failed. Windows are tumbling: one
    /// ends every `window` reported outcomes, and a new one starts empty.
    #[must_use]
    pub const fn failure_ratio(self, window: u32, numerator: u32, denominator: u32) -> Self {
        Self {
            window: Some((window, numerator, denominator)),
            ..self
        }
    }

    const fn validate(&self) -> Result<(), BreakerError> {
        if self.failures == 0 {
            return Err(BreakerError::ZeroFailures);
        }
        if self.failures > MAX_FAILURES {
            return Err(BreakerError::TooManyFailures);
        }
        if self.timeout.as_ticks() == 0 {
            return Err(BreakerError::ZeroTimeout);
        }
        if self.probes == 0 {
            return Err(BreakerError::ZeroProbes);
        }
        if let Some((window, num, den)) = self.window {
            if window == 0 {
                return Err(BreakerError::ZeroWindow);
            }
            if window > MAX_WINDOW {
                return Err(BreakerError::WindowTooLarge);
            }
            if num == 0 || num > den {
                return Err(BreakerError::BadRatio);
            }
        }
        Ok(())
    }

    /// `k`: consecutive failures that open the breaker.
    pub const fn failure_threshold(&self) -> u32 {
        self.failures
    }

    /// How long the breaker stays open.
    pub const fn timeout(&self) -> Duration<HZ> {
        self.timeout
    }

    pub(crate) const fn timeout_ticks(&self) -> u64 {
        self.timeout.as_ticks()
    }

    /// `m`: probes admitted while half-open.
    pub const fn probe_limit(&self) -> u32 {
        self.probes
    }

    /// The count window and failure ratio, `(window, numerator, denominator)`.
    pub const fn window(&self) -> Option<(u32, u32, u32)> {
        self.window
    }
}

/// A circuit breaker in one atomic `u64`: stop calling a service that keeps
/// failing, and try it again carefully after a while.
///
/// - **Closed**: every call is admitted. `k` consecutive failures open the
///   breaker; so does, with [`failure_ratio`](BreakerConfig::failure_ratio),
///   a count window that ends with at least the given share of failures.
///   A success clears the consecutive failures.
/// - **Open** until `now + timeout`: every call is rejected with the time
///   left ([`BreakerRejected::Open`]). Outcomes reported meanwhile (of calls
///   admitted before it opened) are ignored.
/// - **Half-open**, from the first call at or after the timeout: at most `m`
///   calls are admitted, as [probes](Admission::Probe); more are rejected
///   ([`BreakerRejected::ProbesBusy`]). The first reported success closes the
///   breaker with every count zero; the first reported failure opens it again
///   for another `timeout`.
///
/// Every admitted call must report its outcome with
/// [`record_success_at`](CircuitBreaker::record_success_at) or
/// [`record_failure_at`](CircuitBreaker::record_failure_at); report an
/// abandoned call (cancelled, timed out) as a failure. A breaker cannot tell
/// an abandoned probe from a slow one, so `m` probes that never report keep
/// it half-open and rejecting.
///
/// # The word
///
/// The state, its counts and the open-until instant share one `u64`: two
/// bits of state, then either the closed counts (consecutive failures in 20
/// bits, window calls and window failures in 21 bits each), or the open-until
/// instant in 62 bits, or the half-open probe count in 32 bits. Hence the
/// limits: `k < 2^20`, windows of fewer than `2^21` calls (both checked by
/// [`new`](CircuitBreaker::new)), any `m` up to `u32::MAX`, and an open-until
/// instant of at most `2^62 - 1` ticks (146 years at 1 GHz, and longer at
/// slower clocks): a breaker opened later than that, or with a timeout
/// reaching past it, stays open only until that instant.
///
/// Every transition is one compare-and-swap of the whole word, so it is
/// linearizable: concurrent callers never admit more than `m` probes, and
/// outcomes racing in half-open take effect one after the other, in the order
/// their compare-and-swaps land (a success then a failure: closed, with one
/// failure counted; a failure then a success: open, the success ignored).
/// A closed breaker admits with a single load.
///
/// # Time
///
/// Only the open state reads the clock: it rejects while `now < until`. A
/// stale reading or a clock that went backwards therefore keeps the breaker
/// open longer, never shorter; a clock that jumps forwards ends the timeout
/// early. Instants are those of a monotonic clock ([`Clock`]).
///
/// ```
/// use ratecore::client::{Admission, BreakerConfig, BreakerState, CircuitBreaker};
/// use ratecore::{Duration, Instant};
///
/// type Ms = Duration<1_000>;
/// let breaker = CircuitBreaker::new(BreakerConfig::new(3, Ms::from_ticks(5_000))).unwrap();
/// let t = |ms| Instant::<1_000>::from_ticks(ms);
/// for _ in 0..3 {
///     assert_eq!(breaker.try_acquire_at(t(0)), Ok(Admission::Call));
///     breaker.record_failure_at(t(0));
/// }
/// let rejected = breaker.try_acquire_at(t(1_000)).unwrap_err();
/// assert_eq!(rejected.retry_after(), Some(Ms::from_ticks(4_000)));
/// assert_eq!(breaker.try_acquire_at(t(5_000)), Ok(Admission::Probe));
/// breaker.record_success_at(t(5_100));
/// assert!(matches!(breaker.state(), BreakerState::Closed { consecutive_failures: 0, .. }));
/// ```
#[derive(Debug)]
pub struct CircuitBreaker<const HZ: u64 = NANOS> {
    word: AtomicU64,
    config: BreakerConfig<HZ>,
}

impl<const HZ: u64> CircuitBreaker<HZ> {
    const_fn! {
        /// A closed breaker with every count zero.
        ///
        /// # Errors
        ///
        /// A [`BreakerError`] naming the parameter that is out of range.
        pub const fn new(config: BreakerConfig<HZ>) -> Result<Self, BreakerError> {
            match config.validate() {
                Ok(()) => Ok(Self { word: AtomicU64::new(CLOSED), config }),
                Err(e) => Err(e),
            }
        }
    }

    /// The configuration.
    pub const fn config(&self) -> &BreakerConfig<HZ> {
        &self.config
    }

    /// Asks to make a call at `now`.
    ///
    /// # Errors
    ///
    /// [`BreakerRejected::Open`] with the time left while open;
    /// [`BreakerRejected::ProbesBusy`] while half-open with every probe out.
    /// A rejection changes nothing.
    pub fn try_acquire_at(&self, now: Instant<HZ>) -> Result<Admission, BreakerRejected<HZ>> {
        let now = now.as_ticks();
        // Relaxed: the word is the breaker's only shared datum and publishes
        // nothing else; the kernel's compare-and-swap loop orders its updates,
        // and a failed exchange decides again on the word that won (this is
        // what keeps concurrent probes to at most `m`).
        update(&self.word, Ordering::Relaxed, |word| {
            let (answer, next) = admit(&self.config, word, now);
            Next::new(answer, next)
        })
        .0
    }

    /// Asks to make a call at `clock.now()`. See [`try_acquire_at`](CircuitBreaker::try_acquire_at).
    ///
    /// # Errors
    ///
    /// As [`try_acquire_at`](CircuitBreaker::try_acquire_at).
    pub fn try_acquire(&self, clock: &impl Clock<HZ>) -> Result<Admission, BreakerRejected<HZ>> {
        self.try_acquire_at(clock.now())
    }

    /// Reports that an admitted call succeeded at `now`.
    pub fn record_success_at(&self, now: Instant<HZ>) {
        self.record(false, now);
    }

    /// Reports that an admitted call failed (or was abandoned) at `now`.
    pub fn record_failure_at(&self, now: Instant<HZ>) {
        self.record(true, now);
    }

    fn record(&self, failed: bool, now: Instant<HZ>) {
        let now = now.as_ticks();
        // Relaxed: as in `try_acquire_at`; the kernel's loop stores nothing
        // when the report changes nothing.
        let _ = update(&self.word, Ordering::Relaxed, |word| {
            Next::new((), report(&self.config, word, failed, now))
        });
    }

    /// The stored state: as of the last transition (an open breaker past its
    /// timeout still reads open until a call arrives; see [`state_at`](CircuitBreaker::state_at)).
    pub fn state(&self) -> BreakerState<HZ> {
        // Relaxed: one read of the only shared datum, for reporting.
        BreakerState::unpack(self.word.load(Ordering::Relaxed))
    }

    /// The state as a call at `now` would find it: an open breaker whose
    /// timeout has passed reads as half-open with no probe out.
    pub fn state_at(&self, now: Instant<HZ>) -> BreakerState<HZ> {
        self.state().at(now.as_ticks())
    }

    /// Closes the breaker with every count zero (an operator's override).
    pub fn reset(&self) {
        // Relaxed: a plain overwrite of the one word; a racing transition is
        // ordered before or after it.
        self.word.store(CLOSED, Ordering::Relaxed);
    }
}

crate::macros::defmt_format!(
    impl[const HZ: u64] for CircuitBreaker<HZ> => |breaker|
        "CircuitBreaker {{ state: {}, config: {} }}",
        breaker.state(),
        breaker.config,
);
