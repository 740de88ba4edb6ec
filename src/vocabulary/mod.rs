//! The vocabulary layer: time, quotas and every answer a limiter gives.
//!
//! Nothing here depends on any other layer of the crate.

pub mod answer;
pub(crate) mod arith;
pub mod quota;
pub mod time;
