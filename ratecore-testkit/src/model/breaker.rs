//! Reference model of the circuit breaker, written from the specification
//! (issue 8 and the `client::breaker` docs' contract), not from the code:
//! plain fields, no packing, no atomics.
//!
//! - Closed: every call is admitted. A failure adds one to the consecutive
//!   failures and, with a count window, to the window's calls and failures;
//!   a success clears the consecutive failures and adds one call to the window.
//!   `k` consecutive failures open the breaker. When the window has seen `w`
//!   calls, it opens if `failures * den >= w * num`, and otherwise starts a new,
//!   empty window.
//! - Open until `until = min(now + timeout, MAX_UNTIL)`: calls are rejected
//!   with `retry_after = until - now` while `now < until`; outcomes are ignored.
//!   The first call at `now >= until` is admitted as a probe (half-open, one probe).
//! - Half-open: at most `m` probes are admitted; the rest are rejected. A
//!   success closes (all counts zero), a failure opens again from `now`.

/// The largest open-until instant the breaker's state word can hold (62 bits).
pub const MAX_UNTIL: u64 = (1 << 62) - 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// `k`: consecutive failures that open the breaker.
    pub failures: u32,
    /// Ticks the breaker stays open.
    pub timeout: u64,
    /// `m`: probes admitted in half-open.
    pub probes: u32,
    /// `(w, num, den)`: open when a window of `w` calls has `failures / w >= num / den`.
    pub window: Option<(u32, u32, u32)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Closed {
        consecutive: u32,
        calls: u32,
        failures: u32,
    },
    Open {
        until: u64,
    },
    HalfOpen {
        probes: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Closed: an ordinary call.
    Call,
    /// Half-open: a probe.
    Probe,
    /// Open: rejected, retry after this many ticks.
    RejectOpen { retry_after: u64 },
    /// Half-open with all `m` probes out: rejected.
    RejectProbesBusy,
}

#[derive(Clone, Debug)]
pub struct Breaker {
    pub config: Config,
    pub state: State,
}

const CLOSED: State = State::Closed {
    consecutive: 0,
    calls: 0,
    failures: 0,
};

impl Breaker {
    pub fn new(config: Config) -> Self {
        Self {
            config,
            state: CLOSED,
        }
    }

    fn open(&mut self, now: u64) {
        let until = (now as u128 + self.config.timeout as u128).min(MAX_UNTIL as u128) as u64;
        self.state = State::Open { until };
    }

    pub fn acquire(&mut self, now: u64) -> Admit {
        match self.state {
            State::Closed { .. } => Admit::Call,
            State::Open { until } if now < until => Admit::RejectOpen {
                retry_after: until - now,
            },
            State::Open { .. } => {
                self.state = State::HalfOpen { probes: 1 };
                Admit::Probe
            }
            State::HalfOpen { probes } if probes < self.config.probes => {
                self.state = State::HalfOpen { probes: probes + 1 };
                Admit::Probe
            }
            State::HalfOpen { .. } => Admit::RejectProbesBusy,
        }
    }

    pub fn success(&mut self, now: u64) {
        self.outcome(false, now);
    }

    pub fn failure(&mut self, now: u64) {
        self.outcome(true, now);
    }

    fn outcome(&mut self, failed: bool, now: u64) {
        match self.state {
            State::Open { .. } => {}
            State::HalfOpen { .. } => {
                if failed {
                    self.open(now);
                } else {
                    self.state = CLOSED;
                }
            }
            State::Closed {
                consecutive,
                calls,
                failures,
            } => {
                let consecutive = if failed { consecutive + 1 } else { 0 };
                if consecutive >= self.config.failures {
                    self.open(now);
                    return;
                }
                let Some((w, num, den)) = self.config.window else {
                    self.state = State::Closed {
                        consecutive,
                        calls: 0,
                        failures: 0,
                    };
                    return;
                };
                let calls = calls + 1;
                let failures = failures + u32::from(failed);
                if calls < w {
                    self.state = State::Closed {
                        consecutive,
                        calls,
                        failures,
                    };
                } else if failures as u64 * den as u64 >= w as u64 * num as u64 {
                    self.open(now);
                } else {
                    self.state = State::Closed {
                        consecutive,
                        calls: 0,
                        failures: 0,
                    };
                }
            }
        }
    }

    /// The state as metrics see it at `now`: an open breaker whose timeout has
    /// passed reports half-open with no probe out yet.
    pub fn state_at(&self, now: u64) -> State {
        match self.state {
            State::Open { until } if now >= until => State::HalfOpen { probes: 0 },
            other => other,
        }
    }
}

/// The crate's breaker state in the model's terms.
pub fn observe<const HZ: u64>(state: ratecore::client::BreakerState<HZ>) -> State {
    use ratecore::client::BreakerState;
    match state {
        BreakerState::Closed {
            consecutive_failures,
            window_calls,
            window_failures,
        } => State::Closed {
            consecutive: consecutive_failures,
            calls: window_calls,
            failures: window_failures,
        },
        BreakerState::Open { until } => State::Open {
            until: until.as_ticks(),
        },
        BreakerState::HalfOpen { probes } => State::HalfOpen { probes },
    }
}

/// The model's answer for the breaker's answer to a call; panics on a
/// rejection the model does not know (the breaker must answer only these).
pub fn admit<const HZ: u64>(
    answer: Result<ratecore::client::Admission, ratecore::client::BreakerRejected<HZ>>,
) -> Admit {
    use ratecore::client::{Admission, BreakerRejected};
    match answer {
        Ok(Admission::Call) => Admit::Call,
        Ok(Admission::Probe) => Admit::Probe,
        Err(BreakerRejected::Open { retry_after }) => Admit::RejectOpen {
            retry_after: retry_after.as_ticks(),
        },
        Err(BreakerRejected::ProbesBusy { .. }) => Admit::RejectProbesBusy,
        Err(other) => panic!("unexpected rejection {other:?}"),
    }
}

/// The breaker's configuration for a model configuration (not yet checked:
/// `CircuitBreaker::new` refuses what the spec calls invalid).
pub fn config<const HZ: u64>(config: &Config) -> ratecore::client::BreakerConfig<HZ> {
    let built = ratecore::client::BreakerConfig::<HZ>::new(
        config.failures,
        ratecore::Duration::from_ticks(config.timeout),
    )
    .probes(config.probes);
    match config.window {
        Some((w, num, den)) => built.failure_ratio(w, num, den),
        None => built,
    }
}
