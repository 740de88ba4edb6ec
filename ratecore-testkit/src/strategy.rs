//! proptest strategies for quotas and operation sequences (tests only; the
//! fuzz targets decode the same types from bytes).

use proptest::prelude::*;

use crate::model::spec::{Period, QuotaSpec};
use crate::model::trace::Op;

/// A period as users write them, with tick counts that keep the quota valid
/// at every tested clock rate (a day at 1 GHz is 8.64e13 ticks).
pub fn period() -> impl Strategy<Value = Period> {
    prop_oneof![
        Just(Period::Second),
        Just(Period::Minute),
        Just(Period::Hour),
        Just(Period::Day),
        (1..=100_000u64).prop_map(Period::Millis),
        (1..=100_000_000u64).prop_map(Period::Micros),
        (1..=1_000_000_000_000u64).prop_map(Period::Nanos),
        (1..=10_000_000u64).prop_map(Period::Crystal),
        (1..=1_440u64).prop_map(Period::Minutes),
        (1..=100_000u64).prop_map(Period::Sevenths),
    ]
}

/// A quota with a small burst (so traces reach its edges), sometimes a large one.
pub fn quota_spec() -> impl Strategy<Value = QuotaSpec> {
    let count = prop_oneof![4 => 1..=10u32, 3 => 1..=1_000u32, 1 => 1..=u32::MAX];
    let burst = prop_oneof![
        2 => Just(None),
        6 => (1..=20u32).prop_map(Some),
        1 => (1..=1_000u32).prop_map(Some),
        1 => (1..=u32::MAX).prop_map(Some),
    ];
    (count, burst, period()).prop_map(|(count, burst, period)| {
        // A default burst of a huge count would make every trace trivial.
        let burst = burst.or(if count > 1_000 {
            Some(count % 50 + 1)
        } else {
            None
        });
        QuotaSpec {
            count,
            burst,
            period,
        }
    })
}

/// One operation, weighted towards checks and small clock moves.
pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => any::<u32>().prop_map(Op::Check),
        1 => any::<u32>().prop_map(Op::CheckRaw),
        2 => Just(Op::Peek),
        1 => any::<u32>().prop_map(Op::Refund),
        1 => any::<u32>().prop_map(Op::AddTokens),
        1 => Just(Op::Available),
        6 => any::<u32>().prop_map(Op::Forward),
        2 => any::<u8>().prop_map(Op::Tick),
        2 => any::<u32>().prop_map(Op::Back),
        3 => any::<i8>().prop_map(Op::WaitRetry),
        1 => any::<i8>().prop_map(Op::WaitReset),
        1 => any::<u64>().prop_map(Op::Jump),
        1 => any::<u32>().prop_map(Op::NearEnd),
        1 => any::<i32>().prop_map(Op::NearHorizon),
        2 => (any::<u32>(), any::<u32>()).prop_map(|(n, wait)| Op::Reserve(n, wait)),
        1 => Just(Op::Reset),
    ]
}

/// One operation of a trace whose clock never goes backwards.
pub fn forward_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => any::<u32>().prop_map(Op::Check),
        1 => any::<u32>().prop_map(Op::Refund),
        1 => Just(Op::Peek),
        6 => any::<u32>().prop_map(Op::Forward),
        2 => any::<u8>().prop_map(Op::Tick),
        3 => (1..=2i8).prop_map(Op::WaitRetry),
        1 => (1..=2i8).prop_map(Op::WaitReset),
    ]
}

pub fn ops(len: usize) -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(), 1..=len)
}

pub fn forward_ops(len: usize) -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(forward_op(), 1..=len)
}

/// Limiter specs of one of `kinds`: 1 to 5 units per second, 3 seconds or a
/// minute (at 1 kHz), bursts of 1 to `max_burst`.
pub fn tier_spec(
    kinds: &'static [crate::model::tier_gcra::Kind],
    max_burst: u32,
) -> impl Strategy<Value = crate::model::tier_gcra::Spec> {
    (
        prop::sample::select(kinds),
        1u32..=5,
        prop_oneof![Just(1_000u64), Just(3_000), Just(60_000)],
        1u32..=max_burst,
    )
        .prop_map(
            |(kind, count, period, burst)| crate::model::tier_gcra::Spec {
                kind,
                count,
                period,
                burst,
            },
        )
}

/// A quota the crate refuses as too large for the clock skips the case (the
/// quota tests check that refusals are right); any other refusal of a valid
/// quota fails it.
pub fn valid_quota(result: Result<(), ratecore::QuotaError>) -> Result<(), TestCaseError> {
    match result {
        Ok(()) => Ok(()),
        Err(ratecore::QuotaError::TooLarge) => {
            Err(TestCaseError::reject("quota too large for the clock"))
        }
        Err(e) => Err(TestCaseError::fail(format!("valid quota refused: {e:?}"))),
    }
}

/// A module `$name` of three property tests, `at_1_khz`, `at_32_768_hz` and
/// `at_1_ghz`, each running `$check::<HZ>(&spec, &ops)` (a function of the
/// calling module, returning `Result<(), TestCaseError>`) on a random quota
/// spec and a random trace of 80 operations, `$cases` cases each.
///
/// With `fn $name: $cases => $check`, one property test `$name` running
/// `$check::<HZ>(&spec)` at the three rates on each of `$cases` random quota
/// specs.
#[macro_export]
macro_rules! at_three_rates {
    ($(#[$attr:meta])* fn $name:ident: $cases:expr => $check:ident) => {
        proptest::proptest! {
            #![proptest_config($crate::config($cases))]

            $(#[$attr])*
            #[test]
            fn $name(spec in $crate::strategy::quota_spec()) {
                $check::<1_000>(&spec)?;
                $check::<32_768>(&spec)?;
                $check::<1_000_000_000>(&spec)?;
            }
        }
    };
    ($(#[$attr:meta])* mod $name:ident: $cases:expr => $check:ident) => {
        $(#[$attr])*
        mod $name {
            use super::*;

            proptest::proptest! {
                #![proptest_config($crate::config($cases))]

                #[test]
                fn at_1_khz(
                    spec in $crate::strategy::quota_spec(),
                    ops in $crate::strategy::ops(80),
                ) {
                    $check::<1_000>(&spec, &ops)?;
                }

                #[test]
                fn at_32_768_hz(
                    spec in $crate::strategy::quota_spec(),
                    ops in $crate::strategy::ops(80),
                ) {
                    $check::<32_768>(&spec, &ops)?;
                }

                #[test]
                fn at_1_ghz(
                    spec in $crate::strategy::quota_spec(),
                    ops in $crate::strategy::ops(80),
                ) {
                    $check::<1_000_000_000>(&spec, &ops)?;
                }
            }
        }
    };
}
