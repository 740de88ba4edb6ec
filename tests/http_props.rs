//! Properties of the HTTP values: Retry-After bounds at many tick rates, a
//! client honouring Retry-After against a real limiter, the structured
//! fields parsed back by an independent RFC 9651 parser, and usage against
//! plain arithmetic.

use proptest::prelude::*;
use ratecore::http::{Headers, Policy, ServiceLimit, Usage, ceil_seconds, unix_seconds_after};
use ratecore::{Denied, Duration, Gcra, Instant, Limiter, Quota};

/// Retry-After `s` for an exact wait of `ticks` at `hz` must satisfy
/// `ticks <= s * hz < ticks + hz` (at least the wait, less than a second more).
fn assert_retry_after_bounds(secs: u64, ticks: u64, hz: u64) -> Result<(), TestCaseError> {
    let (secs, ticks, hz) = (u128::from(secs), u128::from(ticks), u128::from(hz));
    prop_assert!(secs >= 1);
    prop_assert!(
        secs * hz >= ticks,
        "{secs} s is shorter than {ticks} ticks at {hz} Hz"
    );
    prop_assert!(
        secs * hz < ticks + hz,
        "{secs} s is a second or more over {ticks} ticks at {hz} Hz"
    );
    Ok(())
}

macro_rules! retry_after_at {
    ($name:ident, $hz:expr) => {
        proptest! {
            #[test]
            fn $name(
                ticks in prop_oneof![1_u64..=10 * $hz.min(u64::MAX / 10), any::<u64>().prop_map(|t| t.max(1))],
                wall in any::<u64>(),
                reset_extra in any::<u64>(),
            ) {
                const HZ: u64 = $hz;
                let policy = Policy::new("p", 1, 1).unwrap();
                let limit = ServiceLimit::new(
                    policy,
                    1,
                    0,
                    Duration::<HZ>::from_ticks(ticks.saturating_add(reset_extra)),
                    Some(Duration::<HZ>::from_ticks(ticks)),
                    Instant::<HZ>::from_ticks(wall),
                );
                let secs = Headers::single(&limit).retry_after().unwrap();
                assert_retry_after_bounds(secs, ticks, HZ)?;
                // The refusal's t is Retry-After itself (or less when clamped).
                prop_assert!(limit.effective_window_secs() <= secs);
                // ceil_seconds is the same bound, and zero for zero.
                prop_assert_eq!(ceil_seconds(Duration::<HZ>::from_ticks(ticks)), secs);
                prop_assert_eq!(ceil_seconds(Duration::<HZ>::from_ticks(0)), 0);
                // X-RateLimit-Reset: the first whole second at or after wall + reset.
                let sum = u128::from(wall) + u128::from(ticks.saturating_add(reset_extra));
                let reset = u128::from(unix_seconds_after(
                    Instant::<HZ>::from_ticks(wall),
                    Duration::<HZ>::from_ticks(ticks.saturating_add(reset_extra)),
                ));
                prop_assert_eq!(reset, u128::from(limit.reset_at_unix()));
                if reset < u128::from(u64::MAX) {
                    prop_assert!(reset * u128::from(HZ) >= sum);
                    prop_assert!(reset == 0 || (reset - 1) * u128::from(HZ) < sum);
                } else {
                    // Saturated: the true second is at least u64::MAX.
                    prop_assert!(sum.div_ceil(u128::from(HZ)) >= u128::from(u64::MAX));
                }
            }
        }
    };
}

retry_after_at!(retry_after_at_1_hz, 1);
retry_after_at!(retry_after_at_3_hz, 3);
retry_after_at!(retry_after_at_1_khz, 1_000);
retry_after_at!(retry_after_at_32_khz, 32_768);
retry_after_at!(retry_after_at_prime_hz, 1_000_000_007);
retry_after_at!(retry_after_at_1_ghz, 1_000_000_000);
retry_after_at!(retry_after_at_max_hz, u64::MAX);

proptest! {
    #![proptest_config(ratecore_testkit::config(64))]

    /// A client that waits exactly Retry-After is admitted; one that comes
    /// back a whole second earlier is refused.
    #[test]
    fn honouring_retry_after_is_enough_and_needed(
        count in 1_u32..=200,
        period_secs in 1_u64..=600,
        extra_burst in 0_u32..=50,
        steps in prop::collection::vec((0_u64..5_000, 1_u32..=4), 1..80),
    ) {
        const MS: u64 = ratecore::time::MILLIS;
        let quota = Quota::with_period(count, Duration::<MS>::from_ticks(period_secs * 1_000))
            .burst(count + extra_burst);
        let gcra = Gcra::<MS>::new(quota).unwrap();
        let policy = Policy::from_quota("p", &quota).unwrap();
        let mut now = 0_u64;
        for (advance, n) in steps {
            now += advance;
            let n = n.min(quota.burst_size());
            match gcra.check_n_at(n, Instant::from_ticks(now)) {
                Ok(_) => {}
                Err(Denied::RateLimited(limited)) => {
                    let limit = ServiceLimit::rate_limited(policy, &limited, Instant::from_ticks(0));
                    let secs = limit.retry_after_secs().unwrap();
                    assert_retry_after_bounds(secs, limited.retry_after().as_ticks(), MS)?;
                    let early = now + (secs - 1) * 1_000;
                    prop_assert!(gcra.check_n_at(n, Instant::from_ticks(early)).is_err());
                    now += secs * 1_000;
                    prop_assert!(gcra.check_n_at(n, Instant::from_ticks(now)).is_ok());
                }
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}

/// A structured-field bare item, as the parser below reads it.
#[derive(Debug, PartialEq)]
enum Bare {
    Integer(u64),
    String(String),
    Bytes(Vec<u8>),
}

type Item = (String, Vec<(String, Bare)>);

/// A minimal parser for RFC 9651 Lists of String Items with parameters,
/// written from the RFC's grammar; `None` on any syntax error.
fn parse_list(input: &str) -> Option<Vec<Item>> {
    let mut s = input.as_bytes();
    let mut items = Vec::new();
    loop {
        let Bare::String(name) = parse_bare(&mut s)? else {
            return None;
        };
        let mut params = Vec::new();
        while let [b';', rest @ ..] = s {
            s = rest;
            while let [b' ', rest @ ..] = s {
                s = rest;
            }
            let key_len = s
                .iter()
                .position(|b| {
                    !(b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.*".contains(b))
                })
                .unwrap_or(s.len());
            if key_len == 0 || !s[0].is_ascii_lowercase() && s[0] != b'*' {
                return None;
            }
            let key = std::str::from_utf8(&s[..key_len]).ok()?.to_owned();
            s = &s[key_len..];
            let [b'=', rest @ ..] = s else { return None };
            s = rest;
            params.push((key, parse_bare(&mut s)?));
        }
        items.push((name, params));
        while let [b' ' | b'\t', rest @ ..] = s {
            s = rest;
        }
        match s {
            [] => return Some(items),
            [b',', rest @ ..] => {
                s = rest;
                while let [b' ' | b'\t', rest @ ..] = s {
                    s = rest;
                }
                if s.is_empty() {
                    return None; // trailing comma
                }
            }
            _ => return None,
        }
    }
}

fn parse_bare(s: &mut &[u8]) -> Option<Bare> {
    match *s {
        [b'"', rest @ ..] => {
            let mut out = String::new();
            let mut rest = rest;
            loop {
                match rest {
                    [b'\\', c @ (b'"' | b'\\'), tail @ ..] => {
                        out.push(char::from(*c));
                        rest = tail;
                    }
                    [b'"', tail @ ..] => {
                        *s = tail;
                        return Some(Bare::String(out));
                    }
                    [c @ 0x20..=0x7E, tail @ ..] if *c != b'\\' => {
                        out.push(char::from(*c));
                        rest = tail;
                    }
                    _ => return None,
                }
            }
        }
        [b':', rest @ ..] => {
            let end = rest.iter().position(|&b| b == b':')?;
            let decoded = base64_decode(&rest[..end])?;
            *s = &rest[end + 1..];
            Some(Bare::Bytes(decoded))
        }
        [b'0'..=b'9', ..] => {
            let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits > 15 {
                return None;
            }
            let value = std::str::from_utf8(&s[..digits]).ok()?.parse().ok()?;
            *s = &s[digits..];
            Some(Bare::Integer(value))
        }
        _ => None,
    }
}

fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let mut bits = Vec::new();
    for &c in text.iter().filter(|&&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c)?;
        for i in (0..6).rev() {
            bits.push((v >> i) & 1 == 1);
        }
    }
    Some(
        bits.chunks_exact(8)
            .map(|byte| byte.iter().fold(0_u8, |acc, &bit| acc << 1 | u8::from(bit)))
            .collect(),
    )
}

proptest! {
    /// Whatever the names, numbers and keys, both fields parse back as the
    /// draft's Lists with the values that went in.
    #[test]
    fn fields_parse_back(
        specs in prop::collection::vec(
            (
                // Up to 60 characters and a key of up to 40 bytes: an item
                // that does not fit the 96 bytes a value is made in on the
                // stack is written piece by piece, and must read the same.
                "[ -~]{1,60}",
                0_u64..=999_999_999_999_999,
                1_u64..=999_999_999_999_999,
                any::<u32>(),
                0_u64..=10_000_000,
                prop::option::of(0_u64..=10_000_000),
                prop::option::of(prop::collection::vec(any::<u8>(), 0..=40)),
            ),
            1..4,
        ),
    ) {
        let limits: Vec<ServiceLimit<'_>> = specs
            .iter()
            .map(|(name, q, w, remaining, reset, retry, pk)| {
                let mut policy = Policy::new(name, *q, *w).unwrap();
                if let Some(pk) = pk {
                    policy = policy.with_partition_key(pk);
                }
                ServiceLimit::new(
                    policy,
                    u32::MAX,
                    *remaining,
                    Duration::<1>::from_ticks(*reset),
                    retry.map(Duration::<1>::from_ticks),
                    Instant::<1>::from_ticks(0),
                )
            })
            .collect();
        let headers = Headers::new(&limits);

        let policies = parse_list(&headers.ratelimit_policy().unwrap().to_string());
        let policies = policies.expect("RateLimit-Policy parses");
        prop_assert_eq!(policies.len(), specs.len());
        for ((name, params), (spec_name, q, w, _, _, _, pk)) in policies.iter().zip(&specs) {
            prop_assert_eq!(name, spec_name);
            let mut expected = vec![("q".to_owned(), Bare::Integer(*q)), ("w".to_owned(), Bare::Integer(*w))];
            if let Some(pk) = pk {
                expected.push(("pk".to_owned(), Bare::Bytes(pk.clone())));
            }
            prop_assert_eq!(params, &expected);
        }

        let refused = specs.iter().any(|spec| spec.5.is_some());
        let retry_after = headers.retry_after();
        prop_assert_eq!(retry_after.is_some(), refused);
        let items = parse_list(&headers.ratelimit().unwrap().to_string()).expect("RateLimit parses");
        let listed: Vec<_> = specs.iter().filter(|spec| !refused || spec.5.is_some()).collect();
        prop_assert_eq!(items.len(), listed.len());
        for ((name, params), (spec_name, _, _, remaining, reset, retry, pk)) in items.iter().zip(listed) {
            prop_assert_eq!(name, spec_name);
            // Retry-After is the longest refusal; no listed t is later.
            let t = retry.map_or(*reset, |r| r.max(1));
            if let Some(retry_after) = retry_after {
                prop_assert!(t <= retry_after);
            }
            let mut expected = vec![
                ("r".to_owned(), Bare::Integer(u64::from(*remaining))),
                ("t".to_owned(), Bare::Integer(t)),
            ];
            if let Some(pk) = pk {
                expected.push(("pk".to_owned(), Bare::Bytes(pk.clone())));
            }
            prop_assert_eq!(params, &expected);
        }
    }

    /// Usage against plain arithmetic.
    #[test]
    fn usage_matches_arithmetic(limit in any::<u32>(), remaining in any::<u32>(), threshold in 0_u32..=1_200) {
        let usage = Usage::new(limit, remaining);
        let remaining = remaining.min(limit);
        let used = limit - remaining;
        prop_assert_eq!(usage.used(), used);
        prop_assert_eq!(usage.remaining(), remaining);
        let per_mille = if limit == 0 { 1_000 } else { u64::from(used) * 1_000 / u64::from(limit) };
        prop_assert_eq!(u64::from(usage.utilization_per_mille()), per_mille);
        // Exact: used / limit >= threshold / 1000, in rationals.
        let near = if limit == 0 {
            threshold <= 1_000
        } else {
            u128::from(used) * 1_000 >= u128::from(threshold) * u128::from(limit)
        };
        prop_assert_eq!(usage.is_near_limit_per_mille(threshold), near);
        prop_assert_eq!(usage.is_near_limit_percent(threshold / 10), usage.is_near_limit_per_mille(threshold / 10 * 10));
        // The rounded-down figure never claims more than the exact test.
        prop_assert!(usage.is_near_limit_per_mille(u32::from(usage.utilization_per_mille())));
    }
}

#[test]
fn parser_rejects_what_it_should() {
    // The parser is the oracle above: make sure it can say no.
    assert!(parse_list(r#""a";q=1"#).is_some());
    assert!(parse_list(r#"a;q=1"#).is_none());
    assert!(parse_list(r#""a\b";q=1"#).is_none());
    assert!(parse_list(r#""a";q=1,"#).is_none());
    assert!(parse_list(r#""a";q=1000000000000000"#).is_none());
    assert!(parse_list("\"a\";pk=:Zm9v:").is_some());
    assert!(parse_list("\"a\";pk=:Zm9:").is_none());
    assert_eq!(base64_decode(b"Zm9vYg=="), Some(b"foob".to_vec()));
}
