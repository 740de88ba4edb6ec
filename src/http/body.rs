//! The data of a 429 response body, and a JSON rendering of it.

use core::fmt::{self, Write};

use super::{Rfc3339, ServiceLimit};

/// The media type of [`TooManyRequests::json`]: an RFC 9457 problem document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The problem type the draft registers for an exceeded quota
/// (draft-ietf-httpapi-ratelimit-headers-11, section 5.1).
pub const QUOTA_EXCEEDED_TYPE: &str =
    "https://iana.org/assignments/http-problem-types#quota-exceeded";

/// What a 429 body tells the client: the limit, what is left, how long to
/// wait, when the limit is full again, and which policy (tier) refused.
///
/// ```
/// use ratecore::{Duration, Instant};
/// use ratecore::http::{Policy, ServiceLimit, TooManyRequests};
///
/// let refused = ServiceLimit::new(
///     Policy::new("free", 5, 60)?,
///     5,
///     0,
///     Duration::<1_000>::from_ticks(57_500),
///     Some(Duration::from_ticks(9_500)),
///     Instant::from_ticks(1_700_000_002_500),
/// );
/// let body = TooManyRequests::from_limit(&refused).unwrap();
/// assert_eq!((body.retry_after_secs, body.reset_at_unix), (10, 1_700_000_060));
/// assert_eq!(body.reset_at().unwrap().to_string(), "2023-11-14T22:14:20Z");
/// assert_eq!(
///     body.json().to_string(),
///     concat!(
///         r#"{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded","#,
///         r#""title":"Quota Exceeded","status":429,"violated-policies":["free"],"#,
///         r#""limit":5,"remaining":0,"retry_after":10,"#,
///         r#""reset_at_unix":1700000060,"reset_at":"2023-11-14T22:14:20Z"}"#,
///     )
/// );
/// # Ok::<(), ratecore::http::PolicyError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct TooManyRequests<'a> {
    /// The most units available at once.
    pub limit: u32,
    /// Units available now (fewer than the request needed).
    pub remaining: u32,
    /// Seconds to wait before retrying (`Retry-After`), never zero.
    pub retry_after_secs: u64,
    /// The Unix second at which the limit is full again (`X-RateLimit-Reset`).
    pub reset_at_unix: u64,
    /// The name of the policy (tier) that refused, if known.
    pub policy: Option<&'a str>,
}

impl<'a> TooManyRequests<'a> {
    /// The body's data from its parts, with no policy name. A zero
    /// `retry_after_secs` is raised to one second, as for `Retry-After`.
    pub const fn new(
        limit: u32,
        remaining: u32,
        retry_after_secs: u64,
        reset_at_unix: u64,
    ) -> Self {
        Self {
            limit,
            remaining,
            retry_after_secs: if retry_after_secs == 0 {
                1
            } else {
                retry_after_secs
            },
            reset_at_unix,
            policy: None,
        }
    }

    /// The same data naming the policy (tier) that refused.
    #[must_use]
    pub const fn with_policy(self, name: &'a str) -> Self {
        Self {
            policy: Some(name),
            ..self
        }
    }

    /// The body of a refused policy's state; `None` if it admitted.
    pub const fn from_limit(limit: &ServiceLimit<'a>) -> Option<Self> {
        match limit.retry_after_secs() {
            Some(wait) => Some(
                Self::new(
                    limit.limit(),
                    limit.remaining(),
                    wait,
                    limit.reset_at_unix(),
                )
                .with_policy(limit.policy().name()),
            ),
            None => None,
        }
    }

    /// `reset_at_unix` as an RFC 3339 timestamp; `None` after the year 9999.
    pub const fn reset_at(&self) -> Option<Rfc3339> {
        Rfc3339::from_unix_secs(self.reset_at_unix)
    }

    /// The body as a JSON problem document ([`PROBLEM_JSON`], RFC 9457) of
    /// the draft's "quota-exceeded" type, with the data as extension members:
    /// `violated-policies` (omitted without a policy name), `limit`,
    /// `remaining`, `retry_after`, `reset_at_unix`, and `reset_at` in RFC 3339
    /// (`null` after the year 9999). No whitespace, one line.
    pub const fn json(&self) -> Json<'_> {
        Json { body: self }
    }
}

/// The JSON rendering of [`TooManyRequests`], written by its [`Display`](fmt::Display).
#[derive(Clone, Copy, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Json<'a> {
    body: &'a TooManyRequests<'a>,
}

impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = self.body;
        write!(
            f,
            r#"{{"type":"{QUOTA_EXCEEDED_TYPE}","title":"Quota Exceeded","status":429,"#
        )?;
        if let Some(name) = body.policy {
            f.write_str(r#""violated-policies":["#)?;
            write_json_string(f, name)?;
            f.write_str("],")?;
        }
        write!(
            f,
            r#""limit":{},"remaining":{},"retry_after":{},"reset_at_unix":{},"reset_at":"#,
            body.limit, body.remaining, body.retry_after_secs, body.reset_at_unix
        )?;
        match body.reset_at() {
            Some(at) => write!(f, r#""{at}""#)?,
            None => f.write_str("null")?,
        }
        f.write_char('}')
    }
}

/// Writes `s` as a JSON string (RFC 8259): `"` and `\` escaped, control
/// characters as `\u00XX`, everything else as it is (UTF-8).
fn write_json_string(f: &mut impl Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            c if u32::from(c) < 0x20 => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::{String, ToString};

    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        write_json_string(&mut out, "a\"b\\c\n\u{1}é").unwrap();
        assert_eq!(out, r#""a\"b\\c\n\u0001é""#.replace("\\n", "\\u000a"));
    }

    #[test]
    fn json_without_policy_and_past_9999() {
        let body = TooManyRequests::new(7, 2, 0, u64::MAX);
        assert_eq!(body.retry_after_secs, 1);
        assert_eq!(
            body.json().to_string(),
            concat!(
                r#"{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded","#,
                r#""title":"Quota Exceeded","status":429,"limit":7,"remaining":2,"retry_after":1,"#,
                r#""reset_at_unix":18446744073709551615,"reset_at":null}"#
            )
        );
    }

    #[test]
    fn json_names_an_unusual_policy_safely() {
        let body = TooManyRequests::new(1, 0, 3, 0).with_policy("a\"b");
        let json = body.json().to_string();
        assert!(json.contains(r#""violated-policies":["a\"b"],"#), "{json}");
        assert!(
            json.ends_with(r#""reset_at":"1970-01-01T00:00:00Z"}"#),
            "{json}"
        );
    }
}
