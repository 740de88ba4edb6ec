//! The kernel layer: the step trait, the state stores and the one
//! compare-and-swap loop.

pub(crate) mod algorithm;
pub(crate) mod charge;
pub(crate) mod limiter;
pub(crate) mod one_word;
pub(crate) mod reservation;
pub(crate) mod sync;
