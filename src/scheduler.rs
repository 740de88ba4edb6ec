//! The atomic cell shared by [`Gcra`](crate::Gcra) and
//! [`TokenBucket`](crate::TokenBucket): one `u64` of state and the
//! [`Schedule`] that interprets it.

use crate::decision::{Decision, Denied, ExceedsBurst, RateLimited, Status};
use crate::macros::const_fn;
use crate::quota::QuotaError;
use crate::schedule::{Schedule, Verdict};
use crate::sync::{AtomicU64, Ordering};
use crate::time::{Duration, Instant};

/// One state word and its schedule.
#[derive(Debug)]
pub(crate) struct Scheduler<const HZ: u64> {
    tat: AtomicU64,
    schedule: Schedule,
}

impl<const HZ: u64> Scheduler<HZ> {
    const_fn! {
        /// A full limiter, or the quota's error.
        pub(crate) const fn new(schedule: Result<Schedule, QuotaError>) -> Result<Self, QuotaError> {
            match schedule {
                Ok(schedule) => Ok(Self { tat: AtomicU64::new(0), schedule }),
                Err(e) => Err(e),
            }
        }
    }

    pub(crate) const fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    pub(crate) fn check(&self, n: u32, now: Instant<HZ>) -> Decision<HZ> {
        let verdict = self.schedule.check(&self.tat, n, now.as_ticks());
        self.decision(verdict, n)
    }

    pub(crate) fn snapshot(&self, now: Instant<HZ>) -> Status<HZ> {
        self.status(self.schedule.peek(&self.tat, now.as_ticks()))
    }

    pub(crate) fn give_back(&self, n: u32) {
        self.schedule.give_back(&self.tat, n);
    }

    pub(crate) fn refund(&self, n: u32, now: Instant<HZ>) -> Status<HZ> {
        self.give_back(n);
        self.snapshot(now)
    }

    /// Makes the limiter full.
    pub(crate) fn reset(&self) {
        // Relaxed: a plain overwrite of the single state word; checks racing
        // with it see either side, as they would a check that came first.
        self.tat.store(0, Ordering::Relaxed);
    }

    /// Swaps the schedule, carrying over the units in use (rounded up, at most
    /// the new burst) so that a change of plan neither forgives nor invents usage.
    pub(crate) fn replace(&mut self, schedule: Schedule, now: Instant<HZ>) {
        let old = self.schedule;
        // Relaxed: `&mut self` excludes every other access.
        let tat = self.tat.load(Ordering::Relaxed);
        let (_, v_old) = old.virtual_now(now.as_ticks());
        let used = tat.saturating_sub(v_old).div_ceil(old.cost);
        let used = used.min(u64::from(schedule.burst));
        let (_, v_new) = schedule.virtual_now(now.as_ticks());
        // `used <= burst`, so `used * cost <= capacity` and `v_new + capacity` fits.
        let carried = v_new.saturating_add(used.saturating_mul(schedule.cost));
        self.schedule = schedule;
        // Relaxed: as above.
        self.tat.store(carried, Ordering::Relaxed);
    }

    fn status(&self, verdict: Verdict) -> Status<HZ> {
        let (remaining, reset_after) = match verdict {
            Verdict::Admit {
                remaining,
                reset_after,
                ..
            }
            | Verdict::Deny {
                remaining,
                reset_after,
                ..
            } => (remaining, reset_after),
            Verdict::TooLarge => (0, 0),
        };
        Status {
            limit: self.schedule.burst,
            remaining,
            reset_after: Duration::<HZ>::from_ticks(reset_after),
        }
    }

    fn decision(&self, verdict: Verdict, n: u32) -> Decision<HZ> {
        match verdict {
            Verdict::Admit { .. } => Ok(self.status(verdict)),
            Verdict::Deny {
                remaining,
                retry_after,
                reset_after,
            } => Err(Denied::RateLimited(RateLimited {
                limit: self.schedule.burst,
                remaining,
                retry_after: Duration::<HZ>::from_ticks(retry_after),
                reset_after: Duration::<HZ>::from_ticks(reset_after),
            })),
            Verdict::TooLarge => Err(Denied::ExceedsBurst(ExceedsBurst {
                requested: n,
                burst: self.schedule.burst,
            })),
        }
    }
}
