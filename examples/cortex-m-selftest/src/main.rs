//! ratecore's invariant checks, on a Cortex-M core.
//!
//! Each algorithm is one suite (a function returning how many checks passed,
//! or the first failure); add a line to `SUITES` for a new one. The program
//! prints each result and the RAM of each limiter through semihosting, then
//! exits through semihosting: status 0 if every suite passed, 1 otherwise.
//! Under QEMU that is QEMU's exit status.

#![no_std]
#![no_main]

mod gcra;
mod harness;
mod token_bucket;

use core::mem::size_of;

use cortex_m_rt::entry;
use cortex_m_semihosting::debug::{self, EXIT_FAILURE, EXIT_SUCCESS};
use cortex_m_semihosting::hprintln;
use ratecore_size_probe::size;

type Suite = fn() -> Result<u32, harness::Failure>;

/// Every algorithm's checks.
const SUITES: &[(&str, Suite)] = &[("Gcra", gcra::run), ("TokenBucket", token_bucket::run)];

#[entry]
fn main() -> ! {
    hprintln!("ratecore self-test");
    let mut passed = size::exercise();
    if !passed {
        hprintln!("FAILED: a fresh limiter denied its first check");
    }
    for (name, suite) in SUITES {
        match suite() {
            Ok(checks) => hprintln!("{}: {} checks passed", name, checks),
            Err(failure) => {
                hprintln!("{}: FAILED at {}", name, failure);
                passed = false;
            }
        }
    }
    hprintln!(
        "RAM per limiter: Gcra {} bytes, TokenBucket {} bytes (state word 8 bytes)",
        size_of::<ratecore::Gcra<{ size::HZ }>>(),
        size_of::<ratecore::TokenBucket<{ size::HZ }>>()
    );
    hprintln!(
        "{}",
        if passed {
            "self-test passed"
        } else {
            "self-test FAILED"
        }
    );
    debug::exit(if passed { EXIT_SUCCESS } else { EXIT_FAILURE });
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("panic: {}", info);
    debug::exit(EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
