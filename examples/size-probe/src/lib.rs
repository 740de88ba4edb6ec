//! The checks whose code size `.ci/firmware-size` reports, one
//! `#[inline(never)]` wrapper each, in the module [`size`] (the symbol names
//! the script looks for), shared by every firmware build that reports them.

#![no_std]

pub mod size;
