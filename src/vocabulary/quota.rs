//! Quotas in human units, and their conversion to ticks.

/// A rate in human units: `count` units per period, with a burst allowance.
///
/// Build one with a `const fn` constructor ([`per_second`](Quota::per_second),
/// [`per_minute`](Quota::per_minute), [`per_hour`](Quota::per_hour),
/// [`per_day`](Quota::per_day), [`with_period`](Quota::with_period)) and set the
/// burst with [`burst`](Quota::burst); the burst defaults to `count`. A quota is
/// only a description: it is checked when a limiter is built from it
/// (`Gcra::new`, `TokenBucket::new`, ...), which returns a [`QuotaError`] for a
/// zero rate, a zero burst or a quota whose ticks overflow. In a `static`,
/// [`const_unwrap!`](crate::const_unwrap) turns that error into a compile error.
///
/// ```
/// use ratecore::Quota;
///
/// // "100 requests per minute with a burst of 120"
/// const PLAN: Quota = Quota::per_minute(100).burst(120);
/// assert_eq!(PLAN.count(), 100);
/// assert_eq!(PLAN.burst_size(), 120);
/// ```
///
/// # Precision
///
/// A quota is converted to a limiter's own units exactly when it can be; see
/// [`Gcra`](crate::Gcra#precision) and [`TokenBucket`](crate::TokenBucket#precision).
/// Wherever rounding is needed it rounds towards a stricter limiter: the time
/// per unit is rounded up, never down, and the burst is kept exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Quota {
    count: u32,
    burst: u32,
    /// The period is `period_ticks * period_nom / period_denom` seconds.
    period_ticks: u64,
    period_nom: u64,
    period_denom: u64,
}

impl Quota {
    /// `count` units per second.
    pub const fn per_second(count: u32) -> Self {
        Self::seconds(count, 1)
    }

    /// `count` units per minute.
    pub const fn per_minute(count: u32) -> Self {
        Self::seconds(count, 60)
    }

    /// `count` units per hour.
    pub const fn per_hour(count: u32) -> Self {
        Self::seconds(count, 3_600)
    }

    /// `count` units per day (86,400 seconds; a limiter's day knows no leap seconds).
    pub const fn per_day(count: u32) -> Self {
        Self::seconds(count, 86_400)
    }

    /// `count` units per `period`, given as any [`fugit::Duration`] with a
    /// `u64` tick count, in any unit.
    ///
    /// ```
    /// use ratecore::{Duration, Quota};
    ///
    /// const FIVE_PER_250_MS: Quota = Quota::with_period(5, Duration::<1_000>::from_ticks(250));
    /// // 50 ms per unit, in microsecond ticks:
    /// assert_eq!(FIVE_PER_250_MS.emission_interval::<1_000_000>().unwrap().as_ticks(), 50_000);
    /// ```
    pub const fn with_period<const NOM: u64, const DENOM: u64>(
        count: u32,
        period: fugit::Duration<u64, NOM, DENOM>,
    ) -> Self {
        Self {
            count,
            burst: count,
            period_ticks: period.as_ticks(),
            period_nom: NOM,
            period_denom: DENOM,
        }
    }

    const fn seconds(count: u32, seconds: u64) -> Self {
        Self {
            count,
            burst: count,
            period_ticks: seconds,
            period_nom: 1,
            period_denom: 1,
        }
    }

    /// The same rate with a burst allowance of `burst` units: the most that can
    /// be admitted at one instant, and the largest `n` a single check can ask for.
    #[must_use]
    pub const fn burst(self, burst: u32) -> Self {
        Self { burst, ..self }
    }

    /// Units per period.
    pub const fn count(&self) -> u32 {
        self.count
    }

    /// The burst allowance.
    pub const fn burst_size(&self) -> u32 {
        self.burst
    }

    /// Checks that the quota describes a usable rate.
    ///
    /// # Errors
    ///
    /// [`QuotaError::ZeroCount`], [`QuotaError::ZeroPeriod`] or [`QuotaError::ZeroBurst`].
    pub const fn validate(&self) -> Result<(), QuotaError> {
        if self.count == 0 {
            Err(QuotaError::ZeroCount)
        } else if self.period_ticks == 0 {
            Err(QuotaError::ZeroPeriod)
        } else if self.burst == 0 {
            Err(QuotaError::ZeroBurst)
        } else {
            Ok(())
        }
    }

    /// The period in ticks of `1 / hz` seconds, as an exact fraction
    /// `numerator / denominator` (both non-zero).
    ///
    /// # Errors
    ///
    /// Any [`QuotaError`] of [`validate`](Quota::validate), or
    /// [`QuotaError::TooLarge`] if the numerator does not fit in a `u128`.
    pub(crate) const fn period_in_ticks(&self, hz: u64) -> Result<(u128, u128), QuotaError> {
        if let Err(e) = self.validate() {
            return Err(e);
        }
        let product = match (self.period_ticks as u128).checked_mul(self.period_nom as u128) {
            Some(p) => p,
            None => return Err(QuotaError::TooLarge),
        };
        match product.checked_mul(hz as u128) {
            Some(numerator) => Ok((numerator, self.period_denom as u128)),
            None => Err(QuotaError::TooLarge),
        }
    }

    /// The period in whole ticks of `1 / hz` seconds, rounded up (a longer
    /// period with the same count is stricter).
    ///
    /// # Errors
    ///
    /// As [`period_in_ticks`](Quota::period_in_ticks), and
    /// [`QuotaError::TooLarge`] if the period does not fit in a `u64`.
    pub(crate) const fn period_in_whole_ticks(&self, hz: u64) -> Result<u64, QuotaError> {
        let (num, den) = match self.period_in_ticks(hz) {
            Ok(fraction) => fraction,
            Err(e) => return Err(e),
        };
        let ticks = num.div_ceil(den);
        if ticks == 0 || ticks > u64::MAX as u128 {
            return Err(QuotaError::TooLarge);
        }
        Ok(ticks as u64)
    }

    /// The time per unit, in whole ticks of `1 / HZ` seconds, rounded up.
    ///
    /// This is the coarsest view of the rate, for display. Limiters keep finer
    /// units internally and are exact more often (see [`Gcra`](crate::Gcra#precision)).
    ///
    /// # Errors
    ///
    /// Any [`QuotaError`] of [`validate`](Quota::validate), or
    /// [`QuotaError::TooLarge`] if the interval does not fit in a `u64` of ticks.
    pub const fn emission_interval<const HZ: u64>(
        &self,
    ) -> Result<crate::Duration<HZ>, QuotaError> {
        let (num, den) = match self.period_in_ticks(HZ) {
            Ok(fraction) => fraction,
            Err(e) => return Err(e),
        };
        // `den * count` cannot saturate: both factors are below 2^64.
        let per_unit = num.div_ceil(den.saturating_mul(self.count as u128));
        if per_unit > u64::MAX as u128 {
            return Err(QuotaError::TooLarge);
        }
        Ok(crate::Duration::<HZ>::from_ticks(per_unit as u64))
    }
}

crate::macros::error_enum! {
    /// Why a [`Quota`] cannot be turned into a limiter.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[cfg_attr(feature = "defmt", derive(defmt::Format))]
    #[non_exhaustive]
    pub enum QuotaError {
        /// The quota admits zero units per period: a limiter that never admits
        /// anything is a configuration mistake, not a rate.
        ZeroCount => "quota admits zero units per period",
        /// The period is zero: the rate would be infinite.
        ZeroPeriod => "quota period is zero",
        /// The burst is zero: no check could ever succeed.
        ZeroBurst => "quota burst is zero",
        /// The quota, converted to the clock's ticks, does not fit the limiter's
        /// 64-bit state (a period of centuries at a GHz clock, say).
        TooLarge => "quota does not fit in 64-bit ticks at this clock rate",
        /// The count is more than the limiter can hold: its state has room for
        /// fewer units per window (each limiter's docs state its largest limit).
        LimitTooLarge => "quota count exceeds the largest limit this limiter can hold",
        /// The burst differs from the count, and the limiter has no burst of its
        /// own: a window limiter admits `count` units per window, and at most that
        /// many at one instant. Leave the burst at its default (the count).
        BurstUnsupported =>
            "this limiter has no burst of its own: the quota's burst must equal its count",
    }
}
