//! Every rate-limit header of a response, from one or more policies' states.

use core::fmt;

use super::{ServiceLimit, TooManyRequests, Usage};

/// Declares each header name in its usual spelling and in lower case, with
/// their docs. HTTP/2 and HTTP/3 send names in lower case, and
/// `http::HeaderName::from_static` accepts only lower case (it panics on an
/// upper-case letter); each lower-case name's doc example checks that it is
/// its mixed-case name, lower-cased.
macro_rules! header_names {
    ($(
        $(#[$doc:meta])*
        $name:ident = $value:literal, $lower:ident = $lower_value:literal;
    )*) => {$(
        $(#[$doc])*
        pub const $name: &str = $value;

        #[doc = concat!(
            "[`", stringify!($name), "`] in lower case, for `http::HeaderName::from_static`.\n\n",
            "```\nuse ratecore::http::{", stringify!($name), ", ", stringify!($lower), "};\n",
            "assert_eq!(", stringify!($lower), ", ", stringify!($name), ".to_ascii_lowercase());\n```",
        )]
        pub const $lower: &str = $lower_value;
    )*};
}

header_names! {
    /// `X-RateLimit-Limit`: the most units available at once.
    X_RATELIMIT_LIMIT = "X-RateLimit-Limit", X_RATELIMIT_LIMIT_LOWER = "x-ratelimit-limit";
    /// `X-RateLimit-Remaining`: units available now.
    X_RATELIMIT_REMAINING = "X-RateLimit-Remaining",
        X_RATELIMIT_REMAINING_LOWER = "x-ratelimit-remaining";
    /// `X-RateLimit-Reset`: the Unix second at which the limit is full again.
    X_RATELIMIT_RESET = "X-RateLimit-Reset", X_RATELIMIT_RESET_LOWER = "x-ratelimit-reset";
    /// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers-11, section 3).
    RATELIMIT_POLICY = "RateLimit-Policy", RATELIMIT_POLICY_LOWER = "ratelimit-policy";
    /// `RateLimit` (draft-ietf-httpapi-ratelimit-headers-11, section 4).
    RATELIMIT = "RateLimit", RATELIMIT_LOWER = "ratelimit";
    /// `Retry-After` (RFC 9110, section 10.2.3), as delay-seconds.
    RETRY_AFTER = "Retry-After", RETRY_AFTER_LOWER = "retry-after";
}

/// The rate-limit headers of one response, over the states of every policy
/// that applied to the request (one limiter, or every tier of a tiered one).
///
/// Header names are in their usual spelling; HTTP compares them without
/// regard to case (HTTP/2 and HTTP/3 send them in lower case). With several
/// policies:
///
/// - the `X-RateLimit-*` values and `Retry-After` come from the binding one
///   ([`binding`](Headers::binding)): the refused policy with the longest
///   wait, or, when all admitted, the one with the fewest units left;
/// - `RateLimit-Policy` lists every policy;
/// - `RateLimit` lists every policy when the request was admitted, and only
///   the refused ones when it was refused: each refused item's `t` is its own
///   wait, at most `Retry-After`, so `Retry-After` never names a time before
///   the end of any listed effective window (the draft's section 6).
///
/// An empty slice yields no headers.
///
/// ```
/// use ratecore::{Duration, Instant};
/// use ratecore::http::{Headers, Policy, ServiceLimit};
///
/// let wall = Instant::<1_000>::from_ticks(1_700_000_000_000);
/// let refused = ServiceLimit::new(
///     Policy::new("free", 5, 60)?,
///     5,                                    // limit
///     0,                                    // remaining
///     Duration::<1_000>::from_ticks(57_500), // until full
///     Some(Duration::from_ticks(9_500)),    // retry after
///     wall,
/// );
/// let mut lines = String::new();
/// for (name, value) in Headers::single(&refused) {
///     lines += &format!("{name}: {value}\n");
/// }
/// assert_eq!(lines, "\
/// X-RateLimit-Limit: 5
/// X-RateLimit-Remaining: 0
/// X-RateLimit-Reset: 1700000058
/// RateLimit-Policy: \"free\";q=5;w=60
/// RateLimit: \"free\";r=0;t=10
/// Retry-After: 10
/// ");
/// # Ok::<(), ratecore::http::PolicyError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Headers<'a> {
    limits: &'a [ServiceLimit<'a>],
}

impl<'a> Headers<'a> {
    /// The headers over the states of every policy that applied.
    pub const fn new(limits: &'a [ServiceLimit<'a>]) -> Self {
        Self { limits }
    }

    /// The headers of a single policy.
    pub const fn single(limit: &'a ServiceLimit<'a>) -> Self {
        Self::new(core::slice::from_ref(limit))
    }

    /// The policies' states, as given.
    pub const fn limits(&self) -> &'a [ServiceLimit<'a>] {
        self.limits
    }

    /// The policy the `X-RateLimit-*` values and `Retry-After` report: the
    /// refused policy with the longest wait if any was refused, otherwise the
    /// admitting policy with the fewest units left (the first on a tie).
    /// `None` for no policies.
    pub fn binding(&self) -> Option<&'a ServiceLimit<'a>> {
        let mut binding: Option<&'a ServiceLimit<'a>> = None;
        for limit in self.limits {
            let tighter = match binding {
                None => true,
                Some(best) => match (limit.retry_after_secs(), best.retry_after_secs()) {
                    (Some(wait), Some(best_wait)) => wait > best_wait,
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    (None, None) => limit.remaining() < best.remaining(),
                },
            };
            if tighter {
                binding = Some(limit);
            }
        }
        binding
    }

    /// Whether any policy refused the request.
    pub fn is_rate_limited(&self) -> bool {
        self.limits.iter().any(ServiceLimit::is_rate_limited)
    }

    /// `X-RateLimit-Limit`.
    pub fn x_ratelimit_limit(&self) -> Option<u32> {
        self.binding().map(ServiceLimit::limit)
    }

    /// `X-RateLimit-Remaining`.
    pub fn x_ratelimit_remaining(&self) -> Option<u32> {
        self.binding().map(ServiceLimit::remaining)
    }

    /// `X-RateLimit-Reset`: Unix seconds, rounded up.
    pub fn x_ratelimit_reset(&self) -> Option<u64> {
        self.binding().map(ServiceLimit::reset_at_unix)
    }

    /// `Retry-After` in delay-seconds: `Some` only when refused, rounded up
    /// from the exact wait and never zero.
    pub fn retry_after(&self) -> Option<u64> {
        self.binding().and_then(ServiceLimit::retry_after_secs)
    }

    /// The `RateLimit-Policy` field value; `None` for no policies (the field
    /// is a non-empty list).
    pub fn ratelimit_policy(&self) -> Option<PolicyList<'a>> {
        (!self.limits.is_empty()).then_some(PolicyList {
            limits: self.limits,
        })
    }

    /// The `RateLimit` field value; `None` for no policies.
    pub fn ratelimit(&self) -> Option<RateLimitList<'a>> {
        (!self.limits.is_empty()).then(|| RateLimitList {
            limits: self.limits,
            refused_only: self.is_rate_limited(),
        })
    }

    /// The data of the 429 body, if the request was refused.
    pub fn too_many_requests(&self) -> Option<TooManyRequests<'a>> {
        self.binding().and_then(TooManyRequests::from_limit)
    }

    /// The binding policy's usage snapshot.
    pub fn usage(&self) -> Option<Usage> {
        self.binding().map(ServiceLimit::usage)
    }

    /// Every header as `(name, value)`, in the order: `X-RateLimit-Limit`,
    /// `X-RateLimit-Remaining`, `X-RateLimit-Reset`, `RateLimit-Policy`,
    /// `RateLimit`, then `Retry-After` if refused.
    pub const fn iter(&self) -> HeaderIter<'a> {
        HeaderIter {
            headers: *self,
            next: 0,
        }
    }
}

impl<'a> IntoIterator for Headers<'a> {
    type Item = (&'static str, HeaderValue<'a>);
    type IntoIter = HeaderIter<'a>;

    fn into_iter(self) -> HeaderIter<'a> {
        self.iter()
    }
}

/// The `(name, value)` pairs of [`Headers`].
#[derive(Clone, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HeaderIter<'a> {
    headers: Headers<'a>,
    next: u8,
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = (&'static str, HeaderValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        use HeaderValue::{Integer, RateLimit, RateLimitPolicy};
        fn integer<'a>(
            name: &'static str,
            value: Option<impl Into<u64>>,
        ) -> Option<(&'static str, HeaderValue<'a>)> {
            value.map(|v| (name, Integer(v.into())))
        }
        let headers = &self.headers;
        loop {
            // One header a line, in the order `iter` documents.
            let item = match self.next {
                0 => integer(X_RATELIMIT_LIMIT, headers.x_ratelimit_limit()),
                1 => integer(X_RATELIMIT_REMAINING, headers.x_ratelimit_remaining()),
                2 => integer(X_RATELIMIT_RESET, headers.x_ratelimit_reset()),
                3 => headers
                    .ratelimit_policy()
                    .map(|v| (RATELIMIT_POLICY, RateLimitPolicy(v))),
                4 => headers.ratelimit().map(|v| (RATELIMIT, RateLimit(v))),
                5 => integer(RETRY_AFTER, headers.retry_after()),
                _ => return None,
            };
            self.next = self.next.saturating_add(1);
            if item.is_some() {
                return item;
            }
        }
    }
}

/// One header's value, written by its [`Display`](fmt::Display).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum HeaderValue<'a> {
    /// A plain decimal integer (a count, Unix seconds, delay-seconds).
    Integer(u64),
    /// A `RateLimit-Policy` list.
    RateLimitPolicy(PolicyList<'a>),
    /// A `RateLimit` list.
    RateLimit(RateLimitList<'a>),
}

impl fmt::Display for HeaderValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Integer(v) => write!(f, "{v}"),
            Self::RateLimitPolicy(list) => list.fmt(f),
            Self::RateLimit(list) => list.fmt(f),
        }
    }
}

/// The `RateLimit-Policy` field value: every policy's item, separated by `, `.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PolicyList<'a> {
    limits: &'a [ServiceLimit<'a>],
}

impl fmt::Display for PolicyList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut separator = "";
        for limit in self.limits {
            f.write_str(separator)?;
            limit.policy().fmt(f)?;
            separator = ", ";
        }
        Ok(())
    }
}

/// The `RateLimit` field value: the service-limit items, separated by `, `.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RateLimitList<'a> {
    limits: &'a [ServiceLimit<'a>],
    refused_only: bool,
}

impl fmt::Display for RateLimitList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut separator = "";
        for limit in self.limits {
            if self.refused_only && !limit.is_rate_limited() {
                continue;
            }
            f.write_str(separator)?;
            limit.fmt(f)?;
            separator = ", ";
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each lower-case name is its mixed-case name lower-cased, byte for byte.
    #[test]
    fn lower_case_names_are_the_names_lower_cased() {
        let pairs = [
            (X_RATELIMIT_LIMIT, X_RATELIMIT_LIMIT_LOWER),
            (X_RATELIMIT_REMAINING, X_RATELIMIT_REMAINING_LOWER),
            (X_RATELIMIT_RESET, X_RATELIMIT_RESET_LOWER),
            (RATELIMIT_POLICY, RATELIMIT_POLICY_LOWER),
            (RATELIMIT, RATELIMIT_LOWER),
            (RETRY_AFTER, RETRY_AFTER_LOWER),
        ];
        for (mixed, lower) in pairs {
            assert_eq!(mixed.len(), lower.len(), "{mixed}");
            assert!(
                mixed
                    .bytes()
                    .zip(lower.bytes())
                    .all(|(m, l)| m.to_ascii_lowercase() == l),
                "{mixed} / {lower}"
            );
        }
    }
}
