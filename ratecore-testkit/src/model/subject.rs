//! Everything a trace can drive: the crate's limiters, a state word driven
//! through the `Algorithm` trait, and the models.

use ratecore::kernel::{Algorithm, WordLimiter};
use ratecore::{Limiter, Refund};

use crate::at;
use crate::rules;

use super::gcra::Gcra as GcraModel;
use super::token_bucket::TokenBucket as BucketModel;
use super::trace::Action;
use super::{Answer, Status, answer, status};

/// Anything that can be driven by a trace: a limiter, a state word, a
/// reference model. `check` and `snapshot` are what every limiter has; the
/// rest is what some support (a trace for a limiter without them never asks:
/// see the trace's capabilities).
pub trait Model {
    /// Checks `n` units at tick `t`.
    fn check(&mut self, n: u32, t: u64) -> Answer;
    /// The state at `t`, changing nothing.
    fn snapshot(&self, t: u64) -> Status;
    /// Gives `n` units back at `t`; the state after it.
    fn refund(&mut self, n: u32, t: u64) -> Status {
        let _ = (n, t);
        unimplemented!("this model has no refunds")
    }
    /// `add_tokens(n)`: a refund at tick 0.
    fn add_tokens(&mut self, n: u32) {
        let _ = self.refund(n, 0);
    }
    /// Units available at `t`: the snapshot's `remaining`.
    fn available(&self, t: u64) -> u32 {
        self.snapshot(t).remaining
    }
    /// Books `n` units at `t` if they fit within `max_wait`; the units are
    /// used at the returned ready instant. A refusal is a check's denial.
    fn reserve(&mut self, n: u32, t: u64, max_wait: u64) -> Result<u64, Answer> {
        let _ = (n, t, max_wait);
        unimplemented!("this model has no reservations")
    }
    /// Full again, as if idle forever.
    fn reset(&mut self) {
        unimplemented!("this model has no reset")
    }
}

/// A reservation as a model makes it: a check at `t`, or, if it is denied
/// with a wait of at most `max_wait`, the same check at `t + retry_after`
/// (the first instant it is admitted at). Waits are `Duration`s, saturated
/// at `u64::MAX` ticks; a check that is not admitted at that instant (past
/// the horizon, where waits are not exact) is a refusal.
fn reserve_by_checks(s: &mut dyn Model, n: u32, t: u64, max_wait: u64) -> Result<u64, Answer> {
    match s.check(n, t) {
        Answer::Admitted(_) => Ok(t),
        denied @ Answer::RateLimited { retry_after, .. } => {
            let wait = u64::try_from(retry_after).unwrap_or(u64::MAX);
            if wait > max_wait {
                return Err(denied);
            }
            let ready = t.saturating_add(wait);
            let mut trial = s.check(n, ready);
            if trial.is_admitted() {
                return Ok(ready);
            }
            // Denied again: nothing changed; report the first denial.
            trial = denied;
            Err(trial)
        }
        other => Err(other),
    }
}

fn decided<const HZ: u64, A>(
    booked: Result<ratecore::kernel::Reservation<'_, HZ, A>, ratecore::Denied<HZ>>,
) -> Result<u64, Answer>
where
    A: Algorithm<HZ>,
{
    // The reservation is dropped: its units stay counted, used at `ready`.
    booked
        .map(|r| r.ready_at().as_ticks())
        .map_err(|denied| answer(&Err(denied)))
}

/// What an action returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Answer(Answer),
    Status(Status),
    Tokens(u32),
    /// A reservation's ready instant.
    Ready(u64),
    Nothing,
}

pub fn apply(subject: &mut dyn Model, action: Action) -> Outcome {
    match action {
        Action::Check(n, t) => Outcome::Answer(subject.check(n, t)),
        Action::Peek(t) => Outcome::Status(subject.snapshot(t)),
        Action::Refund(n, t) => Outcome::Status(subject.refund(n, t)),
        Action::AddTokens(n) => {
            subject.add_tokens(n);
            Outcome::Nothing
        }
        Action::Available(t) => Outcome::Tokens(subject.available(t)),
        Action::Reserve(n, max_wait, t) => match subject.reserve(n, t, max_wait) {
            Ok(ready) => Outcome::Ready(ready),
            Err(denied) => Outcome::Answer(denied),
        },
        Action::Reset => {
            subject.reset();
            Outcome::Nothing
        }
        Action::Moved => Outcome::Nothing,
    }
}

/// Every limiter built on the kernel (`Gcra`, `PackedGcra`, `TokenBucket`, the windows, an
/// outside algorithm) is driven the same way: through its `Limiter`, `Refund`
/// and reservation methods, on its own atomic word.
macro_rules! limiter_model {
    ($($limiter:ident),*) => {$(
impl<const HZ: u64> Model for ratecore::$limiter<HZ> {
    fn check(&mut self, n: u32, t: u64) -> Answer {
        answer(&self.check_n_at(n, at(t)))
    }
    fn snapshot(&self, t: u64) -> Status {
        status(&self.snapshot_at(at(t)))
    }
    fn refund(&mut self, n: u32, t: u64) -> Status {
        status(&self.refund_n_at(n, at(t)))
    }
    /// `add_tokens` is a refund at tick 0 (`TokenBucket::add_tokens` says so;
    /// `Gcra` has none, and the same thing is that refund).
    fn add_tokens(&mut self, n: u32) {
        let _ = self.refund_n_at(n, at(0));
    }
    fn reserve(&mut self, n: u32, t: u64, max_wait: u64) -> Result<u64, Answer> {
        decided(self.reserve_n_at(n, at(t), ratecore::Duration::<HZ>::from_ticks(max_wait)))
    }
    fn reset(&mut self) {
        WordLimiter::reset(self);
    }
}
    )*};
}

limiter_model!(Gcra, PackedGcra, TokenBucket, FixedWindow, SlidingWindow);

/// A state word driven through the `Algorithm` trait: a limiter whose whole
/// state can be copied, so invariants can try "what if" on a clone.
pub struct Subject<'a, A, const HZ: u64> {
    alg: &'a A,
    state: u64,
}

impl<'a, A: Algorithm<HZ>, const HZ: u64> Subject<'a, A, HZ> {
    /// The state word 0: fresh (checked by [`rules::fresh`]).
    pub fn fresh(alg: &'a A) -> Self {
        rules::fresh(alg, at(0));
        Self { alg, state: 0 }
    }

    /// The state word as it is now.
    pub fn state(&self) -> u64 {
        self.state
    }
}

impl<A, const HZ: u64> Clone for Subject<'_, A, HZ> {
    fn clone(&self) -> Self {
        Self {
            alg: self.alg,
            state: self.state,
        }
    }
}

impl<A: Algorithm<HZ>, const HZ: u64> Model for Subject<'_, A, HZ> {
    /// Every check through the adapter is also held to the kernel's rules
    /// (see [`rules::step`]).
    fn check(&mut self, n: u32, t: u64) -> Answer {
        rules::step(self.alg, self.state, n, at(t));
        let (decision, next) = self.alg.decide(self.state, n, at(t)).split();
        if let Some(state) = next {
            self.state = state;
        }
        answer(&decision)
    }
    fn snapshot(&self, t: u64) -> Status {
        status(&self.alg.status(self.state, at(t)))
    }
    fn refund(&mut self, n: u32, t: u64) -> Status {
        self.state = self.alg.refund(self.state, n, at(t));
        self.snapshot(t)
    }
    fn reserve(&mut self, n: u32, t: u64, max_wait: u64) -> Result<u64, Answer> {
        let wait = ratecore::Duration::<HZ>::from_ticks(max_wait);
        let (booked, next) = self.alg.reserve(self.state, n, at(t), wait).split();
        if let Some(state) = next {
            self.state = state;
        }
        booked
            .map(|ready| ready.as_ticks())
            .map_err(|denied| answer(&Err(denied)))
    }
    fn reset(&mut self) {
        self.state = 0;
    }
}

/// `Model` for a reference model whose inherent `check`, `snapshot`,
/// `refund` and `reset` are the trait's, with reservations made of checks;
/// any further trait methods (`add_tokens`, `available`) are written out.
macro_rules! reference_model {
    ($model:ident { $($extra:item)* }) => {
        impl Model for $model {
            fn check(&mut self, n: u32, t: u64) -> Answer {
                $model::check(self, n, t)
            }
            fn snapshot(&self, t: u64) -> Status {
                $model::snapshot(self, t)
            }
            fn refund(&mut self, n: u32, t: u64) -> Status {
                $model::refund(self, n, t)
            }
            fn reserve(&mut self, n: u32, t: u64, max_wait: u64) -> Result<u64, Answer> {
                reserve_by_checks(self, n, t, max_wait)
            }
            fn reset(&mut self) {
                $model::reset(self);
            }
            $($extra)*
        }
    };
}

reference_model!(GcraModel {});
reference_model!(BucketModel {
    fn add_tokens(&mut self, n: u32) {
        BucketModel::add_tokens(self, n);
    }
    fn available(&self, t: u64) -> u32 {
        BucketModel::available(self, t)
    }
});
