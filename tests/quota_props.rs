//! Quota conversion: the time per unit is never shorter than asked, exact
//! whenever the scale allows, and otherwise less than one fine unit longer;
//! zero rates and bursts are refused with the matching error, overflows with
//! `TooLarge`; `const_unwrap!` builds limiters in statics.

use ratecore_testkit::{model, strategy};

use proptest::prelude::*;
use ratecore::{Duration, Gcra, Instant, Limiter, Quota, QuotaError, RefillMode, TokenBucket};

use model::spec::{Period, QuotaSpec};

/// `a * b` as a 256-bit number `(high, low)`.
fn wide(a: u128, b: u128) -> (u128, u128) {
    let (a1, a0) = (a >> 64, a & u128::from(u64::MAX));
    let (b1, b0) = (b >> 64, b & u128::from(u64::MAX));
    let (low, mid1, mid2, high) = (a0 * b0, a1 * b0, a0 * b1, a1 * b1);
    let (mid, mid_carry) = mid1.overflowing_add(mid2);
    let (low, low_carry) = low.overflowing_add(mid << 64);
    let high = high + (mid >> 64) + (u128::from(mid_carry) << 64) + u128::from(low_carry);
    (high, low)
}

fn add_wide((high, low): (u128, u128), x: u128) -> (u128, u128) {
    let (low, carry) = low.overflowing_add(x);
    (high + u128::from(carry), low)
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Periods up to the whole `u64` range of every unit, to reach the overflows.
fn wide_spec() -> impl Strategy<Value = QuotaSpec> {
    let ticks = prop_oneof![1..=1_000u64, 1..=u64::MAX];
    let period = (0..10u8, ticks).prop_map(|(kind, ticks)| Period::from_raw(kind, ticks));
    let count = prop_oneof![1..=1_000u32, 1..=u32::MAX];
    let burst = prop_oneof![
        Just(None),
        (1..=1_000u32).prop_map(Some),
        (1..=u32::MAX).prop_map(Some)
    ];
    (count, burst, period).prop_map(|(count, burst, period)| QuotaSpec {
        count,
        burst,
        period,
    })
}

fn conversion<const HZ: u64>(spec: &QuotaSpec) -> Result<(), TestCaseError> {
    let quota = spec.quota();
    let gcra = Gcra::<HZ>::new(quota);
    let greedy = TokenBucket::<HZ>::new(quota, RefillMode::Greedy);
    let interval = TokenBucket::<HZ>::new(quota, RefillMode::Interval);

    // Greedy bucket and GCRA accept and refuse the same quotas.
    prop_assert_eq!(gcra.as_ref().err(), greedy.as_ref().err());

    let Some((num, den_count)) = spec.unit_ticks(HZ) else {
        // The period alone overflows 2^128 ticks: T is at least 2^128 / 2^62.
        prop_assert_eq!(gcra.err(), Some(QuotaError::TooLarge));
        prop_assert_eq!(interval.err(), Some(QuotaError::TooLarge));
        prop_assert_eq!(
            quota.emission_interval::<HZ>().err(),
            Some(QuotaError::TooLarge)
        );
        return Ok(());
    };
    let whole = num.div_ceil(den_count);

    // The coarse, public view: T in whole ticks, rounded up.
    match quota.emission_interval::<HZ>() {
        Ok(d) => prop_assert_eq!(u128::from(d.as_ticks()), whole),
        Err(e) => prop_assert!(
            e == QuotaError::TooLarge && whole > u128::from(u64::MAX),
            "{e:?}"
        ),
    }

    // Interval refill: the period rounded up to whole ticks, refused only if
    // that does not fit a u64.
    let period = spec.period_whole_ticks(HZ);
    match &interval {
        Ok(b) => {
            prop_assert!(period.is_some(), "accepted a period past u64 ticks");
            prop_assert_eq!(b.burst(), spec.burst());
        }
        Err(e) => prop_assert!(
            *e == QuotaError::TooLarge && period.is_none(),
            "{e:?}, period {period:?}"
        ),
    }

    let max_scale = (1u128 << 32)
        .checked_div(u128::from(HZ))
        .unwrap_or(0)
        .max(1);
    let burst_ticks = u128::from(spec.burst()).saturating_mul(whole);
    let limiter = match gcra {
        Ok(limiter) => limiter,
        Err(e) => {
            prop_assert_eq!(e, QuotaError::TooLarge);
            // Refused: T does not fit, or the burst lasts more than 2^31 s
            // (68 years) or half the 64-bit time line (for clocks above
            // 2^32 Hz); a shorter burst must be accepted.
            let long = (u128::from(HZ) << 31).min(u128::from(u64::MAX) >> 1);
            prop_assert!(
                whole > u128::from(u64::MAX) || burst_ticks > long,
                "refused a quota whose burst lasts {burst_ticks} ticks"
            );
            return Ok(());
        }
    };
    prop_assert_eq!(limiter.burst(), spec.burst());
    let (units, scale) = limiter.emission_interval();
    let (units, scale) = (u128::from(units), u128::from(scale));
    prop_assert!(
        (1..=max_scale).contains(&scale),
        "scale {scale} outside 1..={max_scale}"
    );
    // T = units / scale against the true num / den_count, cross-multiplied.
    let ours = wide(units, den_count);
    let asked = wide(num, scale);
    prop_assert!(
        ours >= asked,
        "T = {units}/{scale} is shorter than {num}/{den_count}: looser than asked"
    );
    let exact_scale = den_count / gcd(num, den_count);
    if exact_scale <= max_scale {
        prop_assert_eq!(
            ours,
            asked,
            "T = {}/{} is not exactly {}/{} (scale {} would be exact)",
            units,
            scale,
            num,
            den_count,
            exact_scale
        );
    } else {
        prop_assert!(
            ours < add_wide(asked, den_count),
            "T = {units}/{scale} exceeds {num}/{den_count} by a whole 1/{scale} tick or more"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ratecore_testkit::config(512))]

    #[test]
    fn conversion_is_exact_or_rounded_up(spec in prop_oneof![strategy::quota_spec(), wide_spec()]) {
        conversion::<1_000>(&spec)?;
        conversion::<32_768>(&spec)?;
        conversion::<1_000_000>(&spec)?;
        conversion::<1_000_000_000>(&spec)?;
        conversion::<{ u64::MAX }>(&spec)?;
        conversion::<1>(&spec)?;
    }

    /// A zero anywhere is the matching error, from every constructor alike.
    #[test]
    fn zeros_are_refused(count in prop_oneof![Just(0u32), 1..=1_000u32], burst in prop_oneof![Just(None), Just(Some(0u32)), (1..=1_000u32).prop_map(Some)], kind in 4..10u8, ticks in prop_oneof![Just(0u64), 1..=1_000u64]) {
        let spec = QuotaSpec { count, burst, period: Period::from_raw(kind, ticks) };
        let quota = spec.quota();
        let mut allowed = Vec::new();
        if count == 0 { allowed.push(QuotaError::ZeroCount); }
        if ticks == 0 { allowed.push(QuotaError::ZeroPeriod); }
        if burst == Some(0) { allowed.push(QuotaError::ZeroBurst); }
        let results = [
            quota.validate().err(),
            quota.emission_interval::<1_000>().err(),
            Gcra::<1_000>::new(quota).err(),
            TokenBucket::<1_000>::new(quota, RefillMode::Greedy).err(),
            TokenBucket::<1_000>::new(quota, RefillMode::Interval).err(),
        ];
        for result in results {
            match result {
                None => prop_assert!(allowed.is_empty(), "accepted {spec:?}"),
                Some(e) if allowed.is_empty() => prop_assert!(false, "refused {spec:?}: {e:?}"),
                Some(e) => prop_assert!(allowed.contains(&e), "{spec:?}: {e:?}, expected one of {allowed:?}"),
            }
        }
        // All constructors report the same error.
        prop_assert!(results.iter().all(|r| *r == results[0]), "{results:?}");
    }
}

#[test]
fn zero_count_period_and_burst_by_hand() {
    for quota in [
        Quota::per_second(0),
        Quota::per_minute(0),
        Quota::per_hour(0),
        Quota::per_day(0),
    ] {
        assert_eq!(quota.validate(), Err(QuotaError::ZeroCount));
        assert_eq!(Gcra::<1_000>::new(quota).err(), Some(QuotaError::ZeroCount));
        assert_eq!(
            TokenBucket::<1_000>::new(quota, RefillMode::Interval).err(),
            Some(QuotaError::ZeroCount)
        );
    }
    let no_time = Quota::with_period(5, Duration::<1_000>::from_ticks(0));
    let no_burst = Quota::per_second(5).burst(0);
    for (quota, mode, error) in [
        (no_time, RefillMode::Greedy, QuotaError::ZeroPeriod),
        (no_burst, RefillMode::Interval, QuotaError::ZeroBurst),
    ] {
        assert_eq!(Gcra::<1_000>::new(quota).err(), Some(error));
        assert_eq!(TokenBucket::<1_000>::new(quota, mode).err(), Some(error));
    }
    assert_eq!(
        no_time.emission_interval::<1_000>().err(),
        Some(QuotaError::ZeroPeriod)
    );
    // Each error explains itself.
    for e in [
        QuotaError::ZeroCount,
        QuotaError::ZeroPeriod,
        QuotaError::ZeroBurst,
        QuotaError::TooLarge,
    ] {
        assert_eq!(e.to_string(), e.message());
        let _: &dyn core::error::Error = &e;
    }
}

#[test]
fn too_large_by_hand() {
    // One unit per u64::MAX minutes is 60 * 2^64 s per unit: no 64-bit tick count holds it.
    let glacial = Quota::with_period(1, fugit::Duration::<u64, 60, 1>::from_ticks(u64::MAX));
    assert_eq!(
        glacial.emission_interval::<1>().err(),
        Some(QuotaError::TooLarge)
    );
    assert_eq!(Gcra::<1>::new(glacial).err(), Some(QuotaError::TooLarge));
    assert_eq!(
        TokenBucket::<1>::new(glacial, RefillMode::Interval).err(),
        Some(QuotaError::TooLarge)
    );
    // A period whose ticks overflow even 128 bits.
    let absurd = Quota::with_period(
        1,
        fugit::Duration::<u64, { u64::MAX }, 1>::from_ticks(u64::MAX),
    );
    assert_eq!(
        Gcra::<1_000_000_000>::new(absurd).err(),
        Some(QuotaError::TooLarge)
    );
    // 1 per day at 1 GHz is 8.64e13 ticks per unit; a burst of 4e9 units
    // lasts 3.7e23 ticks, past the 64-bit time line: refused, except by
    // interval refill, which counts tokens, not time.
    let hoard = Quota::per_day(1).burst(u32::MAX);
    assert_eq!(
        Gcra::<1_000_000_000>::new(hoard).err(),
        Some(QuotaError::TooLarge)
    );
    assert_eq!(
        TokenBucket::<1_000_000_000>::new(hoard, RefillMode::Greedy).err(),
        Some(QuotaError::TooLarge)
    );
    assert!(TokenBucket::<1_000_000_000>::new(hoard, RefillMode::Interval).is_ok());
}

/// `Quota::emission_interval` documents `TooLarge` for "the interval does not
/// fit in a u64 of ticks", but it also refuses when the period's intermediate
/// tick count overflows 128 bits, even if the interval is small: a period of
/// 2^63 ticks of 2^40/2^63 s (= 2^40 s) per 2^32 - 1 units at 1 GHz is
/// 2^70 / (2^32 - 1) ~ 2.7e11 ticks per unit. Only reachable with a `fugit`
/// duration whose numerator and denominator are both huge.
#[test]
#[ignore = "bug (minor): TooLarge for a small interval whose period overflows u128 ticks before the division"]
fn emission_interval_of_a_huge_fraction() {
    let quota = Quota::with_period(
        u32::MAX,
        fugit::Duration::<u64, { 1 << 40 }, { 1 << 63 }>::from_ticks(1 << 63),
    )
    .burst(1);
    let want = ((1u128 << 40) * 1_000_000_000).div_ceil(u128::from(u32::MAX));
    assert_eq!(
        quota
            .emission_interval::<1_000_000_000>()
            .map(|d| u128::from(d.as_ticks())),
        Ok(want)
    );
    assert!(Gcra::<1_000_000_000>::new(quota).is_ok());
}

static API: Gcra<1_000> = ratecore::const_unwrap!(Gcra::new(Quota::per_minute(100).burst(120)));
static CRYSTAL: TokenBucket<32_768> = ratecore::const_unwrap!(TokenBucket::new(
    Quota::per_second(7).burst(3),
    RefillMode::Interval
));
const PLAN: Quota = Quota::per_hour(10_000).burst(50);

#[test]
fn const_unwrap_builds_statics() {
    assert_eq!(API.burst(), 120);
    assert_eq!(API.emission_interval(), (600, 1));
    assert!(API.check_n_at(120, Instant::<1_000>::from_ticks(0)).is_ok());
    assert_eq!(CRYSTAL.burst(), 3);
    assert_eq!(CRYSTAL.mode(), RefillMode::Interval);
    assert_eq!(CRYSTAL.available_at(Instant::<32_768>::from_ticks(0)), 3);
    assert_eq!((PLAN.count(), PLAN.burst_size()), (10_000, 50));
    assert_eq!(
        Quota::per_second(9).burst_size(),
        9,
        "the burst defaults to the count"
    );
}

#[test]
fn wide_multiplication_is_right() {
    assert_eq!(wide(6, 7), (0, 42));
    assert_eq!(wide(1 << 64, 1 << 64), (1, 0));
    assert_eq!(wide(u128::MAX, u128::MAX), (u128::MAX - 1, 1));
    assert_eq!(wide(u128::MAX, 2), (1, u128::MAX - 1));
    assert_eq!(add_wide((0, u128::MAX), 1), (1, 0));
}
