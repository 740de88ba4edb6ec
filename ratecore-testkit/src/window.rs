//! The window limiters (`FixedWindow`, `SlidingWindow`, `SlidingLog`)
//! through the kit: scripts of checks, peeks, refunds and clock moves
//! (forwards, backwards, huge jumps, near the horizon and `u64::MAX`), from
//! proptest strategies or fuzz bytes, and the one driver that runs a script
//! through a reference model and the limiters and checks every answer.

pub mod accuracy;
mod receipts;

pub use receipts::Op;

use ratecore::kernel::{Algorithm, WordLimiter};
use ratecore::{Decision, Denied, FixedWindow, Limiter, Refund, SlidingLog, SlidingWindow};

use crate::model::fixed_window::FixedWindowModel;
use crate::model::invariants::{exact_remaining, exact_reset, exact_retry, same_state};
use crate::model::sliding_log::SlidingLogModel;
use crate::model::sliding_window::SlidingWindowModel;
use crate::model::token_bucket::Refill;
use crate::model::trace::Config;
use crate::model::{Answer, Model, Status, answer};
use crate::{at, window_quota};

/// What a window model answered, in plain numbers (ticks for durations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Admitted {
        remaining: u32,
        reset_after: u64,
    },
    Limited {
        remaining: u32,
        retry_after: u64,
        reset_after: u64,
    },
    Never,
}

impl Outcome {
    /// The crate's decision in a window model's terms.
    pub fn of(decision: &Decision<1>) -> Self {
        match decision {
            Ok(s) => Outcome::Admitted {
                remaining: s.remaining(),
                reset_after: s.reset_after().as_ticks(),
            },
            Err(Denied::RateLimited(r)) => Outcome::Limited {
                remaining: r.remaining(),
                retry_after: r.retry_after().as_ticks(),
                reset_after: r.reset_after().as_ticks(),
            },
            Err(Denied::ExceedsBurst(e)) => {
                assert!(e.requested > e.burst);
                Outcome::Never
            }
            Err(other) => panic!("unexpected denial {other:?}"),
        }
    }

    /// The same answer as the kit's [`Answer`] for a check of `n` units.
    pub fn answer(self, limit: u32, n: u32) -> Answer {
        match self {
            Outcome::Admitted {
                remaining,
                reset_after,
            } => Answer::Admitted(status(limit, (remaining, reset_after))),
            Outcome::Limited {
                remaining,
                retry_after,
                reset_after,
            } => Answer::RateLimited {
                limit,
                remaining,
                retry_after: retry_after.into(),
                reset_after: reset_after.into(),
            },
            Outcome::Never => Answer::ExceedsBurst {
                requested: n,
                burst: limit,
            },
        }
    }
}

fn status(limit: u32, (remaining, reset_after): (u32, u64)) -> Status {
    Status {
        limit,
        remaining,
        reset_after: reset_after.into(),
    }
}

/// The window models are [`Model`]s: their answers in the kit's terms.
macro_rules! window_model {
    ($model:ty $(, refund $refund:ident)?) => {
        impl Model for $model {
            fn check(&mut self, n: u32, t: u64) -> Answer {
                <$model>::check(self, n, t).answer(self.limit, n)
            }
            fn snapshot(&self, t: u64) -> Status {
                status(self.limit, self.peek(t))
            }
            $(fn $refund(&mut self, n: u32, t: u64) -> Status {
                <$model>::refund(self, n, t);
                self.snapshot(t)
            })?
        }
    };
}

window_model!(FixedWindowModel, refund refund);
window_model!(SlidingWindowModel, refund refund);
window_model!(SlidingLogModel);

/// A `SlidingLog` is a [`Model`] on its own: its whole state is a value, so
/// the driver tries "what if" on clones, and a denial or a check of 0 units
/// must leave it equal.
impl<const N: usize> Model for SlidingLog<1, N> {
    fn check(&mut self, n: u32, t: u64) -> Answer {
        let before = self.clone();
        let decision = self.check_n_at(n, at(t));
        if decision.is_err() || n == 0 {
            assert!(*self == before, "a denial or a zero check changed the log");
        }
        answer(&decision)
    }
    fn snapshot(&self, t: u64) -> Status {
        crate::model::status(&self.snapshot_at(at(t)))
    }
}

/// Admitted checks: `(tick, units)`, for span bounds.
pub type History = Vec<(u64, u64)>;

/// Every check of a run: `(tick, units, answer)`. A charge that was undone
/// is listed with 0 units: its units were given back.
pub type Transcript = Vec<(u64, u32, Answer)>;

/// A limiter driven beside the model through `&self` (a receipt borrows it,
/// so the driver cannot hold it by `&mut` while one is out).
pub trait Shared {
    fn check(&self, n: u32, t: u64) -> Answer;
    fn snapshot(&self, t: u64) -> Status;
    fn refund(&self, n: u32, t: u64) -> Status;
}

impl<L: Limiter<1> + Refund<1>> Shared for L {
    fn check(&self, n: u32, t: u64) -> Answer {
        answer(&self.check_n_at(n, at(t)))
    }
    fn snapshot(&self, t: u64) -> Status {
        crate::model::status(&self.snapshot_at(at(t)))
    }
    fn refund(&self, n: u32, t: u64) -> Status {
        crate::model::status(&self.refund_n_at(n, at(t)))
    }
}

/// Checks the answer `got` of every limiter to a check of `n` units at
/// `now` against the model's, and the subject's answer against the
/// invariants:
///
/// - every answer equals the model's;
/// - `remaining = k`: exactly `k` more single units pass then;
/// - `retry_after`: the same check passes then, not a tick before;
/// - `reset_after`: full then, not a tick before;
/// - a denial, and a check of 0 units, change nothing.
fn checked<S: Model + Clone>(
    cfg: &Config,
    (n, now): (u32, u64),
    model: &mut dyn Model,
    subject: &mut S,
    got: &[Answer],
    transcript: &mut Transcript,
) {
    let before = subject.clone();
    let want = model.check(n, now);
    let answer = subject.check(n, now);
    assert_eq!(answer, want, "check {n} at {now}");
    for other in got {
        assert_eq!(*other, want, "check {n} at {now}");
    }
    transcript.push((now, n, answer));
    match answer {
        Answer::Admitted(s) => {
            exact_remaining(subject, now, s.remaining, "admitted");
            exact_reset(subject, now, s.reset_after, cfg);
            if n == 0 {
                same_state(&before, subject, now, cfg);
            }
        }
        Answer::RateLimited {
            remaining,
            retry_after,
            reset_after,
            ..
        } => {
            assert!(retry_after >= 1, "retry_after 0");
            assert!(n > 0, "a check of 0 units was denied at {now}");
            same_state(&before, subject, now, cfg);
            exact_remaining(&before, now, remaining, "denied");
            if retry_after < u128::from(u64::MAX) {
                exact_retry(&before, n, now, retry_after, cfg);
            }
            exact_reset(&before, now, reset_after, cfg);
        }
        Answer::ExceedsBurst { .. } => same_state(&before, subject, now, cfg),
        Answer::Unknown => panic!("unknown refusal of {n} at {now}"),
    }
}

/// Runs one step through `model`, `subject` and `others`, checking every
/// answer (see [`drive`]); moves `now`.
fn step<S: Model + Clone>(
    cfg: &Config,
    step: Step,
    now: &mut u64,
    (model, subject): (&mut dyn Model, &mut S),
    others: &[&dyn Shared],
    transcript: &mut Transcript,
) {
    let t = *now;
    match step {
        Step::Check(n) => {
            let got: Vec<Answer> = others.iter().map(|o| o.check(n, t)).collect();
            checked(cfg, (n, t), model, subject, &got, transcript);
        }
        Step::Peek => {
            let want = model.snapshot(t);
            assert_eq!(subject.snapshot(t), want, "peek at {t}");
            assert_eq!(want.limit, cfg.burst);
        }
        Step::Refund(n) => {
            let want = model.refund(n, t);
            assert_eq!(subject.refund(n, t), want, "refund {n} at {t}");
            for other in others {
                assert_eq!(other.refund(n, t), want, "refund {n} at {t}");
            }
        }
        Step::Move(m) => *now = m.apply(t, cfg.horizon),
    }
    agree(cfg, *now, subject, others);
}

/// The limiters agree on the state, wherever one looks.
fn agree<S: Model>(cfg: &Config, now: u64, subject: &S, others: &[&dyn Shared]) {
    for t in [now, now.saturating_add(cfg.unit()), now.saturating_sub(1)] {
        for other in others {
            assert_eq!(other.snapshot(t), subject.snapshot(t), "state at {t}");
        }
    }
}

/// Runs `script` through `model` (the reference), `subject` (a clonable
/// limiter: a state word through its `Algorithm`, or a log) and `others`
/// (more limiters, e.g. the same algorithm on its atomic word), and checks at
/// every step:
///
/// - every answer and status equals the model's;
/// - `remaining = k`: exactly `k` more single units pass then;
/// - `retry_after`: the same check passes then, not a tick before;
/// - `reset_after`: full then, not a tick before;
/// - a denial changes nothing;
/// - all the limiters agree on the state, seen from several instants.
///
/// Returns every check and its answer.
pub fn drive<S: Model + Clone>(
    cfg: &Config,
    script: &[Step],
    model: &mut dyn Model,
    subject: &mut S,
    others: &[&dyn Shared],
) -> Transcript {
    let mut transcript = Transcript::new();
    let mut now = 0u64;
    for &s in script {
        step(cfg, s, &mut now, (model, subject), others, &mut transcript);
    }
    transcript
}

fn config(limit: u32, width: u64, horizon: u64) -> Config {
    Config {
        burst: limit,
        horizon,
        rate: Refill::Interval {
            period: width,
            count: limit,
        },
    }
}

/// A window limiter on the kernel: how to build it fresh and its model.
struct Window<A, M> {
    limiter: WordLimiter<A>,
    /// The same configuration, for the plain state word (the kernel rules
    /// held at every check).
    twin: WordLimiter<A>,
    /// The model's constructor: `(limit, width, epoch, horizon)`.
    model: fn(u32, u64, u64, u64) -> M,
    limit: u32,
    width: u64,
    epoch: u64,
}

/// The horizon of a window limiter, in ticks.
trait Horizon {
    fn horizon_ticks(&self) -> u64;
}

macro_rules! horizon {
    ($($limiter:ident),*) => {$(
        impl Horizon for $limiter<1> {
            fn horizon_ticks(&self) -> u64 {
                self.horizon().as_ticks()
            }
        }
    )*};
}

horizon!(FixedWindow, SlidingWindow);

/// Every window limiter of the kernel runs the same: through its
/// `Algorithm` on a plain state word and through its own atomic word,
/// against its model, with receipts (see [`receipts::run`]).
fn run_window<A: Algorithm<1>, M: Model + Clone>(w: Window<A, M>, ops: &[Op]) -> Transcript
where
    WordLimiter<A>: Horizon,
{
    let Window {
        limiter,
        twin,
        model,
        limit,
        width,
        epoch,
    } = w;
    let horizon = limiter.horizon_ticks();
    let cfg = config(limit, width, horizon);
    receipts::run(
        limiter,
        &twin,
        &cfg,
        || model(limit, width, epoch, horizon),
        ops,
    )
}

/// `FixedWindow<1>` of `limit` units per `width` ticks, boundaries at
/// `epoch`, against its model, for a script of plain steps.
pub fn fixed(limit: u32, width: u64, epoch: u64, script: &[Step]) -> Transcript {
    fixed_ops(limit, width, epoch, &Op::steps(script))
}

/// `SlidingWindow<1>` of `limit` units per `width` ticks, boundaries at
/// `epoch`, against its model, for a script of plain steps.
pub fn sliding(limit: u32, width: u64, epoch: u64, script: &[Step]) -> Transcript {
    sliding_ops(limit, width, epoch, &Op::steps(script))
}

/// [`fixed`] for a script with charges, undos and resets; also, for a
/// script without refunds, at most `limit` units per window, each counted in
/// the window it was charged to (its own, or the latest one charged for a
/// stale instant), net of what undos gave back.
pub fn fixed_ops(limit: u32, width: u64, epoch: u64, ops: &[Op]) -> Transcript {
    let make = || FixedWindow::<1>::with_epoch(window_quota(limit, width), at(epoch)).unwrap();
    let window = Window {
        limiter: make(),
        twin: make(),
        model: FixedWindowModel::new,
        limit,
        width,
        epoch,
    };
    let horizon = window.limiter.horizon_ticks();
    let grid = FixedWindowModel::new(limit, width, epoch, horizon);
    let transcript = run_window(window, ops);
    if !ops.iter().any(Op::refunds) {
        receipts::per_window(&grid, horizon, ops, &transcript);
    }
    transcript
}

/// [`sliding`] for a script with charges, undos and resets.
pub fn sliding_ops(limit: u32, width: u64, epoch: u64, ops: &[Op]) -> Transcript {
    let make = || SlidingWindow::<1>::with_epoch(window_quota(limit, width), at(epoch)).unwrap();
    run_window(
        Window {
            limiter: make(),
            twin: make(),
            model: SlidingWindowModel::new,
            limit,
            width,
            epoch,
        },
        ops,
    )
}

/// `SlidingLog<1, N>` of `limit` units per `width` ticks against its model;
/// also exact both ways: a check of `n <= limit` is admitted iff the trailing
/// `width` ticks hold at most `limit - n` units. Returns the admitted checks
/// at the instants they were counted (a stale one at the latest so far).
pub fn log<const N: usize>(limit: u32, width: u64, script: &[Step]) -> History {
    let mut log = SlidingLog::<1, N>::new(window_quota(limit, width)).unwrap();
    let mut model = SlidingLogModel::new(limit, width);
    let cfg = config(limit, width, u64::MAX - width);
    let transcript = drive(&cfg, script, &mut model, &mut log, &[]);
    let mut admitted: History = Vec::new();
    for &(now, n, answer) in &transcript {
        let t = admitted.iter().map(|e| e.0).fold(now, u64::max);
        let trailing: u64 = admitted
            .iter()
            .filter(|&&(a, _)| u128::from(a) + u128::from(width) > u128::from(t))
            .map(|e| e.1)
            .sum();
        if n <= limit {
            assert_eq!(
                answer.is_admitted(),
                trailing + u64::from(n) <= u64::from(limit),
                "check {n} at {now}: {trailing} units in the trailing window"
            );
        }
        if answer.is_admitted() && n > 0 {
            admitted.push((t, n.into()));
        }
    }
    admitted
}

/// The admitted checks of a transcript: `(tick, units)`.
pub fn admitted(transcript: &Transcript) -> History {
    transcript
        .iter()
        .filter(|(_, n, a)| *n > 0 && a.is_admitted())
        .map(|&(t, n, _)| (t, n.into()))
        .collect()
}

/// The most units in any half-open span of `width` ticks of a history.
pub fn densest_span(history: &[(u64, u64)], width: u64) -> u64 {
    history
        .iter()
        .map(|&(start, _)| {
            let end = u128::from(start) + u128::from(width);
            history
                .iter()
                .filter(|&&(t, _)| t >= start && u128::from(t) < end)
                .map(|e| e.1)
                .sum()
        })
        .max()
        .unwrap_or(0)
}

/// Shapes fuzz input into a window limiter's configuration: mostly small
/// limits and widths, so limits are reached; the top bits select larger ones.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Shape {
    pub limit: u32,
    pub width: u64,
    pub epoch: u64,
}

impl Shape {
    /// The limit, at most `max`.
    pub fn limit(&self, max: u32) -> u32 {
        let limit = match self.limit >> 30 {
            3 => self.limit,
            2 => self.limit % 5_000 + 1,
            _ => self.limit % 8 + 1,
        };
        limit.min(max)
    }

    /// The window, in ticks.
    pub fn width(&self) -> u64 {
        match self.width >> 62 {
            3 => self.width,
            2 => (self.width % (1 << 40)).max(1),
            _ => self.width % 16 + 1,
        }
    }
}

/// One step of a property test.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Step {
    /// Check `n` units now.
    Check(u32),
    /// Look without changing anything.
    Peek,
    /// Give `n` units back (where the limiter supports it).
    Refund(u32),
    /// Move the clock.
    Move(Move),
}

/// How the clock moves.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Move {
    Forward(u64),
    Back(u64),
    /// To this instant.
    To(u64),
    /// To the limiter's horizon plus this offset (saturating).
    NearHorizon(i64),
}

impl Move {
    pub fn apply(self, now: u64, horizon: u64) -> u64 {
        match self {
            Move::Forward(d) => now.saturating_add(d),
            Move::Back(d) => now.saturating_sub(d),
            Move::To(t) => t,
            Move::NearHorizon(off) => horizon.saturating_add_signed(off),
        }
    }
}

#[cfg(feature = "proptest")]
mod strategies {
    use proptest::prelude::*;

    use super::{Move, Step};

    /// Clock moves: mostly within a few windows, sometimes anywhere.
    pub fn moves(width: u64) -> impl Strategy<Value = Move> {
        let w = width.max(1);
        prop_oneof![
            8 => (0..=w.saturating_mul(2)).prop_map(Move::Forward),
            2 => (0..=w / 2 + 1).prop_map(Move::Forward),
            2 => (0..=w.saturating_mul(2)).prop_map(Move::Back),
            1 => any::<u64>().prop_map(Move::Forward),
            1 => any::<u64>().prop_map(Move::To),
            1 => (0..=w.saturating_mul(3)).prop_map(|d| Move::To(u64::MAX - d)),
            1 => (-(w.saturating_mul(3).min(1 << 40) as i64)..=(w.saturating_mul(3).min(1 << 40) as i64))
                .prop_map(Move::NearHorizon),
        ]
    }

    /// Unit counts around the limit: zero, small, exactly at and above it, huge.
    pub fn units(limit: u32) -> impl Strategy<Value = u32> {
        prop_oneof![
            6 => 1..=limit.min(3),
            3 => 0..=limit.saturating_add(1),
            1 => Just(limit),
            1 => any::<u32>(),
        ]
    }

    pub fn steps(limit: u32, width: u64, refunds: bool) -> impl Strategy<Value = Vec<Step>> {
        let refund_weight = if refunds { 1 } else { 0 };
        let step = prop_oneof![
            8 => units(limit).prop_map(Step::Check),
            2 => Just(Step::Peek),
            refund_weight => units(limit).prop_map(Step::Refund),
            6 => moves(width).prop_map(Step::Move),
        ];
        proptest::collection::vec(step, 1..80)
    }

    /// Limits: small (saturated quickly), medium, and up to `max`.
    pub fn limits(max: u32) -> impl Strategy<Value = u32> {
        prop_oneof![
            4 => 1..=5u32,
            2 => 6..=300u32.min(max),
            1 => (max / 2).max(1)..=max,
            1 => Just(max),
        ]
    }

    /// Window lengths in ticks: tiny, small, and huge.
    pub fn widths() -> impl Strategy<Value = u64> {
        prop_oneof![
            4 => 1..=12u64,
            2 => 13..=10_000u64,
            1 => any::<u64>().prop_map(|w| w.max(1)),
            1 => Just(u64::MAX),
        ]
    }

    /// `(limit, width, script)`: a limit and a width from these strategies,
    /// and a script of [`steps`] for them.
    pub fn shaped(
        limits: impl Strategy<Value = u32>,
        widths: impl Strategy<Value = u64>,
        refunds: bool,
    ) -> impl Strategy<Value = (u32, u64, Vec<Step>)> {
        (limits, widths).prop_flat_map(move |(l, w)| (Just(l), Just(w), steps(l, w, refunds)))
    }

    /// A script for any width, with limits up to 8 in mind (a model check's:
    /// the script's width need not be the limiter's).
    pub fn scripts() -> impl Strategy<Value = Vec<Step>> {
        widths().prop_flat_map(|w| steps(8, w, true))
    }

    /// Small shapes (a limit up to 4, a width up to 6 ticks) and a script
    /// with refunds: every corner within a few windows.
    pub fn small() -> impl Strategy<Value = (u32, u64, Vec<Step>)> {
        shaped(1..=4u32, 1..=6u64, true)
    }

    /// Epochs: tick 0, or anywhere.
    pub fn epochs() -> impl Strategy<Value = u64> {
        prop_oneof![Just(0u64), any::<u64>(), 0..=100u64]
    }
}
#[cfg(feature = "proptest")]
pub use strategies::*;
