//! Every use of ratecore's API in this crate, in one place.
//!
//! The core's public API is changing shape (module paths instead of root
//! re-exports, accessor methods instead of public fields): porting this
//! crate should touch this file alone.

use std::hash::Hash;

use ratecore::http::{Headers, Policy, ServiceLimit, TooManyRequests};
use ratecore::keyed::{Admitted, BoxedKeyedLimiter, KeyedDecision, KeyedReceipt};
use ratecore::{ConcurrencyLimit, Denied, Gcra, Status};

pub use ratecore::clock::{ManualClock, MonotonicClock, WallClock};
pub(crate) use ratecore::kernel::Algorithm;
pub use ratecore::{Clock, Duration, Instant, Quota, keyed::WhenFull};

/// The tick of every limiter in this crate: milliseconds.
pub const MS: u64 = ratecore::time::MILLIS;

/// Slots in one shard of a keyed table (17 bytes each: a 16-byte word and
/// a one-byte hint).
pub(crate) const SHARD_SLOTS: usize = 1_024;

/// The heap bytes of one shard's slots.
pub(crate) const SHARD_SLOT_BYTES: usize =
    SHARD_SLOTS * (std::mem::size_of::<u128>() + std::mem::size_of::<u8>());

/// The most plans a layer holds: the keyed tables' plan count.
pub const MAX_PLANS: usize = 16;

/// One shard of a keyed table: `SHARD_SLOTS` keys, one algorithm
/// configuration per plan, its slots on the heap.
pub(crate) type Shard<A> = BoxedKeyedLimiter<A, MS, SHARD_SLOTS, MAX_PLANS>;

/// What one charge changed, for [`undo`].
pub(crate) type Receipt<'a> = KeyedReceipt<'a>;

pub(crate) type Rate = Gcra<MS>;
pub(crate) type Concurrency = ConcurrencyLimit;

/// A limiter's state, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct State {
    pub limit: u32,
    pub remaining: u32,
    pub reset_after_ms: u64,
}

/// One keyed check's answer, in this crate's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tick {
    Admitted(State),
    Limited {
        state: State,
        retry_after_ms: u64,
    },
    /// Can never pass: the cost is above the limit's burst.
    TooLarge {
        burst: u32,
    },
    AtCapacity {
        active: u32,
        limit: u32,
    },
    /// No slot for the key, and the table's policy refuses.
    Full,
    /// No slot for the key, and the table's policy admits unlimited.
    Unlimited,
}

pub(crate) fn rate(quota: Quota) -> Result<Rate, ratecore::QuotaError> {
    Gcra::new(quota)
}

/// A placeholder configuration for the plan indices a table does not use.
pub(crate) fn unused_rate() -> Rate {
    // One per second with a burst of one: valid, checked at compile time.
    ratecore::const_unwrap!(Gcra::new(Quota::per_second(1)))
}

pub(crate) fn concurrency(limit: u32) -> Result<Concurrency, ratecore::QuotaError> {
    ConcurrencyLimit::new(limit)
}

pub(crate) fn unused_concurrency() -> Concurrency {
    ratecore::const_unwrap!(ConcurrencyLimit::new(1))
}

pub(crate) fn shard<A>(plans: [A; MAX_PLANS], seed: [u64; 2], when_full: WhenFull) -> Shard<A> {
    // The slots (17.5 KiB) are allocated on the heap one by one: no large
    // temporary on the stack, even in a debug build.
    BoxedKeyedLimiter::new_boxed(plans, seed, when_full)
}

fn plan(index: u8) -> ratecore::keyed::Plan<MAX_PLANS> {
    ratecore::keyed::Plan::new(usize::from(index)).unwrap_or_default()
}

pub(crate) fn state(status: &Status<MS>) -> State {
    State {
        limit: status.limit(),
        remaining: status.remaining(),
        reset_after_ms: status.reset_after().as_ticks(),
    }
}

fn tick(decision: KeyedDecision<MS>) -> Tick {
    match decision {
        Ok(Admitted::Limited(status)) => Tick::Admitted(state(&status)),
        Ok(_) => Tick::Unlimited,
        Err(refusal) => denied(refusal),
    }
}

/// A refusal, in this crate's terms.
pub(crate) fn denied(refusal: Denied<MS>) -> Tick {
    match refusal {
        Denied::RateLimited(limited) => Tick::Limited {
            state: State {
                limit: limited.limit(),
                remaining: limited.remaining(),
                reset_after_ms: limited.reset_after().as_ticks(),
            },
            retry_after_ms: limited.retry_after().as_ticks(),
        },
        Denied::ExceedsBurst(e) => Tick::TooLarge { burst: e.burst },
        Denied::ExceedsRequestCap(e) => Tick::TooLarge { burst: e.cap },
        Denied::AtCapacity(busy) => Tick::AtCapacity {
            active: busy.active,
            limit: busy.limit,
        },
        _ => Tick::Full,
    }
}

fn at(now_ms: u64) -> Instant<MS> {
    Instant::<MS>::from_ticks(now_ms)
}

pub(crate) fn check<A, K>(table: &Shard<A>, key: &K, plan_index: u8, n: u32, now_ms: u64) -> Tick
where
    A: Algorithm<MS>,
    K: Hash + ?Sized,
{
    tick(table.check_n_at(key, plan(plan_index), n, at(now_ms)))
}

/// The decision for `n` units, writing nothing: `Ok` with the state the
/// check would leave, or the refusal the check would give.
pub(crate) fn peek<A, K>(
    table: &Shard<A>,
    key: &K,
    plan_index: u8,
    n: u32,
    now_ms: u64,
) -> Result<State, Tick>
where
    A: Algorithm<MS>,
    K: Hash + ?Sized,
{
    table
        .peek_n_at(key, plan(plan_index), n, at(now_ms))
        .map(|status| state(&status))
        .map_err(denied)
}

/// A check that, if admitted, returns the new state (`None`: admitted
/// without a limit, for a full table under `WhenFull::Allow`) and a receipt
/// that [`undo`] takes back exactly.
pub(crate) fn charge<'t, A, K>(
    table: &'t Shard<A>,
    key: &K,
    plan_index: u8,
    n: u32,
    now_ms: u64,
) -> Result<(Option<State>, Receipt<'t>), Tick>
where
    A: Algorithm<MS>,
    K: Hash + ?Sized,
{
    match table.charge_n_at(key, plan(plan_index), n, at(now_ms)) {
        Ok((admitted, receipt)) => Ok((admitted.status().map(|s| state(&s)), receipt)),
        Err(refusal) => Err(denied(refusal)),
    }
}

/// Takes back the charge of `receipt` (made on `table`): exactly if the
/// key's state is still the one the charge stored, else only as far as the
/// algorithm says is safe (stricter, never looser).
pub(crate) fn undo<A: Algorithm<MS>>(table: &Shard<A>, receipt: Receipt<'_>) {
    let _ = table.undo(receipt);
}

pub(crate) fn snapshot<A, K>(table: &Shard<A>, key: &K, plan_index: u8, now_ms: u64) -> State
where
    A: Algorithm<MS>,
    K: Hash + ?Sized,
{
    state(&table.snapshot_at(key, plan(plan_index), at(now_ms)))
}

pub(crate) fn refund<A, K>(table: &Shard<A>, key: &K, plan_index: u8, n: u32, now_ms: u64)
where
    A: Algorithm<MS>,
    K: Hash + ?Sized,
{
    let _ = table.refund_n_at(key, plan(plan_index), n, at(now_ms));
}

pub(crate) fn occupancy<A: Algorithm<MS>>(table: &Shard<A>, now_ms: u64) -> usize {
    table.occupancy_at(at(now_ms))
}

pub(crate) fn full_count<A>(table: &Shard<A>) -> u64 {
    table.full_count()
}

pub(crate) fn now_ms(clock: &(dyn Clock<MS> + Send + Sync)) -> u64 {
    clock.now().as_ticks()
}

/// The `RateLimit-Policy` item of a limit: `"name";q=..;w=..`.
pub(crate) fn policy<'a>(
    name: &'a str,
    quota: &Quota,
) -> Result<Policy<'a>, ratecore::http::PolicyError> {
    Policy::from_quota(name, quota)
}

/// The `RateLimit-Policy` item of a limit advertised as `quota` per
/// `window_secs` (as [`policy`] computed them when the layer was built).
pub(crate) fn policy_of(
    name: &str,
    quota: u64,
    window_secs: u64,
) -> Result<Policy<'_>, ratecore::http::PolicyError> {
    Policy::new(name, quota, window_secs)
}

/// One limit's state for the headers.
pub(crate) fn service_limit<'a>(
    policy: Policy<'a>,
    state: &crate::LimitState,
    unix_now_ms: u64,
) -> ServiceLimit<'a> {
    ServiceLimit::new(
        policy,
        state.limit,
        state.remaining,
        Duration::<MS>::from_ticks(state.reset_after_ms),
        state.retry_after_ms.map(Duration::<MS>::from_ticks),
        at(unix_now_ms),
    )
}

/// The 429 problem document of a refusal that has no IETF policy (a
/// concurrency limit): `limit` in flight, none free, retry in `retry_secs`.
pub(crate) fn problem_json(
    name: &str,
    limit: u32,
    remaining: u32,
    retry_secs: u64,
    reset_at_unix: u64,
) -> String {
    TooManyRequests::new(limit, remaining, retry_secs, reset_at_unix)
        .with_policy(name)
        .json()
        .to_string()
}

/// The 429 problem document of the binding refused policy, if any.
pub(crate) fn too_many_requests_json(headers: &Headers<'_>) -> Option<String> {
    headers
        .too_many_requests()
        .map(|body| body.json().to_string())
}

pub(crate) use ratecore::http::PROBLEM_JSON;
pub use ratecore::http::{Headers as RcHeaders, ServiceLimit as RcServiceLimit};
// The mixed-case names: the tests check the lower-case ones against them.
#[cfg(test)]
pub(crate) use ratecore::http::{
    RATELIMIT, RATELIMIT_POLICY, RETRY_AFTER, X_RATELIMIT_LIMIT, X_RATELIMIT_REMAINING,
    X_RATELIMIT_RESET,
};
pub(crate) use ratecore::http::{
    RATELIMIT_LOWER, RATELIMIT_POLICY_LOWER, RETRY_AFTER_LOWER, X_RATELIMIT_LIMIT_LOWER,
    X_RATELIMIT_REMAINING_LOWER, X_RATELIMIT_RESET_LOWER,
};

/// Unix seconds at `unix_now_ms + after_ms`, rounded up.
pub(crate) fn unix_secs_after(unix_now_ms: u64, after_ms: u64) -> u64 {
    ratecore::http::unix_seconds_after(at(unix_now_ms), Duration::<MS>::from_ticks(after_ms))
}
