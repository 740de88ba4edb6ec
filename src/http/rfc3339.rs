//! RFC 3339 UTC timestamps from Unix seconds, without allocation.

use core::fmt;

/// The last second RFC 3339's four-digit years can name: 9999-12-31T23:59:59Z.
pub const RFC3339_MAX_UNIX_SECS: u64 = 253_402_300_799;

/// A Unix time formatted as an RFC 3339 UTC timestamp, `YYYY-MM-DDTHH:MM:SSZ`
/// (the profile of ISO 8601 the IETF uses; no fractional seconds).
///
/// Only times from 1970-01-01T00:00:00Z (Unix second 0) to
/// 9999-12-31T23:59:59Z ([`RFC3339_MAX_UNIX_SECS`]) exist: later times would
/// need a fifth year digit, which RFC 3339 does not allow, so
/// [`from_unix_secs`](Rfc3339::from_unix_secs) returns `None` for them rather
/// than writing an invalid or clamped timestamp. Leap seconds do not exist
/// in Unix time and never appear.
///
/// ```
/// use ratecore::http::Rfc3339;
///
/// let t = Rfc3339::from_unix_secs(1_700_000_060).unwrap();
/// assert_eq!(t.to_string(), "2023-11-14T22:14:20Z");
/// assert_eq!(Rfc3339::from_unix_secs(0).unwrap().to_string(), "1970-01-01T00:00:00Z");
/// assert!(Rfc3339::from_unix_secs(253_402_300_800).is_none()); // year 10000
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rfc3339 {
    unix_secs: u64,
}

/// A calendar date and time of day in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct CivilTime {
    /// 1970 to 9999.
    pub year: u16,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
    /// 0 to 23.
    pub hour: u8,
    /// 0 to 59.
    pub minute: u8,
    /// 0 to 59.
    pub second: u8,
}

impl Rfc3339 {
    /// The timestamp of Unix second `unix_secs`, or `None` after
    /// 9999-12-31T23:59:59Z.
    pub const fn from_unix_secs(unix_secs: u64) -> Option<Self> {
        if unix_secs > RFC3339_MAX_UNIX_SECS {
            None
        } else {
            Some(Self { unix_secs })
        }
    }

    /// The Unix second this timestamp names.
    pub const fn unix_secs(&self) -> u64 {
        self.unix_secs
    }

    /// The date and time of day, in the proleptic Gregorian calendar.
    pub const fn civil(&self) -> CivilTime {
        let days = self.unix_secs / 86_400;
        let second_of_day = self.unix_secs % 86_400;
        let (year, month, day) = civil_from_days(days);
        CivilTime {
            year: year as u16,
            month: month as u8,
            day: day as u8,
            hour: (second_of_day / 3_600) as u8,
            minute: (second_of_day % 3_600 / 60) as u8,
            second: (second_of_day % 60) as u8,
        }
    }
}

/// The Gregorian date `days` days after 1970-01-01, as (year, month, day).
///
/// Howard Hinnant's `civil_from_days` (<https://howardhinnant.github.io/date_algorithms.html>)
/// restricted to non-negative day counts, so it runs in unsigned arithmetic:
/// the count is shifted to start on 0000-03-01, split into 400-year eras of
/// 146 097 days, and a year is counted from March so the leap day falls last.
/// `days` is at most 2 932 896 here (9999-12-31), so no step can overflow; the
/// operations saturate only to keep the panic-freedom lints honest.
const fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days.saturating_add(719_468); // days since 0000-03-01
    let era = z / 146_097;
    let day_of_era = z.saturating_sub(era.saturating_mul(146_097)); // [0, 146096]
    let year_of_era = day_of_era
        .saturating_sub(day_of_era / 1_460)
        .saturating_add(day_of_era / 36_524)
        .saturating_sub(day_of_era / 146_096)
        / 365; // [0, 399]
    let day_of_year = day_of_era.saturating_sub(
        year_of_era
            .saturating_mul(365)
            .saturating_add(year_of_era / 4)
            .saturating_sub(year_of_era / 100),
    ); // [0, 365], from March 1st
    let month_from_march = day_of_year.saturating_mul(5).saturating_add(2) / 153; // [0, 11]
    let day = day_of_year
        .saturating_sub(month_from_march.saturating_mul(153).saturating_add(2) / 5)
        .saturating_add(1); // [1, 31]
    let (month, next_year) = if month_from_march < 10 {
        (month_from_march.saturating_add(3), 0)
    } else {
        (month_from_march.saturating_sub(9), 1) // January, February
    };
    let year = year_of_era
        .saturating_add(era.saturating_mul(400))
        .saturating_add(next_year);
    (year, month, day)
}

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.civil();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year, t.month, t.day, t.hour, t.minute, t.second
        )
    }
}
