//! `MinSpacing` against a plainly written reference model, standalone, in a
//! keyed table and as a tier; and `idle_after` never early.

use std::collections::HashMap;

use proptest::prelude::*;
use ratecore::compose::Tier;
use ratecore::kernel::{Algorithm, AtomicU64, WordLimiter, WordRef};
use ratecore::keyed::{Admitted, Plan, WhenFull};
use ratecore::{Denied, Duration, Gcra, Instant, KeyedLimiter, Limiter, Quota, Tiers};
use ratecore_min_spacing::MinSpacing;

const HZ: u64 = 1_000;

fn at(ticks: u64) -> Instant<HZ> {
    Instant::<HZ>::from_ticks(ticks)
}

fn config(gap: u64, window: u64, burst: u32) -> MinSpacing<HZ> {
    MinSpacing::new(
        Duration::<HZ>::from_ticks(gap),
        Duration::<HZ>::from_ticks(window),
        burst,
    )
    .unwrap()
}

/// What a check answered, reduced to what the model predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// Admitted, with the remaining single-unit checks at that instant.
    Admitted { remaining: u32 },
    /// Refused for now: retry after this many ticks.
    Limited { retry_after: u64, remaining: u32 },
    /// Refused forever: more than the burst.
    ExceedsBurst,
}

fn reduce(decision: Result<ratecore::Status<HZ>, Denied<HZ>>) -> Answer {
    match decision {
        Ok(status) => Answer::Admitted {
            remaining: status.remaining(),
        },
        Err(Denied::RateLimited(limited)) => Answer::Limited {
            retry_after: limited.retry_after().as_ticks(),
            remaining: limited.remaining(),
        },
        Err(Denied::ExceedsBurst(_)) => Answer::ExceedsBurst,
        Err(other) => panic!("unexpected denial {other:?}"),
    }
}

/// The reference: every admitted check, as `(instant, units)`.
#[derive(Clone, Debug)]
struct Model {
    gap: u64,
    window: u64,
    burst: u32,
    admitted: Vec<(u64, u32)>,
}

impl Model {
    fn new(gap: u64, window: u64, burst: u32) -> Self {
        Self {
            gap,
            window,
            burst,
            admitted: Vec::new(),
        }
    }

    /// Time never goes back past an admitted check: a stale reading is
    /// decided at the latest admitted instant.
    fn clock(&self, now: u64) -> u64 {
        self.admitted.iter().map(|&(t, _)| t).fold(now, u64::max)
    }

    /// Ticks until `n` units would be admitted at `clock` (0: now).
    fn wait(&self, clock: u64, n: u32) -> u64 {
        let spacing = match self.admitted.last() {
            Some(&(last, _)) if last + self.gap > clock => last + self.gap - clock,
            _ => 0,
        };
        let used: u32 = self
            .admitted
            .iter()
            .filter(|&&(t, _)| t / self.window == clock / self.window)
            .map(|&(_, units)| units)
            .sum();
        let window = if used + n > self.burst {
            (clock / self.window + 1) * self.window - clock
        } else {
            0
        };
        spacing.max(window)
    }

    /// How many single-unit checks would pass one after another at `clock`.
    fn remaining(&self, clock: u64) -> u32 {
        let mut copy = self.clone();
        let mut count = 0;
        while count <= self.burst && copy.wait(clock, 1) == 0 {
            copy.admitted.push((clock, 1));
            count += 1;
        }
        count
    }

    fn check(&mut self, now: u64, n: u32) -> Answer {
        let clock = self.clock(now);
        if n == 0 {
            return Answer::Admitted {
                remaining: self.remaining(clock),
            };
        }
        if n > self.burst {
            return Answer::ExceedsBurst;
        }
        match self.wait(clock, n) {
            0 => {
                self.admitted.push((clock, n));
                Answer::Admitted {
                    remaining: self.remaining(clock),
                }
            }
            wait => Answer::Limited {
                retry_after: wait + (clock - now),
                remaining: self.remaining(clock),
            },
        }
    }
}

/// Configurations: gap 0..40, window 1..100, burst 1..6.
fn configs() -> impl Strategy<Value = (u64, u64, u32)> {
    (0u64..40, 1u64..100, 1u32..6)
}

/// Checks `(instant, n)`: a clock that mostly moves forward and sometimes
/// reads stale (earlier) instants; `n` sometimes 0, sometimes above the burst.
fn checks(max: usize) -> impl Strategy<Value = Vec<(u64, u32)>> {
    prop::collection::vec((-50i64..60, 0u32..8), 1..max).prop_map(|steps| {
        let mut clock: i64 = 1_000;
        steps
            .into_iter()
            .map(|(delta, n)| {
                clock = (clock + delta).max(0);
                (clock as u64, n)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// The limiter decides every check as the model does, admitted or not,
    /// with the same `retry_after` and `remaining`; and every `retry_after`
    /// is exact: one tick earlier the check fails, at it the check passes.
    #[test]
    fn standalone_matches_model((gap, window, burst) in configs(), checks in checks(80)) {
        let config = config(gap, window, burst);
        let limiter = WordLimiter::from_algorithm(config);
        let mut model = Model::new(gap, window, burst);
        for (now, n) in checks {
            let before = limiter.state();
            let got = reduce(limiter.check_n_at(n, at(now)));
            let want = model.check(now, n);
            prop_assert_eq!(got, want, "check of {} at {}", n, now);
            if let Answer::Limited { retry_after, .. } = got {
                prop_assert_eq!(limiter.state(), before, "a denial stores nothing");
                let later = now + retry_after;
                prop_assert!(config.decide(before, n, at(later)).answer().is_ok());
                prop_assert!(config.decide(before, n, at(later - 1)).answer().is_err());
            }
            if n == 0 {
                prop_assert_eq!(limiter.state(), before, "n = 0 stores nothing");
            }
        }
    }

    /// A state that `idle_after` calls idle from some instant on decides,
    /// from then on, exactly as the fresh state 0, whatever comes next.
    #[test]
    fn idle_after_is_never_early(
        (gap, window, burst) in configs(),
        history in checks(30),
        probe in 0u64..200,
        future in prop::collection::vec((0u64..60, 0u32..8), 1..30),
    ) {
        let config = config(gap, window, burst);
        let limiter = WordLimiter::from_algorithm(config);
        for &(now, n) in &history {
            let _ = limiter.check_n_at(n, at(now));
        }
        let asked = history.last().unwrap().0 + probe;
        let Some(wait) = config.idle_after(limiter.state(), at(asked)) else {
            return Err(TestCaseError::fail("no units in flight: always Some"));
        };
        let mut ours = limiter.state();
        let mut fresh = 0u64;
        let mut now = asked + wait.as_ticks();
        for (delta, n) in future {
            now += delta;
            prop_assert!(config.is_idle(ours, at(now)) == config.is_idle(fresh, at(now)));
            prop_assert_eq!(config.status(ours, at(now)), config.status(fresh, at(now)));
            let (a, b) = (config.decide(ours, n, at(now)), config.decide(fresh, n, at(now)));
            prop_assert_eq!(a, b, "check of {} at {}", n, now);
            if let Some(next) = a.stored() {
                ours = next;
                fresh = next;
            }
        }
    }

    /// A keyed table decides each key as that key's own model (instants in
    /// order: the table's reclaim floor only matters for stale ones).
    #[test]
    fn keyed_matches_models(
        (gap, window, burst) in configs(),
        checks in prop::collection::vec((0u8..12, 0u64..40, 0u32..8), 1..200),
    ) {
        let table: KeyedLimiter<MinSpacing<HZ>, HZ, 64> =
            KeyedLimiter::new([config(gap, window, burst)], [1, 2], WhenFull::Deny);
        let plan = Plan::new(0).unwrap();
        let mut models: HashMap<u8, Model> = HashMap::new();
        let mut now = 0;
        for (key, delta, n) in checks {
            now += delta;
            let got = reduce(table.check_n_at(&key, plan, n, at(now)).map(|admitted| match admitted {
                Admitted::Limited(status) => status,
                Admitted::Unlimited => panic!("the table is never full here"),
                _ => unreachable!(),
            }));
            let want = models
                .entry(key)
                .or_insert_with(|| Model::new(gap, window, burst))
                .check(now, n);
            prop_assert_eq!(got, want, "key {} check of {} at {}", key, n, now);
        }
    }
}

#[test]
fn fresh_state_and_zero_units() {
    let config = config(10, 100, 3);
    // n = 0 on the fresh state admits and stores nothing.
    assert!(matches!(
        config.decide(0, 0, at(5)),
        ratecore::kernel::Step::Keep(_)
    ));
    assert_eq!(
        config.idle_after(0, at(5)),
        Some(Duration::<HZ>::from_ticks(0))
    );
    let status = config.status(0, at(5));
    assert_eq!(status.limit(), 3);
    assert_eq!(status.remaining(), 1); // one check, then the spacing holds
    assert_eq!(status.reset_after().as_ticks(), 0);
}

#[test]
fn static_word_with_const_config() {
    static STATE: AtomicU64 = AtomicU64::new(0);
    const CONFIG: MinSpacing<HZ> = ratecore::const_unwrap!(MinSpacing::new(
        Duration::<HZ>::from_ticks(5),
        Duration::<HZ>::from_ticks(20),
        2,
    ));
    let limiter = WordRef::new(&STATE, &CONFIG);
    assert!(limiter.check_at(at(0)).is_ok());
    let early = limiter.check_at(at(3)).unwrap_err();
    assert_eq!(early.retry_after().unwrap().as_ticks(), 2);
    assert!(limiter.check_at(at(5)).is_ok());
    // The window 0..20 is full: the next one starts at 20.
    let full = limiter.check_at(at(12)).unwrap_err();
    assert_eq!(full.retry_after().unwrap().as_ticks(), 8);
    // A stale reading is decided at the last admitted instant (5).
    let stale = limiter.check_at(at(1)).unwrap_err();
    assert_eq!(stale.retry_after().unwrap().as_ticks(), 19);
    assert!(limiter.check_at(at(20)).is_ok());
    assert_eq!(
        limiter.check_n_at(3, at(40)).unwrap_err(),
        Denied::ExceedsBurst(ratecore::answer::ExceedsBurst::new(3, 2))
    );
}

#[test]
fn tier_with_gcra_is_all_or_nothing() {
    let spacing = WordLimiter::from_algorithm(config(100, 1_000, 10));
    let hourly = Gcra::<HZ>::new(Quota::per_hour(2)).unwrap();
    let tiers = Tiers::new([Tier::new("spacing", &spacing), Tier::new("hourly", &hourly)]);

    assert!(tiers.check_at(at(0)).is_ok());
    // Too soon: the spacing tier refuses, and the Gcra keeps no charge.
    let denied = tiers.check_tiered_n_at(1, at(50)).unwrap_err();
    assert_eq!(denied.name, "spacing");
    assert_eq!(denied.answer.retry_after().unwrap().as_ticks(), 50);
    assert_eq!(hourly.snapshot_at(at(50)).remaining(), 1);

    assert!(tiers.check_at(at(100)).is_ok());
    // The Gcra refuses; the spacing tier's charge is undone.
    let before = spacing.state();
    let denied = tiers.check_tiered_n_at(1, at(200)).unwrap_err();
    assert_eq!(denied.name, "hourly");
    assert_eq!(spacing.state(), before);
}

#[test]
fn past_the_horizon_is_stricter_never_looser() {
    use ratecore_min_spacing::HORIZON;
    let config = config(10, 100, 3);
    let limiter = WordLimiter::from_algorithm(config);
    assert!(limiter.check_at(at(HORIZON + 5)).is_ok());
    // Decided at the horizon, where the spacing never runs out.
    assert!(limiter.check_at(at(HORIZON + 1_000)).is_err());
    assert_eq!(
        config.idle_after(limiter.state(), at(HORIZON + 1_000)),
        None
    );
}
