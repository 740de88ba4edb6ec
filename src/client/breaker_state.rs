//! The circuit breaker's state, its packing into one `u64`, and its
//! transitions as pure functions of `(state, event, now)`.
//!
//! Layout (bit 63 first):
//!
//! ```text
//! closed:    00 | window failures: 21 | window calls: 21 | consecutive failures: 20
//! open:      01 | open until (ticks): 62
//! half-open: 10 | unused: 30 | probes admitted: 32
//! ```
//!
//! The word of a fresh breaker is 0: closed with every count zero. Tag `11`
//! is never written; it decodes as open (the conservative reading).

use super::breaker::BreakerConfig;
use crate::time::{Duration, Instant};

/// The largest consecutive-failure threshold: 20 bits.
pub(crate) const MAX_FAILURES: u32 = (1 << 20) - 1;
/// The largest count window: 21 bits.
pub(crate) const MAX_WINDOW: u32 = (1 << 21) - 1;
/// The latest open-until instant the word holds: 62 bits (146 years of
/// nanoseconds). Later instants are stored as this one.
pub(crate) const MAX_UNTIL: u64 = (1 << 62) - 1;

const TAG_SHIFT: u32 = 62;
const TAG_CLOSED: u64 = 0;
const TAG_OPEN: u64 = 1;
const TAG_HALF_OPEN: u64 = 2;
const CONSECUTIVE_BITS: u32 = 20;
const CALLS_BITS: u32 = 21;
const COUNT_MASK_20: u64 = (1 << 20) - 1;
const COUNT_MASK_21: u64 = (1 << 21) - 1;

/// What a circuit breaker is doing, for decisions and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BreakerState<const HZ: u64> {
    /// Calls go through; failures are being counted.
    Closed {
        /// Failures since the last success.
        consecutive_failures: u32,
        /// Outcomes seen in the current count window (0 without a window).
        window_calls: u32,
        /// Failures among them.
        window_failures: u32,
    },
    /// Calls are rejected until `until`.
    Open {
        /// The first instant at which a probe is admitted.
        until: Instant<HZ>,
    },
    /// The timeout has passed; up to the configured number of probes go through.
    HalfOpen {
        /// Probes admitted and not yet reported.
        probes: u32,
    },
}

/// How a call was admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Admission {
    /// The breaker is closed: an ordinary call.
    Call,
    /// The breaker is half-open: this call is a probe, and its outcome
    /// decides whether the breaker closes or opens again. Report it.
    Probe,
}

/// Why a call was rejected. Nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum BreakerRejected<const HZ: u64> {
    /// The breaker is open: a probe will be admitted after `retry_after`.
    Open {
        /// Time until the breaker admits a probe (never zero).
        retry_after: Duration<HZ>,
    },
    /// The breaker is half-open and every probe slot is taken: wait for a
    /// probe's outcome.
    ProbesBusy {
        /// Probes out (the configured maximum).
        probes: u32,
    },
}

impl<const HZ: u64> BreakerRejected<HZ> {
    /// The wait before a retry can be admitted, if known.
    pub const fn retry_after(&self) -> Option<Duration<HZ>> {
        match self {
            Self::Open { retry_after } => Some(*retry_after),
            Self::ProbesBusy { .. } => None,
        }
    }
}

impl<const HZ: u64> core::fmt::Display for BreakerRejected<HZ> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Open { retry_after } => write!(
                f,
                "circuit open: a probe is admitted in {} ticks of 1/{} s",
                retry_after.as_ticks(),
                HZ
            ),
            Self::ProbesBusy { probes } => {
                write!(f, "circuit half-open: all {probes} probes are out")
            }
        }
    }
}

impl<const HZ: u64> core::error::Error for BreakerRejected<HZ> {}

/// The closed state with every count zero.
pub(crate) const CLOSED: u64 = 0;

impl<const HZ: u64> BreakerState<HZ> {
    /// Packs the state; counts above their field widths are clamped (the
    /// transitions never produce them).
    pub(crate) const fn pack(&self) -> u64 {
        match *self {
            Self::Closed {
                consecutive_failures,
                window_calls,
                window_failures,
            } => {
                let consecutive = clamp(consecutive_failures as u64, COUNT_MASK_20);
                let calls = clamp(window_calls as u64, COUNT_MASK_21);
                let failures = clamp(window_failures as u64, COUNT_MASK_21);
                (TAG_CLOSED << TAG_SHIFT)
                    | (failures << (CONSECUTIVE_BITS + CALLS_BITS))
                    | (calls << CONSECUTIVE_BITS)
                    | consecutive
            }
            Self::Open { until } => (TAG_OPEN << TAG_SHIFT) | clamp(until.as_ticks(), MAX_UNTIL),
            Self::HalfOpen { probes } => (TAG_HALF_OPEN << TAG_SHIFT) | probes as u64,
        }
    }

    /// Unpacks a word written by [`pack`](BreakerState::pack).
    pub(crate) const fn unpack(word: u64) -> Self {
        let payload = word & MAX_UNTIL;
        match word >> TAG_SHIFT {
            TAG_CLOSED => Self::Closed {
                // Each field is masked to at most 21 bits: the casts are exact.
                consecutive_failures: (payload & COUNT_MASK_20) as u32,
                window_calls: ((payload >> CONSECUTIVE_BITS) & COUNT_MASK_21) as u32,
                window_failures: ((payload >> (CONSECUTIVE_BITS + CALLS_BITS)) & COUNT_MASK_21)
                    as u32,
            },
            TAG_HALF_OPEN => Self::HalfOpen {
                probes: (payload & (u32::MAX as u64)) as u32,
            },
            // TAG_OPEN, and the never-written tag 3, read as open.
            _ => Self::Open {
                until: Instant::<HZ>::from_ticks(payload),
            },
        }
    }

    /// The state as seen at `now`: open past its timeout reads as half-open
    /// with no probe out yet.
    pub(crate) const fn at(self, now: u64) -> Self {
        match self {
            Self::Open { until } if now >= until.as_ticks() => Self::HalfOpen { probes: 0 },
            other => other,
        }
    }
}

const fn clamp(value: u64, max: u64) -> u64 {
    if value > max { max } else { value }
}

/// The open state for a breaker opening at `now`.
const fn opened<const HZ: u64>(config: &BreakerConfig<HZ>, now: u64) -> u64 {
    let until = clamp(now.saturating_add(config.timeout_ticks()), MAX_UNTIL);
    BreakerState::<HZ>::Open {
        until: Instant::<HZ>::from_ticks(until),
    }
    .pack()
}

/// A call at `now`: the answer, and the word to store if it changes.
pub(crate) const fn admit<const HZ: u64>(
    config: &BreakerConfig<HZ>,
    word: u64,
    now: u64,
) -> (Result<Admission, BreakerRejected<HZ>>, Option<u64>) {
    match BreakerState::<HZ>::unpack(word) {
        BreakerState::Closed { .. } => (Ok(Admission::Call), None),
        BreakerState::Open { until } => {
            let until = until.as_ticks();
            if now < until {
                // A stale or backwards `now` lands here too: it can only
                // keep the breaker open longer.
                let retry_after = Duration::<HZ>::from_ticks(until.saturating_sub(now));
                (Err(BreakerRejected::Open { retry_after }), None)
            } else {
                let next = BreakerState::<HZ>::HalfOpen { probes: 1 }.pack();
                (Ok(Admission::Probe), Some(next))
            }
        }
        BreakerState::HalfOpen { probes } => {
            if probes < config.probe_limit() {
                // `probes < limit <= u32::MAX`.
                let next = BreakerState::<HZ>::HalfOpen {
                    probes: probes.saturating_add(1),
                }
                .pack();
                (Ok(Admission::Probe), Some(next))
            } else {
                (Err(BreakerRejected::ProbesBusy { probes }), None)
            }
        }
    }
}

/// An outcome reported at `now`: the word to store if it changes.
pub(crate) const fn report<const HZ: u64>(
    config: &BreakerConfig<HZ>,
    word: u64,
    failed: bool,
    now: u64,
) -> Option<u64> {
    match BreakerState::<HZ>::unpack(word) {
        // Outcomes of calls admitted before the breaker opened say nothing new.
        BreakerState::Open { .. } => None,
        BreakerState::HalfOpen { .. } => {
            if failed {
                Some(opened(config, now))
            } else {
                Some(CLOSED)
            }
        }
        BreakerState::Closed {
            consecutive_failures,
            window_calls,
            window_failures,
        } => {
            // Stored counts are below their thresholds, so `+ 1` cannot overflow.
            let consecutive = if failed {
                consecutive_failures.saturating_add(1)
            } else {
                0
            };
            if consecutive >= config.failure_threshold() {
                return Some(opened(config, now));
            }
            let (calls, failures) = match config.window() {
                None => (0, 0),
                Some((window, num, den)) => {
                    let calls = window_calls.saturating_add(1);
                    let failures = if failed {
                        window_failures.saturating_add(1)
                    } else {
                        window_failures
                    };
                    if calls < window {
                        (calls, failures)
                    } else if (failures as u64).saturating_mul(den as u64)
                        >= (window as u64).saturating_mul(num as u64)
                    {
                        return Some(opened(config, now));
                    } else {
                        (0, 0)
                    }
                }
            };
            let next = BreakerState::<HZ>::Closed {
                consecutive_failures: consecutive,
                window_calls: calls,
                window_failures: failures,
            }
            .pack();
            if next == word { None } else { Some(next) }
        }
    }
}
