//! Plans: which of a keyed table's algorithms applies to a key.

use core::fmt;

/// The index of one of the `P` plans of a [`KeyedLimiter`](crate::KeyedLimiter)
/// (free, pro, enterprise, ...), checked against `P` when it is made.
///
/// A key is identified by its value *and* its plan: the same key under two
/// plans has two independent states. Moving a key to another plan therefore
/// starts it afresh under the new plan, and the old state is reclaimed once it
/// is idle.
///
/// ```
/// use ratecore::keyed::Plan;
///
/// const PRO: Plan<3> = ratecore::const_unwrap!(Plan::new(1));
/// assert_eq!(PRO.index(), 1);
/// assert!(Plan::<3>::new(3).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Plan<const P: usize>(u8);

impl<const P: usize> Plan<P> {
    /// The first plan, index 0 (every table has one).
    pub const FIRST: Self = Self(0);

    /// The plan at `index`.
    ///
    /// # Errors
    ///
    /// [`PlanError`] if `index` is not below `P`, or not below 256 (a table
    /// holds at most 256 plans).
    pub const fn new(index: usize) -> Result<Self, PlanError> {
        if index < P && index <= u8::MAX as usize {
            // In range of `u8`, checked just above.
            Ok(Self(index as u8))
        } else {
            Err(PlanError { index, plans: P })
        }
    }

    /// The index, below `P`.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    pub(crate) const fn byte(self) -> u8 {
        self.0
    }
}

impl<const P: usize> Default for Plan<P> {
    fn default() -> Self {
        Self::FIRST
    }
}

/// A plan index that the table does not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct PlanError {
    /// The index asked for.
    pub index: usize,
    /// How many plans there are (`P`).
    pub plans: usize,
}

impl PlanError {
    /// A one-line description, usable in `const` contexts (and so by
    /// [`const_unwrap!`](crate::const_unwrap)).
    pub const fn message(&self) -> &'static str {
        "plan index out of range: a table of P plans has indices 0..P (at most 256)"
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "plan index {} out of range: the table has {} plans",
            self.index, self.plans
        )
    }
}

impl core::error::Error for PlanError {}
