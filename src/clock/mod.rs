//! Clocks: a manual one for tests and simulations, and `std` ones.

mod manual;
pub use manual::ManualClock;

#[cfg(feature = "std")]
mod std_clocks;
#[cfg(feature = "std")]
pub use std_clocks::{MonotonicClock, WallClock};
