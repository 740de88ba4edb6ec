//! What a check answers.

use core::fmt;

use crate::time::Duration;

/// The limiter's state as an HTTP server reports it: on an admitted check, and
/// from a side-effect-free [`snapshot_at`](crate::Limiter::snapshot_at).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Status<const HZ: u64> {
    /// The most units that can ever be admitted at one instant (the burst).
    pub limit: u32,
    /// Exactly how many more single-unit checks would succeed at the same instant.
    pub remaining: u32,
    /// Time until the limiter is full again (zero if it is full now).
    pub reset_after: Duration<HZ>,
}

/// A check that can succeed later: the limiter has too little capacity now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct RateLimited<const HZ: u64> {
    /// The most units that can ever be admitted at one instant (the burst).
    pub limit: u32,
    /// Units available now (fewer than were asked for).
    pub remaining: u32,
    /// Exact wait: the same check at `now + retry_after` succeeds (if nothing
    /// else is admitted meanwhile) and at `now + retry_after - 1 tick` fails.
    /// Never zero. A wait longer than `u64::MAX` ticks (possible only at the
    /// very end of the time line) is reported as `u64::MAX` ticks.
    pub retry_after: Duration<HZ>,
    /// Time until the limiter is full again.
    pub reset_after: Duration<HZ>,
}

/// A check that can never succeed: it asks for more units than the burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct ExceedsBurst {
    /// Units asked for.
    pub requested: u32,
    /// The most units one check can ask for.
    pub burst: u32,
}

/// A check that can never succeed: it asks for more units than one request
/// may carry (a request of 25,000 characters against a 20,000-per-request
/// cap), however much quota remains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct ExceedsRequestCap {
    /// Units asked for.
    pub requested: u32,
    /// The most units one request may ask for.
    pub cap: u32,
}

/// A [`ConcurrencyLimit`](crate::ConcurrencyLimit) has too few free units:
/// `active` of `limit` are in flight ("5/5 predictions running").
///
/// When `requested > limit` waiting cannot help: the request can never fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct AtCapacity {
    /// Units asked for.
    pub requested: u32,
    /// Units in flight when the request was refused.
    pub active: u32,
    /// The most units in flight at once.
    pub limit: u32,
}

/// Why a check was not admitted. Nothing was charged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Denied<const HZ: u64> {
    /// Not now: retry after [`RateLimited::retry_after`].
    RateLimited(RateLimited<HZ>),
    /// Never: `n` is larger than the burst. Split the request or raise the burst.
    ExceedsBurst(ExceedsBurst),
    /// Never: `n` is larger than the per-request cap of a
    /// [`Capped`](crate::Capped) limiter, whatever quota remains.
    ExceedsRequestCap(ExceedsRequestCap),
    /// Not now, for an unknown time: a [`ConcurrencyLimit`](crate::ConcurrencyLimit)
    /// has too few free units, and they free up when permits are released.
    AtCapacity(AtCapacity),
    /// A [`KeyedLimiter`](crate::KeyedLimiter) with [`WhenFull::Deny`](crate::WhenFull::Deny)
    /// had no slot for a new key: every slot it may use holds an active key.
    TableFull(TableFull),
}

impl<const HZ: u64> Denied<HZ> {
    /// The exact wait, or `None` if waiting cannot help (or, for
    /// [`AtCapacity`](Denied::AtCapacity), the wait is not known).
    pub const fn retry_after(&self) -> Option<Duration<HZ>> {
        match self {
            Self::RateLimited(r) => Some(r.retry_after),
            Self::ExceedsBurst(_)
            | Self::ExceedsRequestCap(_)
            | Self::AtCapacity(_)
            | Self::TableFull(_) => None,
        }
    }
}

/// The answer of every check: admitted with the new [`Status`], or [`Denied`].
pub type Decision<const HZ: u64> = Result<Status<HZ>, Denied<HZ>>;

impl<const HZ: u64> fmt::Display for RateLimited<HZ> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rate limited: {} of {} units available, retry after {} ticks of 1/{} s",
            self.remaining,
            self.limit,
            self.retry_after.as_ticks(),
            HZ
        )
    }
}

impl fmt::Display for ExceedsBurst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} units requested but at most {} can ever be admitted at once",
            self.requested, self.burst
        )
    }
}

impl fmt::Display for ExceedsRequestCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} units requested but one request may ask for at most {}",
            self.requested, self.cap
        )
    }
}

impl fmt::Display for AtCapacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at capacity: {}/{} in flight, {} more requested",
            self.active, self.limit, self.requested
        )
    }
}

impl<const HZ: u64> fmt::Display for Denied<HZ> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RateLimited(r) => r.fmt(f),
            Self::ExceedsBurst(e) => e.fmt(f),
            Self::ExceedsRequestCap(e) => e.fmt(f),
            Self::AtCapacity(e) => e.fmt(f),
            Self::TableFull(t) => t.fmt(f),
        }
    }
}

impl<const HZ: u64> core::error::Error for RateLimited<HZ> {}
impl core::error::Error for ExceedsBurst {}
impl core::error::Error for ExceedsRequestCap {}
impl core::error::Error for AtCapacity {}
impl<const HZ: u64> core::error::Error for Denied<HZ> {}

/// A keyed check refused because the table had no room for its key: every
/// slot the key may use holds another key that is still active. Nothing was
/// charged. Retrying helps once some of those keys go idle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct TableFull {
    /// How many slots the key may use (the probe window).
    pub window: u32,
}

impl fmt::Display for TableFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "keyed table full: all {} slots this key may use hold active keys",
            self.window
        )
    }
}

impl core::error::Error for TableFull {}
