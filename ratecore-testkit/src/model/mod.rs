//! Reference models of the limiters, and the harness that drives them.
//!
//! The models are written from the documented semantics alone (ARCHITECTURE.md and the docs),
//! not from `src/`: plain exact integer arithmetic (`i128`), no atomics, no
//! saturation, nothing clever. Where the model and the crate disagree, one of
//! them is wrong, and the model is the one that is easy to read.
//!
//! - [`gcra`]: GCRA as the textbook virtual-scheduling algorithm (a theoretical
//!   arrival time on an exact rational time line);
//! - [`token_bucket`]: a token counter refilled by elapsed time (continuously
//!   or in lumps at period boundaries);
//! - [`spec`]: a quota described independently of the crate (count, burst and
//!   the period as an exact fraction of seconds), so tests know its true rate;
//! - [`trace`]: operation sequences, from proptest values or fuzz bytes;
//! - [`subject`]: what a trace drives (limiters, state words, models);
//! - [`harness`]: limiters and models side by side on one trace;
//! - [`invariants`]: the architecture's invariants, checked along a trace.
//!
//! Beside them, the models of the other limiters, each answering in its own
//! terms: [`fixed_window`], [`sliding_window`] (sharing their windows'
//! bookkeeping, [`window_ledger`]) and [`sliding_log`] (driven
//! through [`Model`] by [`crate::window`]), [`keyed_gcra`] (keyed tables),
//! [`tier_gcra`] (tiers and reservations), [`log_limit`] (the Linux kernel's
//! `___ratelimit`), [`aimd`], [`backoff`] and [`breaker`] (the client side).
//!
//! Nothing here depends on proptest: the fuzz targets use it too.

pub mod aimd;
pub mod backoff;
pub mod breaker;
pub mod fixed_window;
pub mod gcra;
pub mod harness;
pub mod invariants;
pub mod keyed_gcra;
pub mod log_limit;
pub mod reconfigured;
pub mod sliding_log;
pub mod sliding_window;
pub mod spec;
pub mod subject;
pub mod tier_gcra;
pub mod token_bucket;
pub mod trace;
pub mod window_ledger;

pub use subject::{Model, Subject};

use ratecore::{Decision, Denied};

/// What a limiter reports about its state (the crate's `Status`, in plain
/// numbers; durations are `u128` ticks so a model can say "more than fits").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    pub limit: u32,
    pub remaining: u32,
    pub reset_after: u128,
}

/// The answer to a check (the crate's `Decision`, in plain numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Admitted(Status),
    RateLimited {
        limit: u32,
        remaining: u32,
        retry_after: u128,
        reset_after: u128,
    },
    ExceedsBurst {
        requested: u32,
        burst: u32,
    },
    /// A refusal kind the models do not know (`Denied` is non-exhaustive):
    /// never equal to a model's answer.
    Unknown,
}

impl Answer {
    pub fn is_admitted(&self) -> bool {
        matches!(self, Answer::Admitted(_))
    }

    pub fn is_rate_limited(&self) -> bool {
        matches!(self, Answer::RateLimited { .. })
    }

    /// The answers the spec gives before any arithmetic: more than the burst
    /// is refused as such, and a check of nothing is admitted with the
    /// status (`snapshot`). `None` for every other check.
    pub fn before_arithmetic(
        n: u32,
        burst: u32,
        snapshot: impl FnOnce() -> Status,
    ) -> Option<Self> {
        if n > burst {
            Some(Answer::ExceedsBurst {
                requested: n,
                burst,
            })
        } else if n == 0 {
            Some(Answer::Admitted(snapshot()))
        } else {
            None
        }
    }
}

/// The crate's status in plain numbers.
pub fn status<const HZ: u64>(s: &ratecore::Status<HZ>) -> Status {
    Status {
        limit: s.limit(),
        remaining: s.remaining(),
        reset_after: s.reset_after().as_ticks().into(),
    }
}

/// The crate's decision in plain numbers.
pub fn answer<const HZ: u64>(d: &Decision<HZ>) -> Answer {
    match d {
        Ok(s) => Answer::Admitted(status(s)),
        Err(Denied::RateLimited(r)) => Answer::RateLimited {
            limit: r.limit(),
            remaining: r.remaining(),
            retry_after: r.retry_after().as_ticks().into(),
            reset_after: r.reset_after().as_ticks().into(),
        },
        Err(Denied::ExceedsBurst(e)) => Answer::ExceedsBurst {
            requested: e.requested,
            burst: e.burst,
        },
        Err(_) => Answer::Unknown,
    }
}

/// `floor(a / b)` for `b > 0`, on any sign of `a`.
pub(crate) fn floor_div(a: i128, b: i128) -> i128 {
    assert!(b > 0);
    a.div_euclid(b)
}

/// `ceil(a / b)` for `b > 0`, on any sign of `a`.
pub(crate) fn ceil_div(a: i128, b: i128) -> i128 {
    assert!(b > 0);
    -((-a).div_euclid(b))
}

/// A count of whole units that the semantics guarantee to be a `u32`.
pub(crate) fn units(x: i128) -> u32 {
    u32::try_from(x).unwrap_or_else(|_| panic!("model bug: {x} units is not a u32"))
}

/// A non-negative duration in ticks (zero for anything not positive).
pub(crate) fn ticks(x: i128) -> u128 {
    u128::try_from(x.max(0)).unwrap_or(0)
}
