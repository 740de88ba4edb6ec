//! Composition: limiters built from other limiters. All-or-nothing tiers
//! ("100 per minute and 10,000 per day"), a per-request cap, an on/off
//! switch, and the limiter that admits everything.

mod capped;
mod tiers;
mod toggle;
mod unlimited;

pub use capped::Capped;
pub(crate) use tiers::all_or_nothing;
pub use tiers::{Tier, TierAnswer, TierDecision, Tiers};
pub use toggle::Toggle;
pub use unlimited::{OrUnlimited, Unlimited};
