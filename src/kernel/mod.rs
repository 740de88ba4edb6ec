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

pub(crate) mod cas;
mod charge;
mod limiter;
mod reservation;
mod step;
pub(crate) mod sync;
mod word;

pub use charge::{Charge, Receipt};
pub use limiter::{Limiter, Refund};
pub use reservation::Reservation;
pub(crate) use step::Booking;
pub use step::{Algorithm, Step, fingerprint};
pub use word::{WordLimiter, WordRef};

/// The atomic word a [`WordRef`] applies an algorithm to (portable-atomic's,
/// so that cores without 64-bit atomics have one too).
#[cfg(not(loom))]
pub use portable_atomic::AtomicU64;
