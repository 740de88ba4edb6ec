//! Differential fuzzing of `CircuitBreaker` against the reference model
//! (`tests/model/breaker.rs`): any configuration the breaker accepts, any
//! sequence of calls and outcomes at any instants (backwards, huge jumps, the
//! 62-bit open-until limit); the answers and states must be identical, and
//! a configuration the breaker refuses must be one the spec calls invalid.
#![no_main]

use ratecore_testkit::model::breaker as model;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use model::observe as as_model;
use ratecore::Instant;
use ratecore::client::CircuitBreaker;

const HZ: u64 = 1_000;

#[derive(Arbitrary, Debug)]
enum Time {
    Stay,
    Forward(u16),
    Back(u16),
    Set(u64),
}

#[derive(Arbitrary, Debug)]
enum Op {
    Acquire,
    Success,
    Failure,
}

#[derive(Arbitrary, Debug)]
struct Input {
    failures: u32,
    timeout: u64,
    probes: u32,
    window: Option<(u32, u32, u32)>,
    start: u64,
    steps: Vec<(Time, Op)>,
}

fn valid(c: &model::Config) -> bool {
    (1..1 << 20).contains(&c.failures)
        && c.timeout > 0
        && c.probes > 0
        && c.window
            .is_none_or(|(w, num, den)| (1..1 << 21).contains(&w) && num > 0 && num <= den)
}

fuzz_target!(|input: Input| {
    let config = model::Config {
        failures: input.failures,
        timeout: input.timeout,
        probes: input.probes,
        window: input.window,
    };
    let breaker = match CircuitBreaker::new(model::config::<HZ>(&config)) {
        Ok(breaker) => {
            assert!(valid(&config), "accepted an invalid {config:?}");
            breaker
        }
        Err(error) => {
            assert!(!valid(&config), "refused a valid {config:?}: {error}");
            return;
        }
    };
    let mut reference = model::Breaker::new(config);
    let mut now = input.start;
    for (time, op) in input.steps {
        now = match time {
            Time::Stay => now,
            Time::Forward(d) => now.saturating_add(d.into()),
            Time::Back(d) => now.saturating_sub(d.into()),
            Time::Set(t) => t,
        };
        let at = Instant::<HZ>::from_ticks(now);
        match op {
            Op::Acquire => {
                let got = model::admit(breaker.try_acquire_at(at));
                assert_eq!(got, reference.acquire(now), "at {now}");
            }
            Op::Success => {
                breaker.record_success_at(at);
                reference.success(now);
            }
            Op::Failure => {
                breaker.record_failure_at(at);
                reference.failure(now);
            }
        }
        assert_eq!(as_model(breaker.state()), reference.state, "at {now}");
        assert_eq!(
            as_model(breaker.state_at(at)),
            reference.state_at(now),
            "at {now}"
        );
    }
});
