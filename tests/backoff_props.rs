//! Backoff with jitter: every delay within its formula's bounds, for every
//! retry index up to `u32::MAX`; never below `Retry-After`; the iterator equal
//! to the stateless form.

use ratecore_testkit::model::backoff as backoff_model;

use proptest::prelude::*;
use ratecore::Duration;
use ratecore::client::{Backoff, BackoffError, Jitter, Multiplier, RandomSource, SplitMix64};

type D = Duration<1_000_000_000>;

fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated)
    ]
}

/// Allowed multipliers: exactly 1, or at least 17/16, with small and huge terms.
fn multiplier() -> impl Strategy<Value = (u32, u32)> {
    prop_oneof![
        Just((1, 1)),
        Just((2, 1)),
        Just((17, 16)),
        Just((8, 5)),
        (1u32..=1_000, 1u32..=64).prop_map(|(a, d)| (d + a.max(d / 16 + 1), d)),
        (2u32..=u32::MAX, Just(1)),
        (Just(u32::MAX), Just(u32::MAX - 1)),
    ]
    .prop_filter("at least 17/16", |&(n, d)| {
        n == d || n as u64 * 16 >= d as u64 * 17
    })
}

fn ticks() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..=10,
        0u64..=1_000_000_000_000,
        Just(u64::MAX),
        any::<u64>()
    ]
}

fn retry() -> impl Strategy<Value = u32> {
    prop_oneof![
        0u32..=80,
        0u32..=2_000,
        (u32::MAX - 3)..=u32::MAX,
        any::<u32>()
    ]
}

/// Retry indices that still have a delay under the default `max_attempts`
/// (`u32::MAX` attempts: `u32::MAX - 1` retries, the last index `u32::MAX - 2`).
fn delayed_retry() -> impl Strategy<Value = u32> {
    retry().prop_map(|r| r.min(u32::MAX - 2))
}

fn backoff(base: u64, cap: u64, (n, d): (u32, u32), jitter: Jitter) -> Backoff<1_000_000_000> {
    Backoff::new(D::from_ticks(base), D::from_ticks(cap))
        .multiplier(Multiplier::ratio(n, d).unwrap())
        .jitter(jitter)
}

proptest! {
    #![proptest_config(ratecore_testkit::config(512))]

    #[test]
    fn exponential_term_equals_the_reference(
        base in ticks(), cap in ticks(), m in multiplier(), retry in retry(),
    ) {
        let b = backoff(base, cap, m, Jitter::None);
        prop_assert_eq!(
            b.exponential(retry).as_ticks(),
            backoff_model::exponential(base, cap, m.0, m.1, retry)
        );
    }

    #[test]
    fn delays_stay_within_the_formulas_bounds(
        base in ticks(), cap in ticks(), m in multiplier(), jitter in jitter(),
        retry in delayed_retry(), previous in ticks(), random in any::<u64>(),
        retry_after in proptest::option::of(ticks()),
    ) {
        let b = backoff(base, cap, m, jitter);
        let t = backoff_model::exponential(base, cap, m.0, m.1, retry);
        let delay = b.delay(retry, D::from_ticks(previous), random).unwrap().as_ticks();
        let (low, high) = match jitter {
            Jitter::None => (t, t),
            Jitter::Full => backoff_model::full(t),
            Jitter::Equal => backoff_model::equal(t),
            Jitter::Decorrelated => backoff_model::decorrelated(base, cap, previous),
        };
        prop_assert!(low <= delay && delay <= high, "{delay} not in [{low}, {high}]");
        prop_assert!(delay <= cap);

        // Retry-After is a floor, and only a floor.
        let raised = b
            .delay_with_retry_after(retry, D::from_ticks(previous), random, retry_after.map(D::from_ticks))
            .unwrap()
            .as_ticks();
        prop_assert_eq!(raised, delay.max(retry_after.unwrap_or(0)));
    }

    #[test]
    fn extreme_random_values_reach_both_ends(
        base in ticks(), cap in ticks(), m in multiplier(), retry in delayed_retry(), previous in ticks(),
    ) {
        let t = backoff_model::exponential(base, cap, m.0, m.1, retry);
        let at = |jitter, random| {
            backoff(base, cap, m, jitter).delay(retry, D::from_ticks(previous), random).unwrap().as_ticks()
        };
        prop_assert_eq!((at(Jitter::Full, 0), at(Jitter::Full, u64::MAX)), backoff_model::full(t));
        prop_assert_eq!((at(Jitter::Equal, 0), at(Jitter::Equal, u64::MAX)), backoff_model::equal(t));
        prop_assert_eq!(
            (at(Jitter::Decorrelated, 0), at(Jitter::Decorrelated, u64::MAX)),
            backoff_model::decorrelated(base, cap, previous)
        );
    }

    #[test]
    fn the_schedule_is_the_stateless_delays_in_order(
        base in ticks(), cap in ticks(), m in multiplier(), jitter in jitter(),
        seed in any::<u64>(), attempts in 0u32..=40,
        retry_afters in proptest::collection::vec(proptest::option::of(ticks()), 40),
    ) {
        let b = backoff(base, cap, m, jitter).max_attempts(attempts);
        let mut schedule = b.schedule(SplitMix64::new(seed));
        let mut randoms = SplitMix64::new(seed);
        let mut previous = D::from_ticks(0);
        for retry in 0..attempts.saturating_sub(1) {
            let ra = retry_afters[retry as usize].map(D::from_ticks);
            let random = randoms.next_u64();
            let expected = b.delay(retry, previous, random).unwrap();
            prop_assert_eq!(schedule.next_with_retry_after(ra), Some(expected.max(ra.unwrap_or(expected))));
            // The schedule's own state ignores Retry-After.
            previous = expected;
        }
        prop_assert_eq!(schedule.retries_done(), attempts.saturating_sub(1));
        prop_assert_eq!(schedule.size_hint(), (0, Some(0)));
        prop_assert_eq!(schedule.next(), None);
        prop_assert_eq!(b.delay(attempts.saturating_sub(1), previous, 0), None);
    }
}

#[test]
fn huge_retry_counts_saturate_at_the_cap() {
    for (n, d) in [(2, 1), (17, 16), (u32::MAX, 1), (1, 1)] {
        // Constant delays stay at the base; growing ones reach the cap.
        let t = if n == d { 1 } else { u64::MAX };
        for retry in [u32::MAX - 2, u32::MAX - 1, u32::MAX] {
            assert_eq!(
                backoff(1, u64::MAX, (n, d), Jitter::None)
                    .exponential(retry)
                    .as_ticks(),
                t
            );
        }
        let last = u32::MAX - 2;
        let at = |jitter, random| {
            let b = backoff(1, u64::MAX, (n, d), jitter);
            b.delay(last, D::from_ticks(u64::MAX), random)
                .map(|d| d.as_ticks())
        };
        assert_eq!(at(Jitter::None, 0), Some(t));
        assert_eq!(at(Jitter::Full, u64::MAX), Some(t));
        assert_eq!(at(Jitter::Equal, 0), Some(t / 2));
        assert_eq!(at(Jitter::Decorrelated, u64::MAX), Some(u64::MAX));
        // `u32::MAX` attempts (the default) allow `u32::MAX - 1` retries.
        let b = backoff(1, u64::MAX, (n, d), Jitter::Full);
        assert_eq!(b.delay(u32::MAX - 1, D::from_ticks(0), 0), None);
        assert_eq!(b.delay(u32::MAX, D::from_ticks(0), 0), None);
    }
}

#[test]
fn aws_doubling_without_jitter() {
    let b = Backoff::<1_000>::new(Duration::from_ticks(5), Duration::from_ticks(2_000))
        .jitter(Jitter::None);
    let terms: Vec<u64> = (0..11).map(|r| b.exponential(r).as_ticks()).collect();
    assert_eq!(
        terms,
        [5, 10, 20, 40, 80, 160, 320, 640, 1_280, 2_000, 2_000]
    );
}

#[test]
fn growth_rounds_up_to_at_least_a_tick() {
    let b = Backoff::<1_000>::new(Duration::from_ticks(1), Duration::from_ticks(10))
        .multiplier(Multiplier::ratio(3, 2).unwrap());
    let terms: Vec<u64> = (0..7).map(|r| b.exponential(r).as_ticks()).collect();
    assert_eq!(terms, [1, 2, 3, 5, 8, 10, 10]);
}

#[test]
fn bad_multipliers_are_refused() {
    assert_eq!(Multiplier::ratio(1, 0), Err(BackoffError::ZeroDenominator));
    assert_eq!(
        Multiplier::ratio(15, 16),
        Err(BackoffError::MultiplierBelowOne)
    );
    assert_eq!(
        Multiplier::ratio(21, 20),
        Err(BackoffError::MultiplierTooClose)
    );
    assert!(Multiplier::ratio(17, 16).is_ok());
    assert!(Multiplier::ratio(7, 7).is_ok());
    assert!(!BackoffError::MultiplierTooClose.to_string().is_empty());
}

#[test]
fn full_jitter_spreads_over_the_whole_range() {
    // Deterministic (a fixed seed): 2,000 draws of random(0, 10_000).
    let b = Backoff::<1_000>::new(Duration::from_ticks(10_000), Duration::from_ticks(10_000));
    let mut rng = SplitMix64::new(2015);
    let draws: Vec<u64> = (0..2_000)
        .map(|_| {
            b.delay(0, Duration::from_ticks(0), rng.next_u64())
                .unwrap()
                .as_ticks()
        })
        .collect();
    let mean = draws.iter().sum::<u64>() / draws.len() as u64;
    assert!((4_700..=5_300).contains(&mean), "mean {mean}");
    assert!(*draws.iter().min().unwrap() < 100);
    assert!(*draws.iter().max().unwrap() > 9_900);
    // Every tenth of the range is hit.
    for decile in 0..10 {
        assert!(
            draws.iter().any(|&d| d / 1_000 == decile),
            "decile {decile} empty"
        );
    }
}

#[test]
fn a_closure_is_a_random_source() {
    let mut counter = 0u64;
    let source = || {
        counter += 1;
        u64::MAX
    };
    let b =
        Backoff::<1_000>::new(Duration::from_ticks(10), Duration::from_ticks(100)).max_attempts(4);
    let delays: Vec<u64> = b.schedule(source).map(|d| d.as_ticks()).collect();
    assert_eq!(delays, [10, 20, 40]);
    assert_eq!(counter, 3);
}
