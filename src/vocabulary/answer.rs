//! What a check answers.

use core::fmt;

use crate::time::Duration;
use crate::vocabulary::arith::{Fraction, div, div_ceil};

/// The limiter's state as an HTTP server reports it: on an admitted check, and
/// from a side-effect-free [`snapshot_at`](crate::Limiter::snapshot_at).
///
/// An answer carries the numbers its fields are computed from, not the
/// fields: a caller that only asks `is_ok()` pays for no division, and
/// [`remaining`](Status::remaining) and [`reset_after`](Status::reset_after)
/// are computed when read. An algorithm in another crate builds one with
/// [`Status::new`] (plain values) or [`Status::scaled`] (the numbers behind
/// them).
#[derive(Clone, Copy)]
pub struct Status<const HZ: u64> {
    limit: u32,
    /// Free capacity, in `1 / unit` of a unit.
    room: u64,
    /// What one unit costs in `room`'s scale; `0` is read as 1 (see
    /// [`Status::scaled`]).
    unit: u64,
    /// Time until full, in `1 / scale` of a tick.
    until_full: u64,
    /// Parts of a tick `until_full` is counted in; `0` is read as 1.
    scale: u64,
}

impl<const HZ: u64> Status<HZ> {
    /// A status from plain values: `remaining` of `limit` units left, full
    /// again after `reset_after`.
    pub const fn new(limit: u32, remaining: u32, reset_after: Duration<HZ>) -> Self {
        Self::scaled(limit, remaining as u64, 1, reset_after.as_ticks(), 1)
    }

    /// A status from the numbers an algorithm has at hand: `room / unit`
    /// units remain (rounded down), and the limiter is full again after
    /// `until_full / scale` ticks (rounded up). A zero `unit` or `scale` is
    /// read as 1.
    pub const fn scaled(limit: u32, room: u64, unit: u64, until_full: u64, scale: u64) -> Self {
        Self {
            limit,
            room,
            // Stored as given, and a zero read as 1 by the readers (`div`
            // and `div_ceil` skip a divisor of 0 or 1 alike): the check that
            // builds the answer pays no compare for it.
            unit,
            until_full,
            scale,
        }
    }

    /// The most units that can ever be admitted at one instant (the burst).
    pub const fn limit(&self) -> u32 {
        self.limit
    }

    /// Exactly how many more single-unit checks would succeed at the same
    /// instant.
    #[inline]
    pub const fn remaining(&self) -> u32 {
        let units = div(self.room, self.unit);
        if units > u32::MAX as u64 {
            u32::MAX
        } else {
            units as u32
        }
    }

    /// Time until the limiter is full again (zero if it is full now).
    #[inline]
    pub const fn reset_after(&self) -> Duration<HZ> {
        Duration::<HZ>::from_ticks(div_ceil(self.until_full, self.scale))
    }

    /// The units left as the exact fraction [`remaining`](Status::remaining)
    /// rounds down (before it saturates at `u32::MAX`), to order statuses
    /// by without a division.
    #[inline]
    pub(crate) const fn units_left(&self) -> Fraction {
        Fraction::new(self.room, self.unit)
    }
}

impl<const HZ: u64> PartialEq for Status<HZ> {
    /// Statuses are equal when they answer alike, whatever numbers they
    /// were computed from.
    fn eq(&self, other: &Self) -> bool {
        self.limit == other.limit
            && self.remaining() == other.remaining()
            && self.reset_after() == other.reset_after()
    }
}

impl<const HZ: u64> Eq for Status<HZ> {}

/// `Debug` for an answer, as a struct of what its getters answer rather than
/// of the numbers they are computed from, so answers that answer alike (and
/// so are equal) print alike.
macro_rules! debug_answers {
    ($($ty:ident { $($getter:ident),* })*) => {$(
        impl<const HZ: u64> fmt::Debug for $ty<HZ> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($getter), &self.$getter()))*
                    .finish()
            }
        }
    )*};
}

debug_answers! {
    Status { limit, remaining, reset_after }
    RateLimited { limit, remaining, retry_after, reset_after }
}

crate::macros::defmt_format!(
    impl[const HZ: u64] for Status<HZ> => |status|
        "Status {{ limit: {=u32}, remaining: {=u32}, reset_after: {=u64} ticks }}",
        status.limit,
        status.remaining(),
        status.reset_after().as_ticks(),
);

/// A check that can succeed later: the limiter has too little capacity now.
///
/// Like [`Status`], it carries the numbers its fields are computed from.
#[derive(Clone, Copy)]
pub struct RateLimited<const HZ: u64> {
    status: Status<HZ>,
    /// Time until the check fits, in `1 / status.scale` of a tick.
    short: u64,
}

impl<const HZ: u64> RateLimited<HZ> {
    /// A refusal from plain values. A zero `retry_after` is read as one tick.
    pub const fn new(
        limit: u32,
        remaining: u32,
        retry_after: Duration<HZ>,
        reset_after: Duration<HZ>,
    ) -> Self {
        Self {
            status: Status::new(limit, remaining, reset_after),
            short: retry_after.as_ticks(),
        }
    }

    /// A refusal from the numbers an algorithm has at hand: the state as a
    /// [`Status::scaled`], and the time until the check fits, `until_fits /
    /// scale` ticks (rounded up) in the status's `scale`.
    pub const fn scaled(status: Status<HZ>, until_fits: u64) -> Self {
        Self {
            status,
            short: until_fits,
        }
    }

    /// The most units that can ever be admitted at one instant (the burst).
    pub const fn limit(&self) -> u32 {
        self.status.limit
    }

    /// Units available now (fewer than were asked for).
    #[inline]
    pub const fn remaining(&self) -> u32 {
        self.status.remaining()
    }

    /// Exact wait: the same check at `now + retry_after` succeeds (if nothing
    /// else is admitted meanwhile) and at `now + retry_after - 1 tick` fails.
    /// Never zero. A wait longer than `u64::MAX` ticks (possible only at the
    /// very end of the time line) is reported as `u64::MAX` ticks.
    #[inline]
    pub const fn retry_after(&self) -> Duration<HZ> {
        let ticks = div_ceil(self.short, self.status.scale);
        Duration::<HZ>::from_ticks(if ticks == 0 { 1 } else { ticks })
    }

    /// Time until the limiter is full again.
    #[inline]
    pub const fn reset_after(&self) -> Duration<HZ> {
        self.status.reset_after()
    }

    /// The state the refusal saw, as a [`Status`].
    pub const fn status(&self) -> Status<HZ> {
        self.status
    }
}

impl<const HZ: u64> PartialEq for RateLimited<HZ> {
    /// Refusals are equal when they answer alike.
    fn eq(&self, other: &Self) -> bool {
        self.status == other.status && self.retry_after() == other.retry_after()
    }
}

impl<const HZ: u64> Eq for RateLimited<HZ> {}

crate::macros::defmt_format!(
    impl[const HZ: u64] for RateLimited<HZ> => |limited|
        "RateLimited {{ limit: {=u32}, remaining: {=u32}, retry_after: {=u64} ticks, reset_after: {=u64} ticks }}",
        limited.limit(),
        limited.remaining(),
        limited.retry_after().as_ticks(),
        limited.reset_after().as_ticks(),
);

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
    /// [`Capped`](crate::compose::Capped) limiter, whatever quota remains.
    ExceedsRequestCap(ExceedsRequestCap),
    /// Not now, for an unknown time: a [`ConcurrencyLimit`](crate::ConcurrencyLimit)
    /// has too few free units, and they free up when permits are released.
    AtCapacity(AtCapacity),
    /// A [`KeyedLimiter`](crate::KeyedLimiter) with [`WhenFull::Deny`](crate::keyed::WhenFull::Deny)
    /// had no slot for a new key: every slot it may use holds an active key.
    TableFull(TableFull),
}

impl<const HZ: u64> Denied<HZ> {
    /// The exact wait, or `None` if waiting cannot help (or, for
    /// [`AtCapacity`](Denied::AtCapacity), the wait is not known).
    pub const fn retry_after(&self) -> Option<Duration<HZ>> {
        match self {
            Self::RateLimited(r) => Some(r.retry_after()),
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
            self.remaining(),
            self.limit(),
            self.retry_after().as_ticks(),
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

impl ExceedsBurst {
    /// `requested` units asked of a limiter whose burst is `burst`.
    pub const fn new(requested: u32, burst: u32) -> Self {
        Self { requested, burst }
    }
}

impl ExceedsRequestCap {
    /// `requested` units asked where one request may carry `cap`.
    pub const fn new(requested: u32, cap: u32) -> Self {
        Self { requested, cap }
    }
}

impl AtCapacity {
    /// `requested` units asked while `active` of `limit` are in flight.
    pub const fn new(requested: u32, active: u32, limit: u32) -> Self {
        Self {
            requested,
            active,
            limit,
        }
    }
}

impl TableFull {
    /// No room for a key among the `window` slots it may use.
    pub const fn new(window: u32) -> Self {
        Self { window }
    }
}
