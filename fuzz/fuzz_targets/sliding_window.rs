//! `SlidingWindow` against its reference model: random checks, peeks, refunds
//! and clock moves (forwards, backwards, huge jumps, around the horizon).

#![no_main]

#[path = "../../tests/model/sliding_window.rs"]
mod model;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use model::{Outcome, SlidingWindowModel};
use ratecore::{
    Decision, Denied, Duration, Instant, Limiter, Quota, Refund, SlidingWindow, kernel::Algorithm,
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
    let max =
        SlidingWindow::<1>::max_limit(Quota::with_period(1, Duration::<1>::from_ticks(width)))
            .unwrap();
    let limit = limit.min(max);
    let quota = Quota::with_period(limit, Duration::<1>::from_ticks(width));
    let sw = SlidingWindow::<1>::with_epoch(quota, Instant::<1>::from_ticks(input.epoch)).unwrap();
    let horizon = sw.horizon().as_ticks();
    let mut model = SlidingWindowModel::new(limit, width, input.epoch, horizon);
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
                let decision = sw.check_n_at(n, t);
                assert_eq!(outcome(decision), model.check(n, now), "check {n} at {now}");
                let (pure, next) = sw.decide(word, n, t).split();
                assert_eq!(pure, decision);
                assert!(next.is_none() || (pure.is_ok() && n > 0));
                word = next.unwrap_or(word);
            }
            Op::Peek => {
                let s = sw.snapshot_at(t);
                assert_eq!((s.remaining(), s.reset_after().as_ticks()), model.peek(now));
            }
            Op::Refund(n) => {
                let n = n % (limit.saturating_add(2));
                let s = sw.refund_n_at(n, t);
                model.refund(n, now);
                word = sw.refund(word, n, t);
                assert_eq!((s.remaining(), s.reset_after().as_ticks()), model.peek(now));
            }
            Op::Forward(d) => now = now.saturating_add(u64::from(d)),
            Op::Back(d) => now = now.saturating_sub(u64::from(d)),
            Op::Leap(d) => now = now.saturating_add(d),
            Op::To(to) => now = to,
            Op::NearHorizon(off) => now = horizon.saturating_add_signed(i64::from(off)),
        }
        assert_eq!(
            sw.snapshot_at(Instant::<1>::from_ticks(now)),
            sw.status(word, Instant::<1>::from_ticks(now))
        );
    }
});
