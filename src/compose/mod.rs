//! The composition layer: limiters built from other limiters.

pub(crate) mod capped;
pub(crate) mod tiers;
pub(crate) mod toggle;
pub(crate) mod unlimited;
