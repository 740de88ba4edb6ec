//! What a keyed check answers, and what it does when the table is full.

use crate::answer::{Denied, Status};

/// What a [`KeyedLimiter`](crate::KeyedLimiter) does with a check that needs a
/// slot for a new (or returning, idle) key when every slot the key may use
/// holds another key that is still active.
///
/// Either way nothing is recorded for the key, no other key is disturbed, and
/// [`full_count`](crate::KeyedLimiter::full_count) counts the check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WhenFull {
    /// Refuse: the check answers [`Denied::TableFull`]. Fails closed.
    Deny,
    /// Admit without any limit: the check answers [`Admitted::Unlimited`]. Fails open.
    Allow,
}

/// A keyed check that was admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Admitted<const HZ: u64> {
    /// The key's own limiter admitted the units; its status after the check.
    Limited(Status<HZ>),
    /// Admitted with no limit applied and nothing recorded: the table had no
    /// room for the key and its policy is [`WhenFull::Allow`], or the table
    /// is switched off (a [`Toggle`](crate::compose::Toggle) around it).
    Unlimited,
}

impl<const HZ: u64> Admitted<HZ> {
    /// The key's status, or `None` if the check was admitted unlimited.
    pub const fn status(&self) -> Option<Status<HZ>> {
        match self {
            Self::Limited(status) => Some(*status),
            Self::Unlimited => None,
        }
    }
}

/// The answer of every keyed check: admitted (by the key's limiter, or
/// unlimited by the [`WhenFull::Allow`] policy), or [`Denied`].
pub type KeyedDecision<const HZ: u64> = Result<Admitted<HZ>, Denied<HZ>>;
