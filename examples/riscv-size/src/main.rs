//! Every check of the size probe, linked for riscv32imc so that
//! `.ci/firmware-size` can read each one's code size. Never run: `_start`
//! only calls each check once so that the linker keeps it.

#![no_std]
#![no_main]

// The single-hart critical section that ratecore's 64-bit atomics use.
use riscv as _;

use ratecore_size_probe::size;

/// The entry point the linker script names.
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let passed = size::exercise();
    core::hint::black_box(passed);
    loop {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
