//! The RFC 3339 formatter against computations that share nothing with its
//! era arithmetic: constants from Python's `datetime`, a day-by-day calendar
//! walk over every day from 1970 to 9999, and a year-by-year count.

use proptest::prelude::*;
use ratecore::http::{RFC3339_MAX_UNIX_SECS, Rfc3339};

fn format(secs: u64) -> String {
    Rfc3339::from_unix_secs(secs).expect("in range").to_string()
}

/// Computed with:
/// python3 -c 'import datetime as d; E=d.datetime(1970,1,1);
///   [print(t, (E+d.timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%SZ")) for t in [...]]'
const PYTHON: &[(u64, &str)] = &[
    (0, "1970-01-01T00:00:00Z"),
    (1, "1970-01-01T00:00:01Z"),
    (59, "1970-01-01T00:00:59Z"),
    (60, "1970-01-01T00:01:00Z"),
    (3599, "1970-01-01T00:59:59Z"),
    (3600, "1970-01-01T01:00:00Z"),
    (86399, "1970-01-01T23:59:59Z"),
    (86400, "1970-01-02T00:00:00Z"),
    (68169599, "1972-02-28T23:59:59Z"),
    (68169600, "1972-02-29T00:00:00Z"),
    (68256000, "1972-03-01T00:00:00Z"),
    (94694399, "1972-12-31T23:59:59Z"),
    (94694400, "1973-01-01T00:00:00Z"),
    (946684799, "1999-12-31T23:59:59Z"),
    (951825600, "2000-02-29T12:00:00Z"),
    (951868800, "2000-03-01T00:00:00Z"),
    (978220800, "2000-12-31T00:00:00Z"),
    (978307200, "2001-01-01T00:00:00Z"),
    (2147483647, "2038-01-19T03:14:07Z"),
    (2147483648, "2038-01-19T03:14:08Z"),
    (4294967295, "2106-02-07T06:28:15Z"),
    (4294967296, "2106-02-07T06:28:16Z"),
    (1700000000, "2023-11-14T22:13:20Z"),
    (1700000060, "2023-11-14T22:14:20Z"),
    (4107542399, "2100-02-28T23:59:59Z"),
    (4107542400, "2100-03-01T00:00:00Z"),
    (13574563200, "2400-02-29T00:00:00Z"),
    (13601087999, "2400-12-31T23:59:59Z"),
    (64065708428, "4000-02-29T06:07:08Z"),
    (253375776000, "9999-02-28T00:00:00Z"),
    (253402214400, "9999-12-31T00:00:00Z"),
    (253402300799, "9999-12-31T23:59:59Z"),
    (12345678901, "2361-03-21T19:15:01Z"),
    (98765432100, "5099-10-02T10:15:00Z"),
    (200000000000, "8307-10-01T19:33:20Z"),
];

#[test]
fn matches_python() {
    for &(secs, expected) in PYTHON {
        assert_eq!(format(secs), expected, "unix {secs}");
    }
}

#[test]
fn nothing_after_9999() {
    assert_eq!(RFC3339_MAX_UNIX_SECS, 253_402_300_799);
    assert!(Rfc3339::from_unix_secs(RFC3339_MAX_UNIX_SECS).is_some());
    assert!(Rfc3339::from_unix_secs(RFC3339_MAX_UNIX_SECS + 1).is_none());
    assert!(Rfc3339::from_unix_secs(u64::MAX).is_none());
}

const fn is_leap(year: u64) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn month_lengths(year: u64) -> [u64; 12] {
    [
        31,
        if is_leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ]
}

/// Every day from 1970-01-01 to 9999-12-31, walked one day at a time with a
/// plain calendar counter, at a different time of day each day.
#[test]
fn every_day_from_1970_to_9999() {
    let (mut year, mut month, mut day) = (1970_u64, 1_u64, 1_u64);
    let mut days = 0_u64;
    loop {
        let second_of_day = days.wrapping_mul(7_919) % 86_400;
        let secs = days * 86_400 + second_of_day;
        let civil = Rfc3339::from_unix_secs(secs).expect("in range").civil();
        let got = (
            u64::from(civil.year),
            u64::from(civil.month),
            u64::from(civil.day),
            u64::from(civil.hour) * 3_600 + u64::from(civil.minute) * 60 + u64::from(civil.second),
        );
        assert_eq!(got, (year, month, day, second_of_day), "day {days}");
        if days.is_multiple_of(997) {
            let expected = format!(
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
                second_of_day / 3_600,
                second_of_day % 3_600 / 60,
                second_of_day % 60
            );
            assert_eq!(format(secs), expected);
        }
        // Next day.
        day += 1;
        if day > month_lengths(year)[(month - 1) as usize] {
            day = 1;
            month += 1;
            if month > 12 {
                month = 1;
                year += 1;
                if year > 9999 {
                    break;
                }
            }
        }
        days += 1;
    }
    assert_eq!(days, 2_932_896); // 9999-12-31 is day 2 932 896
}

/// The calendar date of `secs` by counting whole years, then whole months.
fn by_counting(secs: u64) -> String {
    let mut days = secs / 86_400;
    let rest = secs % 86_400;
    let mut year = 1970;
    loop {
        let length = if is_leap(year) { 366 } else { 365 };
        if days < length {
            break;
        }
        days -= length;
        year += 1;
    }
    let mut month = 1;
    for length in month_lengths(year) {
        if days < length {
            break;
        }
        days -= length;
        month += 1;
    }
    format!(
        "{year:04}-{month:02}-{:02}T{:02}:{:02}:{:02}Z",
        days + 1,
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

proptest! {
    #![proptest_config(ratecore_testkit::config(512))]

    #[test]
    fn matches_year_by_year_count(secs in 0..=RFC3339_MAX_UNIX_SECS) {
        prop_assert_eq!(format(secs), by_counting(secs));
    }

    #[test]
    fn matches_near_2038_and_leap_days(offset in 0_u64..(4 * 366 * 86_400)) {
        // Four years around 2^31 seconds, and around 2000-02-29 and 2100-02-28.
        for base in [2_147_483_648 - 2 * 366 * 86_400, 946_684_800 - 366 * 86_400, 4_102_444_800 - 366 * 86_400] {
            prop_assert_eq!(format(base + offset), by_counting(base + offset));
        }
    }
}
