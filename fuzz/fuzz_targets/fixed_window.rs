//! `FixedWindow` against its reference model: random checks, peeks, refunds
//! and clock moves (forwards, backwards, huge jumps, around the horizon).

#![no_main]

#[path = "../../tests/model/fixed_window.rs"]
mod model;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use model::{FixedWindowModel, Outcome};
use ratecore::{
    Decision, Denied, Duration, FixedWindow, Instant, Limiter, Quota, Refund, kernel::Algorithm,
};

#[derive(Arbitrary, Debug)]
struct Input {
    limit: u32,
    width: u64,
    epoch: u64,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    Check(u32),
    Peek,
    Refund(u32),
    Forward(u16),
    Back(u16),
    Leap(u64),
    To(u64),
    NearHorizon(i16),
}

fn outcome(decision: Decision<1>) -> Outcome {
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
        Err(Denied::ExceedsBurst(_)) => Outcome::Never,
        Err(other) => panic!("unexpected denial {other:?}"),
    }
}

fuzz_target!(|input: Input| {
    // Mostly small limits and windows, so that limits are reached; the top
    // bits select larger ones.
    let limit = match input.limit >> 30 {
        3 => input.limit,
        2 => input.limit % 5_000 + 1,
        _ => input.limit % 8 + 1,
    };
    let width = match input.width >> 62 {
        3 => input.width,
        2 => (input.width % (1 << 40)).max(1),
        _ => input.width % 16 + 1,
    };
    let quota = Quota::with_period(limit, Duration::<1>::from_ticks(width));
    let fw = FixedWindow::<1>::with_epoch(quota, Instant::<1>::from_ticks(input.epoch)).unwrap();
    let horizon = fw.horizon().as_ticks();
    let mut model = FixedWindowModel::new(limit, width, input.epoch, horizon);
    let mut word = 0;
    let mut now = 0u64;
    for op in input.ops.into_iter().take(256) {
        let t = Instant::<1>::from_ticks(now);
        match op {
            Op::Check(n) => {
                let n = if n >> 31 == 1 {
                    n
                } else {
                    n % (limit.saturating_add(2))
                };
                let decision = fw.check_n_at(n, t);
                assert_eq!(outcome(decision), model.check(n, now), "check {n} at {now}");
                let (pure, next) = fw.decide(word, n, t).split();
                assert_eq!(pure, decision);
                assert!(next.is_none() || (pure.is_ok() && n > 0));
                word = next.unwrap_or(word);
            }
            Op::Peek => {
                let s = fw.snapshot_at(t);
                assert_eq!((s.remaining(), s.reset_after().as_ticks()), model.peek(now));
            }
            Op::Refund(n) => {
                let n = n % (limit.saturating_add(2));
                let s = fw.refund_n_at(n, t);
                model.refund(n, now);
                word = fw.refund(word, n, t);
                assert_eq!((s.remaining(), s.reset_after().as_ticks()), model.peek(now));
            }
            Op::Forward(d) => now = now.saturating_add(u64::from(d)),
            Op::Back(d) => now = now.saturating_sub(u64::from(d)),
            Op::Leap(d) => now = now.saturating_add(d),
            Op::To(to) => now = to,
            Op::NearHorizon(off) => now = horizon.saturating_add_signed(i64::from(off)),
        }
        assert_eq!(
            fw.snapshot_at(Instant::<1>::from_ticks(now)),
            fw.status(word, Instant::<1>::from_ticks(now))
        );
    }
});
