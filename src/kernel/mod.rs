//! The kernel: the step of an algorithm over one `u64` of state, the stores
//! that hold that word, and the one compare-and-swap loop that applies a
//! step to a word.
//!
//! Everything the crate builds its own limiters from is here and public: an
//! algorithm written in another crate implements [`Algorithm`] and is then a
//! limiter ([`WordLimiter`]), a `static` word with a `const` configuration
//! ([`WordRef`]), a keyed table's algorithm ([`KeyedLimiter`](crate::KeyedLimiter)),
//! a tier ([`Tiers`](crate::Tiers)), and a remote store's decision (read a
//! word, [`Algorithm::decide`], commit with a compare-and-set, expire after
//! [`Algorithm::idle_after`]).
//!
//! Two more stores: [`Reconfigurable`], a table of plans whose plan changes
//! through `&self` (the plan's index and the state in one 128-bit word), and
//! [`Saved`], a one-word limiter's state with its configuration's
//! fingerprint, to restore after a restart.

pub(crate) mod cas;
mod charge;
mod limiter;
mod reconfigurable;
mod reservation;
mod saved;
mod step;
pub(crate) mod sync;
mod word;

pub use charge::{Charge, Receipt};
pub use limiter::{Limiter, Refund};
pub use reconfigurable::{Carry, MAX_PLANS, Reconfigurable, Reconfigure, ReconfigureError};
pub use reservation::Reservation;
pub use saved::{RestoreError, Saved};
pub(crate) use step::Booking;
pub use step::{Algorithm, Step, fingerprint};
pub use word::{CacheAligned, PaddedWordLimiter, WordLimiter, WordRef};

/// The atomic word a [`WordRef`] applies an algorithm to (portable-atomic's,
/// so that cores without 64-bit atomics have one too), and the memory
/// orderings of its operations.
#[cfg(not(loom))]
pub use sync::{AtomicU64, Ordering};
