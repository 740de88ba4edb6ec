//! The trait every algorithm implements.

use crate::answer::{Decision, Status};
use crate::time::{Clock, Instant};

/// A rate limiter: the decision "may these `n` units go at `now`, and if not, when?".
///
/// The `*_at` methods take the time as an argument and are the whole contract;
/// the methods taking a [`Clock`] read it once and forward. All methods take
/// `&self`: implementations are shared between threads and interrupt handlers
/// through atomics. The trait is dyn-compatible (`&dyn Limiter<HZ>`); the
/// clock-taking conveniences need a sized implementor.
pub trait Limiter<const HZ: u64> {
    /// Checks `n` units at `now` and, if they are admitted, charges them.
    ///
    /// A denial charges nothing. `n = 0` charges nothing and reports the state.
    ///
    /// # Errors
    ///
    /// [`Denied::RateLimited`](crate::Denied::RateLimited) with the exact
    /// `retry_after` when there is not enough capacity now;
    /// [`Denied::ExceedsBurst`](crate::Denied::ExceedsBurst) when `n` is larger
    /// than the burst and can never be admitted. Some limiters have refusals
    /// of their own: [`Denied::ExceedsRequestCap`](crate::Denied::ExceedsRequestCap)
    /// ([`Capped`](crate::compose::Capped)), [`Denied::AtCapacity`](crate::Denied::AtCapacity)
    /// ([`ConcurrencyLimit`](crate::ConcurrencyLimit)).
    fn check_n_at(&self, n: u32, now: Instant<HZ>) -> Decision<HZ>;

    /// The state at `now`, without changing anything (a peek).
    fn snapshot_at(&self, now: Instant<HZ>) -> Status<HZ>;

    /// Checks one unit at `now`. See [`check_n_at`](Limiter::check_n_at).
    ///
    /// # Errors
    ///
    /// As [`check_n_at`](Limiter::check_n_at).
    fn check_at(&self, now: Instant<HZ>) -> Decision<HZ> {
        self.check_n_at(1, now)
    }

    /// Checks `n` units at `clock.now()`. See [`check_n_at`](Limiter::check_n_at).
    ///
    /// # Errors
    ///
    /// As [`check_n_at`](Limiter::check_n_at).
    fn check_n(&self, n: u32, clock: &impl Clock<HZ>) -> Decision<HZ>
    where
        Self: Sized,
    {
        self.check_n_at(n, clock.now())
    }

    /// Checks one unit at `clock.now()`. See [`check_n_at`](Limiter::check_n_at).
    ///
    /// # Errors
    ///
    /// As [`check_n_at`](Limiter::check_n_at).
    fn check(&self, clock: &impl Clock<HZ>) -> Decision<HZ>
    where
        Self: Sized,
    {
        self.check_n_at(1, clock.now())
    }

    /// The state at `clock.now()`. See [`snapshot_at`](Limiter::snapshot_at).
    fn snapshot(&self, clock: &impl Clock<HZ>) -> Status<HZ>
    where
        Self: Sized,
    {
        self.snapshot_at(clock.now())
    }
}

/// A limiter that can take back units it admitted (a request that was
/// cancelled before it used the capacity, a response that cost less than
/// was reserved).
pub trait Refund<const HZ: u64>: Limiter<HZ> {
    /// Gives back `n` units at `now` and reports the new state.
    ///
    /// Capacity never rises above the burst, whatever `n` is: refunding more
    /// than was charged leaves the limiter full.
    fn refund_n_at(&self, n: u32, now: Instant<HZ>) -> Status<HZ>;

    /// Gives back `n` units at `clock.now()`.
    fn refund_n(&self, n: u32, clock: &impl Clock<HZ>) -> Status<HZ>
    where
        Self: Sized,
    {
        self.refund_n_at(n, clock.now())
    }
}
