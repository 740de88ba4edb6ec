//! Links with cortex-m-rt's `link.x`, and puts `memory.x` (which it includes)
//! on the linker's search path, wherever cargo runs the linker. Done here
//! rather than in `.cargo/config.toml` so that a `RUSTFLAGS` in the
//! environment (which replaces config rustflags) cannot drop it.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("OUT_DIR is writable");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
}
