//! Scripts with receipts: the window limiters' `charge_n_at` and `undo`
//! (`ratecore::kernel::Charge`) and `reset`, interleaved with the plain
//! steps, against the models.
//!
//! A receipt borrows its limiter and `reset` takes it by `&mut`, so a run of
//! operations between two resets shares the limiter; a reset drops the
//! receipts still out (their units stay used) and starts the model afresh.

use std::collections::BTreeMap;

use ratecore::kernel::{Algorithm, Charge, Receipt, WordLimiter};

use super::{Shared, Step, Transcript, agree, checked, step};
use crate::at;
use crate::model::fixed_window::FixedWindowModel;
use crate::model::trace::Config;
use crate::model::{Answer, Model, Subject, answer};

/// One operation of a script with receipts.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Op {
    /// A plain step: check, peek, refund, clock move.
    Step(Step),
    /// `charge_n_at(n)`: a check whose receipt is kept for an undo.
    Charge(u32),
    /// `undo` the live receipt at this index (modulo their number).
    Undo(u8),
    /// Drop the receipts still out (their units stay used), then `reset`.
    Reset,
}

impl Op {
    /// A script of plain steps.
    pub fn steps(script: &[Step]) -> Vec<Op> {
        script.iter().copied().map(Op::Step).collect()
    }

    /// Whether it gives units back outside an undo.
    pub fn refunds(&self) -> bool {
        matches!(self, Op::Step(Step::Refund(_)))
    }
}

/// A receipt still out, and what the reference knew when it was issued.
struct Pending<'a, M, S> {
    receipt: Receipt<'a>,
    /// The model and the plain word before the charge.
    model: M,
    subject: S,
    /// The plain word the charge stored.
    after: u64,
    /// The charge's line in the transcript.
    line: usize,
}

/// Runs `ops` through the model (`fresh` makes it), the plain state word of
/// `twin`'s configuration and `limiter`'s own word: every answer equals the
/// model's (see [`super::drive`]), and an undo
///
/// - restores the state before its charge exactly while the word is the one
///   the charge stored (the model goes back to its state then), and
///   otherwise changes nothing and says so: it never gives back units that
///   other checks took.
pub(super) fn run<A: Algorithm<1>, M: Model + Clone>(
    mut limiter: WordLimiter<A>,
    twin: &WordLimiter<A>,
    cfg: &Config,
    fresh: impl Fn() -> M,
    ops: &[Op],
) -> Transcript {
    let mut model = fresh();
    let mut subject = Subject::fresh(twin);
    let mut transcript = Transcript::new();
    let mut now = 0u64;
    let mut runs = ops.split(|op| matches!(op, Op::Reset)).peekable();
    while let Some(ops) = runs.next() {
        let shared = &limiter;
        let mut out: Vec<Pending<'_, M, _>> = Vec::new();
        for &op in ops {
            match op {
                Op::Step(s) => step(
                    cfg,
                    s,
                    &mut now,
                    (&mut model, &mut subject),
                    &[shared],
                    &mut transcript,
                ),
                Op::Charge(n) => {
                    let (model_before, subject_before) = (model.clone(), subject.clone());
                    let charged = shared.charge_n_at(n, at(now));
                    let receipt = charged.as_ref().ok().map(|&(_, r)| r);
                    let got = answer(&charged.map(|(s, _)| s));
                    checked(
                        cfg,
                        (n, now),
                        &mut model,
                        &mut subject,
                        &[got],
                        &mut transcript,
                    );
                    if let Some(receipt) = receipt {
                        assert_eq!(receipt.units(), n, "a receipt for other units");
                        out.push(Pending {
                            receipt,
                            model: model_before,
                            subject: subject_before,
                            after: subject.state(),
                            line: transcript.len() - 1,
                        });
                    }
                    agree(cfg, now, &subject, &[shared]);
                }
                Op::Undo(i) if !out.is_empty() => {
                    let pending = out.remove(usize::from(i) % out.len());
                    let want = pending.receipt.units() == 0 || subject.state() == pending.after;
                    let (n, charged_at) = (pending.receipt.units(), pending.receipt.at());
                    let probes = [
                        now,
                        charged_at,
                        now.saturating_add(cfg.unit()),
                        now.saturating_sub(1),
                        cfg.horizon,
                    ];
                    let before = probes.map(|t| Shared::snapshot(shared, t));
                    let undone = shared.undo(pending.receipt);
                    assert_eq!(undone, want, "undo of {n} units charged at {charged_at}");
                    if undone && n > 0 {
                        (model, subject) = (pending.model, pending.subject);
                        transcript[pending.line].1 = 0;
                    }
                    for (t, was) in probes.into_iter().zip(before) {
                        let is = Shared::snapshot(shared, t);
                        // Undone: as before the charge, wherever one looks
                        // (the plain word went back with the model); not
                        // undone: as it was.
                        let want = if undone { subject.snapshot(t) } else { was };
                        assert_eq!(is, want, "after an undo of {n} at {now}, at {t}");
                        assert_eq!(model.snapshot(t), is, "after an undo, at {t}");
                    }
                    agree(cfg, now, &subject, &[shared]);
                }
                Op::Undo(_) | Op::Reset => {}
            }
        }
        drop(out);
        if runs.peek().is_some() {
            limiter.reset();
            model = fresh();
            subject = Subject::fresh(twin);
        }
    }
    transcript
}

/// At most `limit` units per fixed window, each admitted check counted in
/// the window it was charged to (its own, or the latest one charged for a
/// stale instant; instants after the `horizon` count as it), between
/// resets; `transcript` is `ops`' (an undone charge has 0 units), without
/// refunds.
pub(super) fn per_window(
    grid: &FixedWindowModel,
    horizon: u64,
    ops: &[Op],
    transcript: &Transcript,
) {
    let mut lines = transcript.iter();
    let mut per_window = BTreeMap::<u64, u64>::new();
    let mut latest = 0u64;
    let tally = |per_window: &mut BTreeMap<u64, u64>| {
        for (window, units) in std::mem::take(per_window) {
            assert!(
                units <= u64::from(grid.limit),
                "window {window} admitted {units} units, more than {}",
                grid.limit
            );
        }
    };
    for op in ops {
        match op {
            Op::Step(Step::Check(_)) | Op::Charge(_) => {
                let &(now, n, answer) = lines.next().expect("a line per check");
                if n > 0 && matches!(answer, Answer::Admitted(_)) {
                    latest = grid.index(now.min(horizon)).max(latest);
                    *per_window.entry(latest).or_default() += u64::from(n);
                }
            }
            Op::Reset => {
                tally(&mut per_window);
                latest = 0;
            }
            _ => {}
        }
    }
    tally(&mut per_window);
}
