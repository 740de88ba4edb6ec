//! A quota policy as the `RateLimit-Policy` field advertises it.

use core::fmt;

use super::sf;
use crate::quota::{Quota, QuotaError};

/// What a policy's quota counts (the draft's `qu` parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum QuotaUnit {
    /// Requests: the draft's default, so a policy without a unit means this.
    Requests,
    /// Bytes of content processed.
    ContentBytes,
    /// Requests in flight at the same time.
    ConcurrentRequests,
}

impl QuotaUnit {
    /// The registered token: `requests`, `content-bytes` or `concurrent-requests`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Requests => "requests",
            Self::ContentBytes => "content-bytes",
            Self::ConcurrentRequests => "concurrent-requests",
        }
    }
}

/// A named quota policy: "`quota` units per `window` seconds".
///
/// It is the neutral description every header is written from: a limiter's
/// [`Quota`] converts into one with [`from_quota`](Policy::from_quota), and a
/// tier or a keyed table supplies one per limiter. Its [`Display`](fmt::Display)
/// is one item of the `RateLimit-Policy` field of
/// draft-ietf-httpapi-ratelimit-headers-11:
///
/// ```
/// use ratecore::Quota;
/// use ratecore::http::{Policy, QuotaUnit};
///
/// let burst = Policy::new("burst", 100, 60)?;
/// assert_eq!(burst.to_string(), r#""burst";q=100;w=60"#);
///
/// let pro = Policy::from_quota("pro", &Quota::per_minute(100).burst(120))?;
/// assert_eq!(pro.to_string(), r#""pro";q=100;w=60"#);
///
/// let bytes = Policy::new("upload", 65_535, 10)?
///     .with_unit(QuotaUnit::ContentBytes)
///     .with_partition_key(b"org-7");
/// assert_eq!(bytes.to_string(), r#""upload";q=65535;qu="content-bytes";w=10;pk=:b3JnLTc=:"#);
/// # Ok::<(), ratecore::http::PolicyError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Policy<'a> {
    name: &'a str,
    quota: u64,
    window_secs: u64,
    unit: Option<QuotaUnit>,
    partition_key: Option<&'a [u8]>,
}

impl<'a> Policy<'a> {
    /// `quota` units per `window_secs` seconds, named `name`.
    ///
    /// # Errors
    ///
    /// [`PolicyError::InvalidName`] if `name` is empty or has a character
    /// outside printable ASCII (a structured-field String cannot carry it);
    /// [`PolicyError::ZeroWindow`] if `window_secs` is zero;
    /// [`PolicyError::TooLarge`] if `quota` or `window_secs` exceeds
    /// [`SF_INTEGER_MAX`](super::SF_INTEGER_MAX).
    pub const fn new(name: &'a str, quota: u64, window_secs: u64) -> Result<Self, PolicyError> {
        if name.is_empty() || !sf::is_sf_string(name) {
            Err(PolicyError::InvalidName)
        } else if window_secs == 0 {
            Err(PolicyError::ZeroWindow)
        } else if quota > sf::SF_INTEGER_MAX || window_secs > sf::SF_INTEGER_MAX {
            Err(PolicyError::TooLarge)
        } else {
            Ok(Self {
                name,
                quota,
                window_secs,
                unit: None,
                partition_key: None,
            })
        }
    }

    /// The policy of a limiter built from `quota`: `q` is the units per
    /// period and `w` the period in whole seconds, rounded up.
    ///
    /// The burst is not part of the policy: it is the limit reported in
    /// `X-RateLimit-Limit`, and with a burst above the count the `RateLimit`
    /// field's `r` can exceed `q`. A period that is not a whole number of
    /// seconds is advertised as the next whole second, which describes a
    /// slower rate than the limiter's: a client that paces itself by it is
    /// never refused.
    ///
    /// # Errors
    ///
    /// As [`new`](Policy::new), and [`PolicyError::Quota`] for a quota no
    /// limiter accepts.
    pub const fn from_quota(name: &'a str, quota: &Quota) -> Result<Self, PolicyError> {
        let (numerator, denominator) = match quota.period_in_ticks(1) {
            Ok(fraction) => fraction,
            Err(e) => return Err(PolicyError::Quota(e)),
        };
        let window = match (
            numerator.checked_div(denominator),
            numerator.checked_rem(denominator),
        ) {
            (Some(whole), Some(0)) => whole,
            // A remainder means denominator >= 2: no saturation.
            (Some(whole), Some(_)) => whole.saturating_add(1),
            _ => return Err(PolicyError::ZeroWindow),
        };
        if window > u64::MAX as u128 {
            return Err(PolicyError::TooLarge);
        }
        Self::new(name, quota.count() as u64, window as u64)
    }

    /// The same policy with the quota unit `qu` written out.
    #[must_use]
    pub const fn with_unit(self, unit: QuotaUnit) -> Self {
        Self {
            unit: Some(unit),
            ..self
        }
    }

    /// The same policy with the partition key `pk` (any bytes; written as
    /// base64). The draft advises against keys that carry sensitive data:
    /// pass an identifier, never the API key itself.
    #[must_use]
    pub const fn with_partition_key(self, key: &'a [u8]) -> Self {
        Self {
            partition_key: Some(key),
            ..self
        }
    }

    /// `quota` units with no window, named `name`: a limit that does not
    /// refill with time, such as a per-request cap (units per request) or a
    /// concurrency limit (units in flight). The fields then carry no `w`
    /// (the draft makes it optional), rather than an invented window.
    ///
    /// ```
    /// use ratecore::http::Policy;
    ///
    /// let cap = Policy::windowless("characters", 10_000)?;
    /// assert_eq!(cap.to_string(), r#""characters";q=10000"#);
    /// assert_eq!(cap.window_secs(), 0);
    /// # Ok::<(), ratecore::http::PolicyError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`new`](Policy::new), but a window cannot be wrong.
    pub const fn windowless(name: &'a str, quota: u64) -> Result<Self, PolicyError> {
        if name.is_empty() || !sf::is_sf_string(name) {
            Err(PolicyError::InvalidName)
        } else if quota > sf::SF_INTEGER_MAX {
            Err(PolicyError::TooLarge)
        } else {
            Ok(Self {
                name,
                quota,
                window_secs: 0,
                unit: None,
                partition_key: None,
            })
        }
    }

    /// The policy's name (printable ASCII, not empty).
    pub const fn name(&self) -> &'a str {
        self.name
    }

    /// Units per window (`q`).
    pub const fn quota(&self) -> u64 {
        self.quota
    }

    /// The window in seconds (`w`); zero only for a
    /// [`windowless`](Policy::windowless) policy, which has no `w`.
    pub const fn window_secs(&self) -> u64 {
        self.window_secs
    }

    /// The quota unit (`qu`), if one was set.
    pub const fn unit(&self) -> Option<QuotaUnit> {
        self.unit
    }

    /// The partition key (`pk`), if one was set.
    pub const fn partition_key(&self) -> Option<&'a [u8]> {
        self.partition_key
    }
}

impl fmt::Display for Policy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        sf::write_at_once(f, self)
    }
}

impl sf::Pieces for Policy<'_> {
    fn write_pieces<W: fmt::Write>(&self, f: &mut W) -> fmt::Result {
        // Parameter order as in the draft's examples: q, qu, w, pk.
        sf::write_string(f, self.name)?;
        f.write_str(";q=")?;
        sf::write_integer(f, self.quota)?;
        if let Some(unit) = self.unit {
            f.write_str(";qu=")?;
            sf::write_string(f, unit.as_str())?;
        }
        if self.window_secs > 0 {
            f.write_str(";w=")?;
            sf::write_integer(f, self.window_secs)?;
        }
        if let Some(key) = self.partition_key {
            f.write_str(";pk=")?;
            sf::write_byte_sequence(f, key)?;
        }
        Ok(())
    }
}

/// Why a [`Policy`] cannot be described in the RateLimit fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PolicyError {
    /// The name is empty or has a character outside printable ASCII
    /// (`0x20..=0x7E`), which a structured-field String cannot carry.
    InvalidName,
    /// The window is zero seconds; the draft requires a positive window.
    ZeroWindow,
    /// The quota or the window has more than 15 digits, the most a
    /// structured-field Integer can carry.
    TooLarge,
    /// The quota is not one any limiter accepts (see [`QuotaError`]).
    Quota(QuotaError),
}

impl PolicyError {
    /// A one-line description, usable in `const` contexts (and so by
    /// [`const_unwrap!`](crate::const_unwrap)).
    pub const fn message(&self) -> &'static str {
        match self {
            Self::InvalidName => "policy name is empty or not printable ASCII",
            Self::ZeroWindow => "policy window is zero seconds",
            Self::TooLarge => "policy quota or window exceeds 15 decimal digits",
            Self::Quota(e) => e.message(),
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl core::error::Error for PolicyError {}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;
    use crate::Duration;

    #[test]
    fn items_match_the_drafts_examples() {
        // draft-ietf-httpapi-ratelimit-headers-11, section 3.2.
        let default = Policy::new("default", 100, 10).unwrap();
        assert_eq!(default.to_string(), r#""default";q=100;w=10"#);
        let peruser = Policy::new("peruser", 65_535, 10)
            .unwrap()
            .with_unit(QuotaUnit::ContentBytes)
            .with_partition_key(&[0xB1, 0xF8, 0xE3, 0x2C, 0xB5, 0x0E, 0x51, 0xD4]);
        assert_eq!(
            peruser.to_string(),
            r#""peruser";q=65535;qu="content-bytes";w=10;pk=:sfjjLLUOUdQ=:"#
        );
    }

    #[test]
    fn names_are_escaped() {
        let odd = Policy::new(r#"a "quoted" \ name"#, 1, 1).unwrap();
        assert_eq!(odd.to_string(), r#""a \"quoted\" \\ name";q=1;w=1"#);
    }

    #[test]
    fn bad_policies_are_refused() {
        assert_eq!(Policy::new("", 1, 1), Err(PolicyError::InvalidName));
        assert_eq!(Policy::new("tab\t", 1, 1), Err(PolicyError::InvalidName));
        assert_eq!(Policy::new("é", 1, 1), Err(PolicyError::InvalidName));
        assert_eq!(Policy::new("x", 1, 0), Err(PolicyError::ZeroWindow));
        assert_eq!(
            Policy::new("x", 1_000_000_000_000_000, 1),
            Err(PolicyError::TooLarge)
        );
        assert_eq!(
            Policy::new("x", 1, 1_000_000_000_000_000),
            Err(PolicyError::TooLarge)
        );
        assert!(Policy::new("x", 999_999_999_999_999, 999_999_999_999_999).is_ok());
        assert_eq!(Policy::new("x", 0, 1).map(|p| p.quota()), Ok(0));
    }

    #[test]
    fn quotas_convert_with_the_window_rounded_up() {
        let daily = Policy::from_quota("daily", &Quota::per_day(10_000)).unwrap();
        assert_eq!((daily.quota(), daily.window_secs()), (10_000, 86_400));
        // 5 per 250 ms: the window is advertised as 1 s.
        let fast = Quota::with_period(5, Duration::<1_000>::from_ticks(250));
        let fast = Policy::from_quota("fast", &fast).unwrap();
        assert_eq!((fast.quota(), fast.window_secs()), (5, 1));
        // 1 per 90 s, given in minutes' worth of milliseconds.
        let slow = Quota::with_period(1, Duration::<1_000>::from_ticks(90_000));
        assert_eq!(Policy::from_quota("slow", &slow).unwrap().window_secs(), 90);
        assert_eq!(
            Policy::from_quota("none", &Quota::per_minute(0)),
            Err(PolicyError::Quota(QuotaError::ZeroCount))
        );
        assert_eq!(
            Policy::from_quota("", &Quota::per_minute(1)),
            Err(PolicyError::InvalidName)
        );
    }

    #[test]
    fn usable_in_a_static() {
        static FREE: Policy<'static> = crate::const_unwrap!(Policy::new("free", 5, 60));
        assert_eq!(FREE.name(), "free");
    }
}
