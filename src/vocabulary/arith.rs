//! Total integer division for the answers and the virtual-time machine.

/// `a / b` rounded down. Every divisor the crate passes is non-zero by
/// construction; the `0` for `b == 0` only keeps the function total.
pub(crate) const fn div(a: u64, b: u64) -> u64 {
    // Dividing by 1 is the common case (a scale or cost of 1), and a
    // hardware division costs tens of cycles: skip it.
    if b == 1 {
        return a;
    }
    match a.checked_div(b) {
        Some(q) => q,
        None => 0,
    }
}

/// `a / b` rounded up, total like [`div`].
pub(crate) const fn div_ceil(a: u64, b: u64) -> u64 {
    // See `div`: a divisor of 1 is common and costs a division.
    if b == 1 {
        return a;
    }
    match a.checked_rem(b) {
        Some(0) | None => div(a, b),
        Some(_) => div(a, b).saturating_add(1),
    }
}
