//! Total integer division for the answers and the virtual-time machine.

/// `a / b` rounded down, a divisor of 0 read as 1: the crate's own divisors
/// are non-zero by construction, and an answer an algorithm in another
/// crate builds ([`Status::scaled`](crate::Status::scaled)) reads a zero
/// `unit` or `scale` as 1.
pub(crate) const fn div(a: u64, b: u64) -> u64 {
    // Dividing by 1 is the common case (a scale or cost of 1), and a
    // hardware division costs tens of cycles: skip it (and 0 with it, in
    // the same compare).
    if b <= 1 {
        return a;
    }
    match a.checked_div(b) {
        Some(q) => q,
        // Never: `b > 1` here; kept so the function is total without a panic.
        None => a,
    }
}

/// `a / b` rounded up, total like [`div`].
pub(crate) const fn div_ceil(a: u64, b: u64) -> u64 {
    // See `div`: a divisor of 1 (or 0, read as 1) is common and costs a
    // division.
    if b <= 1 {
        return a;
    }
    match a.checked_rem(b) {
        Some(0) | None => div(a, b),
        Some(_) => div(a, b).saturating_add(1),
    }
}
