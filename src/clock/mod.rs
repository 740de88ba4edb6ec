//! Clocks: a manual one for tests and simulations, an adapter for wrapping
//! 32-bit hardware counters, and `std` and `embassy-time` ones.

mod manual;
pub use manual::ManualClock;

mod wrapping;
pub use wrapping::WrappingCounter;

#[cfg(feature = "std")]
mod std_clocks;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use std_clocks::{MonotonicClock, WallClock};

#[cfg(feature = "embassy-time")]
#[cfg_attr(docsrs, doc(cfg(feature = "embassy-time")))]
pub mod embassy;
#[cfg(feature = "embassy-time")]
#[cfg_attr(docsrs, doc(cfg(feature = "embassy-time")))]
pub use embassy::EmbassyClock;
