//! Usage snapshots for monitoring: how much of a limit is spent.

use crate::answer::{RateLimited, Status};

/// How much of a limit is spent: for dashboards and "alert at 80%" rules.
///
/// Built from any answer ([`Status`], [`RateLimited`], a
/// [`ServiceLimit`](super::ServiceLimit)) or from `limit` and `remaining`.
/// Utilization is an exact integer in per-mille, **rounded down**, so
/// 1000 ‰ means exactly exhausted and is never shown while a unit is left;
/// the threshold tests compare exactly, without that rounding.
///
/// ```
/// use ratecore::http::Usage;
///
/// let usage = Usage::new(120, 23); // 97 of 120 spent
/// assert_eq!(usage.used(), 97);
/// assert_eq!(usage.utilization_per_mille(), 808); // 808.33... rounded down
/// assert!(usage.is_near_limit_percent(80));
/// assert!(!usage.is_near_limit_per_mille(809));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Usage {
    limit: u32,
    remaining: u32,
}

impl Usage {
    /// The usage of a limit with `remaining` units left, `remaining` capped at
    /// `limit`.
    pub const fn new(limit: u32, remaining: u32) -> Self {
        Self {
            limit,
            remaining: if remaining > limit { limit } else { remaining },
        }
    }

    /// The limit (the burst: the most units available at once).
    pub const fn limit(&self) -> u32 {
        self.limit
    }

    /// Units available now.
    pub const fn remaining(&self) -> u32 {
        self.remaining
    }

    /// Units spent: `limit - remaining`.
    pub const fn used(&self) -> u32 {
        self.limit.saturating_sub(self.remaining)
    }

    /// `used / limit` in per-mille, rounded down: 0 to 1000. A zero limit
    /// admits nothing and counts as fully used (1000).
    pub const fn utilization_per_mille(&self) -> u16 {
        match (self.used() as u64)
            .saturating_mul(1_000)
            .checked_div(self.limit as u64)
        {
            // At most 1000: used <= limit.
            Some(per_mille) => per_mille as u16,
            None => 1_000,
        }
    }

    /// Whether at least `threshold` per-mille of the limit is spent, exactly:
    /// `used / limit >= threshold / 1000` (a zero limit counts as 1000 ‰).
    pub const fn is_near_limit_per_mille(&self, threshold: u32) -> bool {
        if self.limit == 0 {
            return threshold <= 1_000;
        }
        // Both products fit in a u64: (2^32 - 1)^2 < 2^64.
        (self.used() as u64).saturating_mul(1_000)
            >= (threshold as u64).saturating_mul(self.limit as u64)
    }

    /// Whether at least `percent` % of the limit is spent, exactly.
    pub const fn is_near_limit_percent(&self, percent: u32) -> bool {
        self.is_near_limit_per_mille(percent.saturating_mul(10))
    }
}

impl<const HZ: u64> From<Status<HZ>> for Usage {
    fn from(status: Status<HZ>) -> Self {
        Self::new(status.limit(), status.remaining())
    }
}

impl<const HZ: u64> From<RateLimited<HZ>> for Usage {
    fn from(limited: RateLimited<HZ>) -> Self {
        Self::new(limited.limit(), limited.remaining())
    }
}
