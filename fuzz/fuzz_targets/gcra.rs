//! `Gcra` against its reference model (the kit's `model`), on any quota and
//! any trace, with the invariants; and the same bytes as a script of quota
//! changes at fresh and stale instants among checks (`n = 0` included),
//! reservations, cancels, settles, charges, undos and resets, within the
//! span bound of the looser quota (the kit's `requota`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ratecore_testkit::requota::fuzz_bytes(data, false));
