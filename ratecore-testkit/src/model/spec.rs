//! A quota described independently of the crate: count, burst and the period
//! as an exact fraction of seconds, so tests know the true rate and can build
//! the crate's `Quota` from the same description.

use ratecore::Quota;

/// The period of a quota, as one of the ways a user can write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Second,
    Minute,
    Hour,
    Day,
    /// `with_period` in milliseconds.
    Millis(u64),
    /// `with_period` in microseconds.
    Micros(u64),
    /// `with_period` in nanoseconds.
    Nanos(u64),
    /// `with_period` in ticks of a 32,768 Hz crystal.
    Crystal(u64),
    /// `with_period` in minutes (a `fugit` duration with a numerator of 60).
    Minutes(u64),
    /// `with_period` in units of 7/3 s (numerator and denominator both != 1).
    Sevenths(u64),
}

impl Period {
    /// The period in seconds, as `(numerator, denominator)`.
    pub fn seconds(self) -> (u128, u128) {
        match self {
            Period::Second => (1, 1),
            Period::Minute => (60, 1),
            Period::Hour => (3_600, 1),
            Period::Day => (86_400, 1),
            Period::Millis(t) => (t.into(), 1_000),
            Period::Micros(t) => (t.into(), 1_000_000),
            Period::Nanos(t) => (t.into(), 1_000_000_000),
            Period::Crystal(t) => (t.into(), 32_768),
            Period::Minutes(t) => (u128::from(t) * 60, 1),
            Period::Sevenths(t) => (u128::from(t) * 7, 3),
        }
    }

    /// Decodes one period from a kind selector and a tick count.
    pub fn from_raw(kind: u8, ticks: u64) -> Self {
        match kind % 10 {
            0 => Period::Second,
            1 => Period::Minute,
            2 => Period::Hour,
            3 => Period::Day,
            4 => Period::Millis(ticks),
            5 => Period::Micros(ticks),
            6 => Period::Nanos(ticks),
            7 => Period::Crystal(ticks),
            8 => Period::Minutes(ticks),
            _ => Period::Sevenths(ticks),
        }
    }
}

/// `count` units per `t` ticks of `NOM / DENOM` s.
fn period<const NOM: u64, const DENOM: u64>(count: u32, t: u64) -> Quota {
    Quota::with_period(count, fugit::Duration::<u64, NOM, DENOM>::from_ticks(t))
}

/// `count` units per `period`, burst `burst` (the default, `count`, if `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaSpec {
    pub count: u32,
    pub burst: Option<u32>,
    pub period: Period,
}

impl QuotaSpec {
    /// The crate's quota for this description.
    pub fn quota(&self) -> Quota {
        let c = self.count;
        let quota = match self.period {
            Period::Second => Quota::per_second(c),
            Period::Minute => Quota::per_minute(c),
            Period::Hour => Quota::per_hour(c),
            Period::Day => Quota::per_day(c),
            Period::Millis(t) => period::<1, 1_000>(c, t),
            Period::Micros(t) => period::<1, 1_000_000>(c, t),
            Period::Nanos(t) => period::<1, 1_000_000_000>(c, t),
            Period::Crystal(t) => period::<1, 32_768>(c, t),
            Period::Minutes(t) => period::<60, 1>(c, t),
            Period::Sevenths(t) => period::<7, 3>(c, t),
        };
        match self.burst {
            Some(b) => quota.burst(b),
            None => quota,
        }
    }

    /// The burst the quota asks for.
    pub fn burst(&self) -> u32 {
        self.burst.unwrap_or(self.count)
    }

    /// The period in ticks of `1 / hz` s as `(numerator, denominator)`, or
    /// `None` if the numerator does not fit a `u128`.
    pub fn period_ticks(&self, hz: u64) -> Option<(u128, u128)> {
        let (num, den) = self.period.seconds();
        Some((num.checked_mul(hz.into())?, den))
    }

    /// The true time per unit in ticks, `period / count`, as
    /// `(numerator, denominator)`.
    pub fn unit_ticks(&self, hz: u64) -> Option<(u128, u128)> {
        let (num, den) = self.period_ticks(hz)?;
        Some((num, den * u128::from(self.count)))
    }

    /// The period in whole ticks, rounded up (interval refill), or `None` if
    /// it does not fit a `u64`.
    pub fn period_whole_ticks(&self, hz: u64) -> Option<u64> {
        let (num, den) = self.period_ticks(hz)?;
        u64::try_from(num.div_ceil(den)).ok()
    }
}
