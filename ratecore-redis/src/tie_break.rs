//! How a set of tiers names the limit that binds, exactly as ratecore's
//! in-memory `Tiers` does, so answers from the store match memory's.

use ratecore::{Denied, Status};

/// Which of two admitted tiers binds, as ratecore's `Tiers` chooses: the
/// smaller `remaining`, then the larger `reset_after`, then the lower
/// position (`a` is the earlier position). True when `b` binds tighter.
pub(crate) fn tighter<const HZ: u64>(a: &Status<HZ>, b: &Status<HZ>) -> bool {
    let key = |s: &Status<HZ>| (u32::MAX - s.remaining(), s.reset_after().as_ticks());
    key(b) > key(a)
}

/// Which of two denials is more restrictive, as ratecore's `Tiers` chooses:
/// never-passing first, then the longest `retry_after` (then the smallest
/// `remaining`), then an unknown wait; ties to `a`, the earlier position.
/// True when `b` is more restrictive.
pub(crate) fn more_restrictive<const HZ: u64>(a: &Denied<HZ>, b: &Denied<HZ>) -> bool {
    fn severity<const HZ: u64>(denied: &Denied<HZ>) -> (u8, u64, u32) {
        match denied {
            Denied::RateLimited(limited) => (
                1,
                limited.retry_after().as_ticks(),
                u32::MAX.saturating_sub(limited.remaining()),
            ),
            Denied::ExceedsBurst(_) | Denied::ExceedsRequestCap(_) => (2, 0, 0),
            // Waiting helps, for a time no one knows (units in flight).
            _ => (0, 0, 0),
        }
    }
    severity(b) > severity(a)
}
