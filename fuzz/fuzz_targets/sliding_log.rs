//! `SlidingLog` against its reference model: random checks, peeks and clock
//! moves (forwards, backwards, huge jumps, near the end of the tick line).

#![no_main]

#[path = "../../tests/model/sliding_log.rs"]
mod model;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use model::{Outcome, SlidingLogModel};
use ratecore::{Decision, Denied, Duration, Instant, Quota, SlidingLog};

const N: usize = 16;

#[derive(Arbitrary, Debug)]
struct Input {
    limit: u8,
    width: u64,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    Check(u32),
    Peek,
    Forward(u16),
    Back(u16),
    Leap(u64),
    To(u64),
    NearEnd(u16),
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
    let limit = u32::from(input.limit) % N as u32 + 1;
    let width = match input.width >> 62 {
        3 => input.width,
        2 => (input.width % (1 << 40)).max(1),
        _ => input.width % 16 + 1,
    };
    let quota = Quota::with_period(limit, Duration::<1>::from_ticks(width));
    let mut log = SlidingLog::<1, N>::new(quota).unwrap();
    let mut model = SlidingLogModel::new(limit, width);
    let mut now = 0u64;
    for op in input.ops.into_iter().take(200) {
        let t = Instant::<1>::from_ticks(now);
        match op {
            Op::Check(n) => {
                let n = if n >> 31 == 1 { n } else { n % (limit + 2) };
                let before = log.clone();
                let decision = log.check_n_at(n, t);
                assert_eq!(outcome(decision), model.check(n, now), "check {n} at {now}");
                if decision.is_err() || n == 0 {
                    assert_eq!(log, before, "a denial or a zero check changed the log");
                }
            }
            Op::Peek => {
                let s = log.snapshot_at(t);
                assert_eq!((s.remaining(), s.reset_after().as_ticks()), model.peek(now));
            }
            Op::Forward(d) => now = now.saturating_add(u64::from(d)),
            Op::Back(d) => now = now.saturating_sub(u64::from(d)),
            Op::Leap(d) => now = now.saturating_add(d),
            Op::To(to) => now = to,
            Op::NearEnd(d) => now = u64::MAX - u64::from(d),
        }
    }
});
