//! Saved states: a limiter restored from its saved bytes decides exactly as
//! the one that saved them, and a state saved under another configuration is
//! refused and changes nothing.

use proptest::prelude::*;
use ratecore::kernel::{Algorithm, RestoreError, Saved, WordLimiter};
use ratecore::{
    Duration, FixedWindow, Gcra, Limiter, Quota, RefillMode, Refund, SlidingWindow, TokenBucket,
};
use ratecore_testkit::at;

const MS: u64 = 1_000;

#[derive(Clone, Copy, Debug)]
enum Op {
    Check(u32, u64),
    Refund(u32, u64),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        5 => (0u32..8, 0u64..400).prop_map(|(n, dt)| Op::Check(n, dt)),
        1 => (0u32..4, 0u64..400).prop_map(|(n, dt)| Op::Refund(n, dt)),
    ];
    prop::collection::vec(op, 0..60)
}

fn apply<A: Algorithm<MS>>(limiter: &WordLimiter<A>, ops: &[Op], start: u64) -> Vec<String> {
    let mut now = start;
    ops.iter()
        .map(|op| match *op {
            Op::Check(n, dt) => {
                now += dt;
                format!("{:?}", limiter.check_n_at(n, at(now)))
            }
            Op::Refund(n, dt) => {
                now += dt;
                format!("{:?}", limiter.refund_n_at(n, at(now)))
            }
        })
        .collect()
}

/// Runs `before`, saves through bytes, restores into `fresh()`, and demands
/// that both then decide `after` alike.
fn round_trip<A: Algorithm<MS>>(
    fresh: impl Fn() -> WordLimiter<A>,
    before: &[Op],
    after: &[Op],
) -> Result<(), TestCaseError> {
    let original = fresh();
    apply(&original, before, 0);
    let saved = original.save();
    prop_assert_eq!(saved.name, Some(A::NAME));
    let bytes = saved.to_bytes();
    let read = Saved::from_slice(&bytes).unwrap();
    prop_assert_eq!(
        read,
        Saved {
            name: None,
            ..saved
        }
    );
    let mut restored = fresh();
    restored.restore(read).unwrap();
    prop_assert_eq!(restored.state(), original.state());
    let later = 100_000;
    prop_assert_eq!(
        apply(&restored, after, later),
        apply(&original, after, later)
    );
    prop_assert_eq!(restored.state(), original.state());
    Ok(())
}

fn quota(count: u32, period: u64) -> Quota {
    Quota::with_period(count, Duration::<MS>::from_ticks(period))
}

proptest! {
    #![proptest_config(ratecore_testkit::config(256))]

    #[test]
    fn gcra_round_trips(count in 1u32..20, period in 1u64..5_000, burst in 1u32..20, before in ops(), after in ops()) {
        round_trip(|| Gcra::<MS>::new(quota(count, period).burst(burst)).unwrap(), &before, &after)?;
    }

    #[test]
    fn token_buckets_round_trip(count in 1u32..20, period in 1u64..5_000, burst in 1u32..20, before in ops(), after in ops()) {
        round_trip(|| TokenBucket::<MS>::new(quota(count, period).burst(burst), RefillMode::Greedy).unwrap(), &before, &after)?;
        round_trip(|| TokenBucket::<MS>::new(quota(count, period).burst(burst), RefillMode::Interval).unwrap(), &before, &after)?;
    }

    #[test]
    fn windows_round_trip(count in 1u32..20, period in 1u64..5_000, before in ops(), after in ops()) {
        round_trip(|| FixedWindow::<MS>::new(quota(count, period)).unwrap(), &before, &after)?;
        round_trip(|| SlidingWindow::<MS>::new(quota(count, period)).unwrap(), &before, &after)?;
    }

    /// Any other quota refuses the state and keeps its own.
    #[test]
    fn another_configuration_is_refused(
        count in 1u32..20, period in 1u64..5_000, other in 1u32..20, before in ops(),
    ) {
        prop_assume!(other != count);
        let original = Gcra::<MS>::new(quota(count, period)).unwrap();
        apply(&original, &before, 0);
        let saved = Saved::from_bytes(original.save().to_bytes());
        let mut elsewhere = Gcra::<MS>::new(quota(other, period)).unwrap();
        elsewhere.check_at(at(0)).unwrap();
        let state = elsewhere.state();
        let error = elsewhere.restore(saved).unwrap_err();
        prop_assert_eq!(error, RestoreError::OtherConfiguration {
            name: "gcra",
            expected: elsewhere.algorithm().fingerprint(),
            found: saved.fingerprint,
        });
        prop_assert_eq!(elsewhere.state(), state);
    }
}

#[test]
fn another_algorithm_or_clock_is_refused() {
    let q = Quota::per_second(10);
    let gcra = Gcra::<MS>::new(q).unwrap();
    gcra.check_n_at(4, at(0)).unwrap();
    let saved = gcra.save();
    // The same machine read as a token bucket, and the same quota in
    // microseconds: other configurations.
    let mut bucket = TokenBucket::<MS>::new(q, RefillMode::Greedy).unwrap();
    assert!(matches!(
        bucket.restore(saved),
        Err(RestoreError::OtherConfiguration {
            name: "token-bucket",
            ..
        })
    ));
    let mut micros = Gcra::<1_000_000>::new(q).unwrap();
    assert!(micros.restore(saved).is_err());
    // A name that disagrees with the fingerprint is refused too.
    let mut same = Gcra::<MS>::new(q).unwrap();
    assert!(
        same.restore(Saved {
            name: Some("fixed-window"),
            ..saved
        })
        .is_err()
    );
    assert_eq!(same.state(), 0);
    same.restore(saved).unwrap();
    assert_eq!(same.snapshot_at(at(0)).remaining(), 6);
}

#[test]
fn bytes_are_fixed_and_checked() {
    let saved = Saved {
        name: None,
        fingerprint: 0x0102_0304_0506_0708,
        state: 0x1112_1314_1516_1718,
    };
    assert_eq!(
        saved.to_bytes(),
        [
            8, 7, 6, 5, 4, 3, 2, 1, 0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11
        ]
    );
    assert_eq!(Saved::from_bytes(saved.to_bytes()), saved);
    let error = Saved::from_slice(&[0; 15]).unwrap_err();
    assert_eq!(error, RestoreError::WrongLength { len: 15 });
    assert_eq!(error.to_string(), "a saved state is 16 bytes, not 15");
}
