//! One policy's current state in whole seconds: the neutral input of every
//! header, of the 429 body and of the usage snapshot.

use core::fmt;

use super::seconds::{ceil_seconds, unix_seconds_after};
use super::{Policy, Usage, sf};
use crate::answer::{Decision, Denied, RateLimited, Status};
use crate::time::{Duration, Instant};

/// One policy's answer to one request, converted to whole seconds: what
/// every header value and the 429 body are written from.
///
/// Build it from a core answer ([`admitted`](ServiceLimit::admitted),
/// [`rate_limited`](ServiceLimit::rate_limited),
/// [`from_decision`](ServiceLimit::from_decision)) or, for any other source
/// (a tier, a keyed table, a remote limiter), from its parts with
/// [`new`](ServiceLimit::new). Every duration is rounded **up** to whole
/// seconds ([`ceil_seconds`]), and the wall-clock time is taken as an
/// [`Instant`] of ticks since the Unix epoch (what
/// `ratecore::clock::WallClock` reads), so `X-RateLimit-Reset` is exact.
///
/// Its [`Display`](fmt::Display) is one item of the `RateLimit` field
/// (draft-ietf-httpapi-ratelimit-headers-11): `"name";r=remaining;t=window`.
/// The draft's `t` is the time until more quota becomes available (-10's
/// "reset" parameter; -11 words it as the effective window within which no
/// more than `r` can be used). Here it is
///
/// - when refused: the `Retry-After` delay itself, so `Retry-After` never
///   names a time before the end of the effective window (the draft's
///   section 6);
/// - when admitted: the seconds until the limiter is full again, which is
///   never earlier than the next unit for any algorithm. For a window or an
///   interval-refill bucket that is exact; a continuously refilling limiter
///   (GCRA, greedy token bucket) has its next unit sooner, and a caller who
///   knows when can say so with
///   [`with_effective_window`](ServiceLimit::with_effective_window).
///
/// ```
/// use ratecore::{Denied, Gcra, Instant, Limiter, Quota};
/// use ratecore::http::{Policy, ServiceLimit};
///
/// let limiter = Gcra::<1_000>::new(Quota::per_minute(5))?;
/// let policy = Policy::from_quota("free", &Quota::per_minute(5))?;
/// let now = Instant::<1_000>::from_ticks(0);
/// let wall = Instant::<1_000>::from_ticks(1_700_000_000_000); // Unix ms
///
/// let status = limiter.check_at(now)?;
/// let limit = ServiceLimit::admitted(policy, &status, wall);
/// assert_eq!(limit.to_string(), r#""free";r=4;t=12"#);
/// assert_eq!(limit.reset_at_unix(), 1_700_000_012);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ServiceLimit<'a> {
    policy: Policy<'a>,
    limit: u32,
    remaining: u32,
    reset_after_secs: u64,
    reset_at_unix: u64,
    retry_after_secs: Option<u64>,
    window_secs: u64,
}

impl<'a> ServiceLimit<'a> {
    /// A policy's state from its parts, in the limiter's ticks:
    ///
    /// - `limit`: the most units that can be admitted at one instant (the burst);
    /// - `remaining`: units available now;
    /// - `reset_after`: time until the limiter is full again;
    /// - `retry_after`: `Some(exact wait)` if this request was refused, `None`
    ///   if it was admitted (or this is a peek);
    /// - `unix_now`: the wall-clock time, in ticks since the Unix epoch.
    ///
    /// A refusal's wait is at least one second, even if `retry_after` is
    /// zero: `Retry-After: 0` would invite an immediate retry.
    pub const fn new<const HZ: u64>(
        policy: Policy<'a>,
        limit: u32,
        remaining: u32,
        reset_after: Duration<HZ>,
        retry_after: Option<Duration<HZ>>,
        unix_now: Instant<HZ>,
    ) -> Self {
        let retry_after_secs = match retry_after {
            Some(wait) => {
                let secs = ceil_seconds(wait);
                Some(if secs == 0 { 1 } else { secs })
            }
            None => None,
        };
        let reset_after_secs = ceil_seconds(reset_after);
        Self {
            policy,
            limit,
            remaining,
            reset_after_secs,
            reset_at_unix: unix_seconds_after(unix_now, reset_after),
            retry_after_secs,
            window_secs: reset_after_secs,
        }
    }

    /// An admitted check's (or a peek's) state.
    pub const fn admitted<const HZ: u64>(
        policy: Policy<'a>,
        status: &Status<HZ>,
        unix_now: Instant<HZ>,
    ) -> Self {
        Self::from_status(policy, status, None, unix_now)
    }

    /// A refused check's state, with its `Retry-After`.
    pub const fn rate_limited<const HZ: u64>(
        policy: Policy<'a>,
        limited: &RateLimited<HZ>,
        unix_now: Instant<HZ>,
    ) -> Self {
        let retry_after = Some(limited.retry_after());
        Self::from_status(policy, &limited.status(), retry_after, unix_now)
    }

    /// The state a core answer's [`Status`] describes, refused with
    /// `retry_after` if that is `Some`.
    const fn from_status<const HZ: u64>(
        policy: Policy<'a>,
        status: &Status<HZ>,
        retry_after: Option<Duration<HZ>>,
        unix_now: Instant<HZ>,
    ) -> Self {
        Self::new(
            policy,
            status.limit(),
            status.remaining(),
            status.reset_after(),
            retry_after,
            unix_now,
        )
    }

    /// The state after any check.
    ///
    /// # Errors
    ///
    /// Every refusal other than [`Denied::RateLimited`] is returned as it is:
    /// waiting does not help with [`Denied::ExceedsBurst`] or
    /// [`Denied::ExceedsRequestCap`] (a server answers a client error such as
    /// 413, saying the most a request may cost), and [`Denied::AtCapacity`]
    /// has no known wait (a server answers 429 or 503 without `Retry-After`).
    pub const fn from_decision<const HZ: u64>(
        policy: Policy<'a>,
        decision: &Decision<HZ>,
        unix_now: Instant<HZ>,
    ) -> Result<Self, Denied<HZ>> {
        match decision {
            Ok(status) => Ok(Self::admitted(policy, status, unix_now)),
            Err(Denied::RateLimited(limited)) => Ok(Self::rate_limited(policy, limited, unix_now)),
            Err(other) => Err(*other),
        }
    }

    /// The policy this state belongs to.
    pub const fn policy(&self) -> &Policy<'a> {
        &self.policy
    }

    /// The most units that can be admitted at one instant (`X-RateLimit-Limit`).
    pub const fn limit(&self) -> u32 {
        self.limit
    }

    /// Units available now (`X-RateLimit-Remaining`, the draft's `r`).
    pub const fn remaining(&self) -> u32 {
        self.remaining
    }

    /// Whole seconds until the limiter is full again, rounded up.
    pub const fn reset_after_secs(&self) -> u64 {
        self.reset_after_secs
    }

    /// The Unix second at which the limiter is full again, rounded up
    /// (`X-RateLimit-Reset`).
    pub const fn reset_at_unix(&self) -> u64 {
        self.reset_at_unix
    }

    /// `Some(Retry-After seconds)` if the request was refused: the exact wait
    /// rounded up, never zero.
    pub const fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_secs
    }

    /// Whether the request was refused.
    pub const fn is_rate_limited(&self) -> bool {
        self.retry_after_secs.is_some()
    }

    /// The draft's `t`, in seconds: the `Retry-After` delay when refused;
    /// when admitted, the time until full or what
    /// [`with_effective_window`](ServiceLimit::with_effective_window) set.
    pub const fn effective_window_secs(&self) -> u64 {
        match self.retry_after_secs {
            Some(secs) => secs,
            None => self.window_secs,
        }
    }

    /// The same state with the admitted request's `t` set to `window` (rounded
    /// up): the time until the next unit, for a limiter that refills sooner
    /// than it is full again. A refusal's `t` stays its `Retry-After`.
    #[must_use]
    pub const fn with_effective_window<const HZ: u64>(self, window: Duration<HZ>) -> Self {
        Self {
            window_secs: ceil_seconds(window),
            ..self
        }
    }

    /// The usage snapshot of this state.
    pub const fn usage(&self) -> Usage {
        Usage::new(self.limit, self.remaining)
    }
}

impl fmt::Display for ServiceLimit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        sf::write_at_once(f, self)
    }
}

impl sf::Pieces for ServiceLimit<'_> {
    fn write_pieces<W: fmt::Write>(&self, f: &mut W) -> fmt::Result {
        sf::write_string(f, self.policy.name())?;
        f.write_str(";r=")?;
        sf::write_integer(f, u64::from(self.remaining))?;
        // A windowless limit (a cap, units in flight) that admitted has no
        // time to report: `t` is optional in the draft, and left out rather
        // than invented. A refusal always carries its `Retry-After` as `t`.
        if self.is_rate_limited() || self.policy.window_secs() > 0 {
            f.write_str(";t=")?;
            // Clamping can only lower `t`, which keeps `Retry-After >= t`.
            sf::write_integer(f, self.effective_window_secs())?;
        }
        if let Some(key) = self.policy.partition_key() {
            f.write_str(";pk=")?;
            sf::write_byte_sequence(f, key)?;
        }
        Ok(())
    }
}
