//! The window bookkeeping both window models keep ([`super::fixed_window`]
//! and [`super::sliding_window`]), written from the specification alone.
//!
//! Time is cut into windows by the boundaries `first + k * width` (`k >= 0`),
//! where `first` is the first boundary after tick 0 that the epoch implies;
//! window 0 is `[0, first)`, window `k >= 1` is `[first + (k-1) * width,
//! first + k * width)`. Every admitted check is kept as `(window, units)` in a
//! plain list (refunds as negative entries), and a window's units are a sum
//! over it. What a model decides from these windows is its own.
//!
//! All arithmetic is in `u128`, so instants may run past `u64::MAX` (the
//! sliding model's searches do) and nothing here can overflow.

#[derive(Clone, Debug)]
pub struct WindowLedger {
    pub width: u64,
    pub first: u64,
    /// The limiter's documented horizon: later instants are evaluated as it.
    pub horizon: u64,
    /// `(window, units)`; refunds are negative entries.
    charges: Vec<(u64, i64)>,
}

impl WindowLedger {
    /// `epoch` is any boundary; `horizon` is the limiter's documented horizon.
    pub fn new(width: u64, epoch: u64, horizon: u64) -> Self {
        let phase = epoch % width;
        let first = if phase == 0 { width } else { phase };
        Self {
            width,
            first,
            horizon,
            charges: Vec::new(),
        }
    }

    /// Window of instant `t`.
    pub fn index(&self, t: u128) -> u128 {
        let first = u128::from(self.first);
        if t < first {
            0
        } else {
            (t - first) / u128::from(self.width) + 1
        }
    }

    /// Start of window `i` (window 0 starts at tick 0).
    pub fn start(&self, i: u128) -> u128 {
        if i == 0 {
            0
        } else {
            u128::from(self.first) + (i - 1) * u128::from(self.width)
        }
    }

    /// End (exclusive) of window `i`.
    pub fn end(&self, i: u128) -> u128 {
        u128::from(self.first) + i * u128::from(self.width)
    }

    /// The latest window any admitted check was charged to (0 if none).
    pub fn latest(&self) -> u128 {
        self.charges
            .iter()
            .filter(|c| c.1 > 0)
            .map(|c| u128::from(c.0))
            .max()
            .unwrap_or(0)
    }

    /// Units charged to `window`, less those refunded from it.
    pub fn units(&self, window: u128) -> u128 {
        let sum: i64 = self
            .charges
            .iter()
            .filter(|c| u128::from(c.0) == window)
            .map(|c| c.1)
            .sum();
        u128::try_from(sum).expect("model: a window never gives back more than it was charged")
    }

    /// Charges `units` to `window` (a window of an instant on the `u64` line),
    /// or with negative `units` gives them back.
    pub fn charge(&mut self, window: u128, units: i64) {
        let window = u64::try_from(window).expect("model: a window of a u64 instant");
        self.charges.push((window, units));
    }

    /// Ticks from `now` to `target`, saturated at `u64::MAX` and at 0.
    pub fn until(target: u128, now: u64) -> u64 {
        u64::try_from(target)
            .unwrap_or(u64::MAX)
            .saturating_sub(now)
    }
}
