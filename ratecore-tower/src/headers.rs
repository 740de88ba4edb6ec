//! Writing ratecore's header values into an `http::HeaderMap`.

use std::fmt::Write;

use bytes::BytesMut;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::rc::{self, RcHeaders};

/// Which headers to write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HeaderOptions {
    /// `X-RateLimit-Limit`, `-Remaining` and `-Reset` as well as the IETF
    /// fields (default: no).
    pub legacy: bool,
}

/// The `http` name of one of ratecore's header names, from its lower-case
/// constant (`HeaderName::from_static` allocates nothing).
fn name_of(mixed: &str) -> Option<HeaderName> {
    let lower = match mixed {
        rc::X_RATELIMIT_LIMIT => rc::X_RATELIMIT_LIMIT_LOWER,
        rc::X_RATELIMIT_REMAINING => rc::X_RATELIMIT_REMAINING_LOWER,
        rc::X_RATELIMIT_RESET => rc::X_RATELIMIT_RESET_LOWER,
        rc::RATELIMIT_POLICY => rc::RATELIMIT_POLICY_LOWER,
        rc::RATELIMIT => rc::RATELIMIT_LOWER,
        rc::RETRY_AFTER => rc::RETRY_AFTER_LOWER,
        _ => return None,
    };
    Some(HeaderName::from_static(lower))
}

fn is_legacy(mixed: &str) -> bool {
    matches!(
        mixed,
        rc::X_RATELIMIT_LIMIT | rc::X_RATELIMIT_REMAINING | rc::X_RATELIMIT_RESET
    )
}

/// Writes every header of `headers` (`RateLimit-Policy`, `RateLimit`,
/// `Retry-After` on a refusal, and with `options.legacy` the
/// `X-RateLimit-*` fields) into `map`, replacing fields of the same names.
///
/// Allocation: every value is formatted into ONE buffer, which is then split
/// into the values (`HeaderValue::from_maybe_shared` on a `Bytes` takes it
/// without a copy). That is one buffer and one shared-ownership header per
/// response, whatever the number of fields, where `HeaderValue::from_str`
/// on a stack buffer would copy each value into its own allocation (five or
/// six per response); names are `from_static` and allocate nothing. Beyond
/// that, only the map's own storage.
///
/// ```
/// use http::HeaderMap;
/// use ratecore::{Duration, Instant};
/// use ratecore::http::{Headers, Policy, ServiceLimit};
/// use ratecore_tower::{HeaderOptions, write_headers};
///
/// let limit = ServiceLimit::new(
///     Policy::new("free", 5, 60).unwrap(),
///     5, 0,
///     Duration::<1_000>::from_ticks(57_500),
///     Some(Duration::from_ticks(9_500)),
///     Instant::from_ticks(1_700_000_000_000),
/// );
/// let mut map = HeaderMap::new();
/// write_headers(&mut map, &Headers::single(&limit), HeaderOptions::default());
/// assert_eq!(map["ratelimit-policy"], r#""free";q=5;w=60"#);
/// assert_eq!(map["ratelimit"], r#""free";r=0;t=10"#);
/// assert_eq!(map["retry-after"], "10");
/// assert!(map.get("x-ratelimit-limit").is_none());
/// ```
pub fn write_headers(map: &mut HeaderMap, headers: &RcHeaders<'_>, options: HeaderOptions) {
    let mut buf = BytesMut::with_capacity(192);
    // (name, end offset) of each value, in order.
    let mut ends: [(Option<HeaderName>, usize); 6] = Default::default();
    let mut count = 0;
    for (mixed, value) in headers.iter() {
        if is_legacy(mixed) && !options.legacy {
            continue;
        }
        let start = buf.len();
        if write!(buf, "{value}").is_err() {
            buf.truncate(start);
            continue;
        }
        if let Some(slot) = ends.get_mut(count) {
            *slot = (name_of(mixed), buf.len());
            count += 1;
        }
    }
    let mut bytes = buf.freeze();
    let mut taken = 0;
    for (name, end) in ends.into_iter().take(count) {
        let value = bytes.split_to(end.saturating_sub(taken));
        taken = end;
        let Some(name) = name else { continue };
        if let Ok(value) = HeaderValue::from_maybe_shared(value) {
            map.insert(name, value);
        }
    }
}
