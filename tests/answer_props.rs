//! The answers an algorithm in another crate builds from its numbers
//! (`Status::scaled`, `RateLimited::scaled`) read as plain arithmetic on
//! those numbers says, a zero `unit` or `scale` read as 1.

use proptest::prelude::*;
use ratecore::{RateLimited, Status};

const HZ: u64 = 1_000;

/// `ceil(a / b)` for `b >= 1`, in 128 bits so that it cannot overflow.
fn ceil_div(a: u64, b: u64) -> u64 {
    u64::try_from(u128::from(a).div_ceil(u128::from(b))).unwrap()
}

/// What `remaining`, `reset_after` and (for a refusal) `retry_after` must be
/// for these numbers.
fn expected(room: u64, unit: u64, until_full: u64, scale: u64, short: u64) -> (u32, u64, u64) {
    let (unit, scale) = (unit.max(1), scale.max(1));
    let remaining = u32::try_from(room / unit).unwrap_or(u32::MAX);
    (
        remaining,
        ceil_div(until_full, scale),
        ceil_div(short, scale).max(1),
    )
}

/// Divisors that are often 0 or 1, the cases the readers treat apart.
fn divisor() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), Just(1u64), 2..=1_000u64, any::<u64>()]
}

proptest! {
    #![proptest_config(ratecore_testkit::config(512))]

    #[test]
    fn scaled_answers_read_as_arithmetic(
        limit in any::<u32>(),
        room in any::<u64>(),
        unit in divisor(),
        until_full in any::<u64>(),
        scale in divisor(),
        short in any::<u64>(),
    ) {
        let status = Status::<HZ>::scaled(limit, room, unit, until_full, scale);
        let limited = RateLimited::scaled(status, short);
        let (remaining, reset_after, retry_after) =
            expected(room, unit, until_full, scale, short);
        prop_assert_eq!(status.limit(), limit);
        prop_assert_eq!(status.remaining(), remaining);
        prop_assert_eq!(status.reset_after().as_ticks(), reset_after);
        prop_assert_eq!(limited.remaining(), remaining);
        prop_assert_eq!(limited.reset_after().as_ticks(), reset_after);
        prop_assert_eq!(limited.retry_after().as_ticks(), retry_after);
    }

    /// A zero divisor answers exactly as 1 does, equality included.
    #[test]
    fn a_zero_divisor_is_one(
        limit in any::<u32>(),
        room in any::<u64>(),
        until_full in any::<u64>(),
        short in any::<u64>(),
    ) {
        let zero = Status::<HZ>::scaled(limit, room, 0, until_full, 0);
        let one = Status::<HZ>::scaled(limit, room, 1, until_full, 1);
        prop_assert_eq!(zero, one);
        prop_assert_eq!(RateLimited::scaled(zero, short), RateLimited::scaled(one, short));
    }
}
