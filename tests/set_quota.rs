//! Changing a limiter's quota at run time: the units in use carry over
//! (rounded up, at most the new burst), and an invalid quota changes nothing.
//! Every expected number is worked out by hand in the comments.

use ratecore::{Gcra, Limiter, Quota, QuotaError, RefillMode, TokenBucket};
use ratecore_testkit::at;

const MS: u64 = 1_000;

#[test]
fn a_bigger_plan_keeps_the_units_in_use() {
    // 10/s, burst 10: 6 used at t = 0.
    let mut limiter = Gcra::<MS>::new(Quota::per_second(10)).unwrap();
    for _ in 0..6 {
        limiter.check_at(at(0)).unwrap();
    }
    // Upgrade to 100/s, burst 20: still 6 in use, so 14 remain, and they are
    // given back at the new rate (10 ms each): full again after 60 ms.
    limiter
        .set_quota_at(Quota::per_second(100).burst(20), at(0))
        .unwrap();
    let status = limiter.snapshot_at(at(0));
    assert_eq!(
        (
            status.limit(),
            status.remaining(),
            status.reset_after().as_ticks()
        ),
        (20, 14, 60)
    );
}

#[test]
fn a_smaller_plan_caps_the_units_in_use_at_its_burst() {
    // 10/s, burst 10, all 10 used at t = 0.
    let mut limiter = Gcra::<MS>::new(Quota::per_second(10)).unwrap();
    limiter.check_n_at(10, at(0)).unwrap();
    // Downgrade to 100/s, burst 5: 10 in use, capped at 5, so it is empty;
    // the next unit comes after one new interval, 10 ms.
    limiter
        .set_quota_at(Quota::per_second(100).burst(5), at(0))
        .unwrap();
    ratecore_testkit::assert_next_unit_at(&limiter, 0, 10);
}

#[test]
fn partly_earned_units_round_up() {
    // 1/s, burst 2: 2 used at t = 0; at t = 500 ms, 1.5 units are in use.
    let mut limiter = Gcra::<MS>::new(Quota::per_second(1).burst(2)).unwrap();
    limiter.check_n_at(2, at(0)).unwrap();
    // Carried over as 2 (rounded up, never forgiven): at 10/s, burst 4,
    // 2 remain, and the bucket is full 2 * 100 ms later.
    limiter
        .set_quota_at(Quota::per_second(10).burst(4), at(500))
        .unwrap();
    let status = limiter.snapshot_at(at(500));
    assert_eq!(
        (status.remaining(), status.reset_after().as_ticks()),
        (2, 200)
    );
}

#[test]
fn an_invalid_quota_changes_nothing() {
    let mut limiter = Gcra::<MS>::new(Quota::per_second(10)).unwrap();
    limiter.check_n_at(4, at(0)).unwrap();
    let before = limiter.snapshot_at(at(0));
    assert_eq!(
        limiter.set_quota_at(Quota::per_second(0), at(0)),
        Err(QuotaError::ZeroCount)
    );
    assert_eq!(
        limiter.set_quota_at(Quota::per_second(5).burst(0), at(0)),
        Err(QuotaError::ZeroBurst)
    );
    assert_eq!(limiter.snapshot_at(at(0)), before);
    assert_eq!(limiter.burst(), 10);
}

#[test]
fn an_interval_bucket_keeps_its_mode_and_its_tokens_in_use() {
    // 5 tokens every second, all at once, burst 5: 3 taken at t = 100 ms.
    let mut bucket = TokenBucket::<MS>::new(Quota::per_second(5), RefillMode::Interval).unwrap();
    bucket.check_n_at(3, at(100)).unwrap();
    // 10 every second, burst 10: 3 in use, 7 available until the boundary at
    // 1,000 ms, where 10 arrive and fill it.
    bucket.set_quota_at(Quota::per_second(10), at(100)).unwrap();
    assert_eq!(bucket.mode(), RefillMode::Interval);
    assert_eq!(bucket.available_at(at(100)), 7);
    assert_eq!(bucket.available_at(at(999)), 7);
    assert_eq!(bucket.available_at(at(1_000)), 10);
}

#[test]
fn reset_fills_the_limiter() {
    let mut limiter = Gcra::<MS>::new(Quota::per_minute(100).burst(120)).unwrap();
    limiter.check_n_at(120, at(0)).unwrap();
    assert!(limiter.check_at(at(0)).is_err());
    limiter.reset();
    let status = limiter.snapshot_at(at(0));
    assert_eq!(
        (status.remaining(), status.reset_after().as_ticks()),
        (120, 0)
    );
}
