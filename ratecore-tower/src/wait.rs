//! Waiting until a limiter admits: async on tokio, and blocking for threads.
//!
//! Every wait is cancel-safe in the same way: each attempt is a check that
//! either admits (and charges, in the same poll that returns) or is denied
//! (and charges nothing); on a denial it sleeps the exact `retry_after` and
//! checks again. Dropping a future between attempts leaves the limiter as
//! if it had never been polled. Waiters are not queued fairly: another
//! caller may take the capacity first, and the wait then repeats.

use std::hash::Hash;
use std::ops::ControlFlow;

use ratecore::{Clock, Denied, KeyedLimiter, Limiter, Status, keyed::Admitted, keyed::Plan};

/// The std duration of `ticks` at `HZ` ticks per second, rounded up (a
/// sleep that ends early would only be denied again).
fn to_std<const HZ: u64>(ticks: u64) -> std::time::Duration {
    let hz = u128::from(HZ.max(1));
    let nanos = (u128::from(ticks) * 1_000_000_000).div_ceil(hz);
    std::time::Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// The wait of a denial, or the denial itself when waiting cannot help.
fn wait_of<const HZ: u64>(denied: Denied<HZ>) -> Result<std::time::Duration, Denied<HZ>> {
    match denied.retry_after() {
        Some(wait) => Ok(to_std::<HZ>(wait.as_ticks().max(1))),
        None => Err(denied),
    }
}

/// The one decision of every wait, async or blocking: an attempt's answer
/// ends the wait (admitted, or denied for good), or says how long to sleep
/// before the next attempt.
fn next<T, const HZ: u64>(
    attempt: Result<T, Denied<HZ>>,
) -> ControlFlow<Result<T, Denied<HZ>>, std::time::Duration> {
    match attempt.map_err(wait_of) {
        Ok(admitted) => ControlFlow::Break(Ok(admitted)),
        Err(Ok(wait)) => ControlFlow::Continue(wait),
        Err(Err(denied)) => ControlFlow::Break(Err(denied)),
    }
}

/// The wait loop, written once for both kinds of sleep: attempt until
/// [`next`] ends the wait, running `$sleep` (with `$wait` bound to the wait)
/// in between.
macro_rules! wait_loop {
    ($attempt:expr, $wait:ident => $sleep:expr) => {
        loop {
            match next($attempt) {
                ControlFlow::Break(answer) => return answer,
                ControlFlow::Continue($wait) => $sleep,
            }
        }
    };
}

/// Attempts until [`next`] ends the wait, sleeping on tokio's timer.
#[cfg(feature = "tokio")]
async fn on_tokio<T, const HZ: u64>(
    mut attempt: impl FnMut() -> Result<T, Denied<HZ>>,
) -> Result<T, Denied<HZ>> {
    wait_loop!(attempt(), wait => tokio::time::sleep(wait).await)
}

/// Attempts until [`next`] ends the wait, sleeping the thread.
fn on_thread<T, const HZ: u64>(
    mut attempt: impl FnMut() -> Result<T, Denied<HZ>>,
) -> Result<T, Denied<HZ>> {
    wait_loop!(attempt(), wait => std::thread::sleep(wait))
}

/// Defines a wait with the one signature of both kinds (async, blocking),
/// on a single limiter or on a keyed table: `$attempt` is bound to the
/// check (a closure) for `$wait` to run.
macro_rules! define_wait {
    (single: $(#[$attr:meta])* $name:ident, $($async:ident)?, |$attempt:ident| $wait:expr) => {
        $(#[$attr])*
        pub $($async)? fn $name<L, C, const HZ: u64>(
            limiter: &L,
            clock: &C,
            n: u32,
        ) -> Result<Status<HZ>, Denied<HZ>>
        where
            L: Limiter<HZ> + ?Sized,
            C: Clock<HZ> + ?Sized,
        {
            let $attempt = || limiter.check_n_at(n, clock.now());
            $wait
        }
    };
    (keyed: $(#[$attr:meta])* $name:ident, $($async:ident)?, |$attempt:ident| $wait:expr) => {
        $(#[$attr])*
        pub $($async)? fn $name<A, K, C, const HZ: u64, const N: usize, const P: usize>(
            table: &KeyedLimiter<A, HZ, N, P>,
            key: &K,
            plan: Plan<P>,
            clock: &C,
            n: u32,
        ) -> Result<Option<Status<HZ>>, Denied<HZ>>
        where
            A: ratecore::kernel::Algorithm<HZ>,
            K: Hash + ?Sized,
            C: Clock<HZ> + ?Sized,
        {
            let $attempt = || table.check_n_at(key, plan, n, clock.now()).map(status_of);
            $wait
        }
    };
}

define_wait! {
    single:
    /// Waits on tokio's timer until `limiter` admits `n` units at `clock`'s
    /// time, then charges them and returns the admitted check's status.
    ///
    /// # Errors
    ///
    /// The denial, when waiting cannot help (`n` above the burst: its
    /// `retry_after` is `None`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use ratecore::{Gcra, Quota, clock::MonotonicClock};
    ///
    /// let limiter = Gcra::<1_000>::new(Quota::per_second(1_000)).unwrap();
    /// let clock = MonotonicClock::<1_000>::new();
    /// ratecore_tower::wait::until_n_ready(&limiter, &clock, 1).await.unwrap();
    /// # }
    /// ```
    #[cfg(feature = "tokio")]
    until_n_ready, async, |attempt| on_tokio(attempt).await
}

define_wait! {
    keyed:
    /// Waits on tokio's timer until `table` admits `n` units for `key` under
    /// `plan`, then charges them. `Ok(None)` is an admission without a limit (a
    /// full table whose policy is `WhenFull::Allow`).
    ///
    /// # Errors
    ///
    /// The denial, when waiting cannot help: `n` above the plan's burst, or a
    /// full table under `WhenFull::Deny` (its wait is not known).
    #[cfg(feature = "tokio")]
    until_key_ready, async, |attempt| on_tokio(attempt).await
}

fn status_of<const HZ: u64>(admitted: Admitted<HZ>) -> Option<Status<HZ>> {
    admitted.status()
}

define_wait! {
    single:
    /// Blocks the thread until `limiter` admits `n` units at `clock`'s time,
    /// then charges them. See [`until_n_ready`].
    ///
    /// # Errors
    ///
    /// The denial, when waiting cannot help.
    ///
    /// ```
    /// use ratecore::{Gcra, Quota, clock::MonotonicClock};
    ///
    /// let limiter = Gcra::<1_000>::new(Quota::per_second(100)).unwrap();
    /// let clock = MonotonicClock::<1_000>::new();
    /// for _ in 0..101 {
    ///     // The 101st waits about 10 ms.
    ///     ratecore_tower::wait::blocking_until_n_ready(&limiter, &clock, 1).unwrap();
    /// }
    /// ```
    blocking_until_n_ready, , |attempt| on_thread(attempt)
}

define_wait! {
    keyed:
    /// Blocks the thread until `table` admits `n` units for `key` under `plan`.
    /// See [`until_key_ready`].
    ///
    /// # Errors
    ///
    /// As [`until_key_ready`].
    blocking_until_key_ready, , |attempt| on_thread(attempt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_up() {
        assert_eq!(to_std::<1_000>(1), std::time::Duration::from_millis(1));
        assert_eq!(to_std::<3>(1), std::time::Duration::from_nanos(333_333_334));
    }
}
