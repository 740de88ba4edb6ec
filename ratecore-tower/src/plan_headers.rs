//! What every answer of a plan shares (its `RateLimit-Policy`, each
//! limit's advertised window), computed when the layer is built, and the
//! header values of one answer.

use http::HeaderValue;

use crate::headers::{HeaderOptions, Values};
use crate::plan::{Limit, MAX_LIMITS, Plan};
use crate::rc::{self, RcHeaders};
use crate::store::{LimitState, LimitStates};

/// `limit`'s header item for `state`, advertised as `(q, w)`.
fn service_limit<'p>(
    limit: &'p Limit,
    state: &LimitState,
    (q, w): (u64, u64),
    unix_ms: u64,
) -> Option<rc::RcServiceLimit<'p>> {
    let policy = rc::policy_of(limit.name(), q, w).ok()?;
    Some(rc::service_limit(policy, state, unix_ms))
}

/// What every answer of one plan shares, computed when the layer is built
/// rather than per request.
pub(crate) struct PlanHeaders {
    /// The `RateLimit-Policy` value: the same on every answer.
    pub(crate) policy: Option<HeaderValue>,
    /// Each limit's advertised quota and window in seconds (`q`, `w`).
    windows: [(u64, u64); MAX_LIMITS],
}

impl PlanHeaders {
    pub(crate) fn new(plan: &Plan) -> Self {
        let mut windows = [(0, 0); MAX_LIMITS];
        for (window, limit) in windows.iter_mut().zip(plan.limits()) {
            if let Ok(policy) = rc::policy(limit.name(), limit.quota()) {
                *window = (policy.quota(), policy.window_secs());
            }
        }
        let mut headers = Self {
            policy: None,
            windows,
        };
        // Any state will do: only the policies are read.
        let states = plan.limits().iter().fold(LimitStates::new(), |mut all, _| {
            all.push(LimitState::default());
            all
        });
        headers.policy = headers.with_limits(plan, &states, 0, |limits| {
            // Its own allocation, once: not a slice pinning an arena chunk.
            let policy = limits.ratelimit_policy()?.to_string();
            HeaderValue::from_str(&policy).ok()
        });
        headers
    }

    /// Calls `f` with ratecore's headers of `plan` for `states` at
    /// `unix_ms` (`None` if the plan has no limit).
    pub(crate) fn with_limits<R>(
        &self,
        plan: &Plan,
        states: &LimitStates,
        unix_ms: u64,
        f: impl FnOnce(&RcHeaders<'_>) -> Option<R>,
    ) -> Option<R> {
        let mut parts = plan
            .limits()
            .iter()
            .zip(states.as_slice())
            .zip(self.windows);
        let limit = |((limit, state), window)| service_limit(limit, state, window, unix_ms);
        let first = limit(parts.next()?)?;
        // Unused positions repeat the first limit and are cut off below.
        let mut limits = [first; MAX_LIMITS];
        let mut count = 1;
        for (slot, part) in limits.iter_mut().skip(1).zip(parts) {
            *slot = limit(part)?;
            count += 1;
        }
        f(&RcHeaders::new(limits.get(..count)?))
    }

    /// The header values of an answer of `plan` for `states`.
    pub(crate) fn values(
        &self,
        plan: &Plan,
        states: &LimitStates,
        unix_ms: u64,
        options: HeaderOptions,
    ) -> Option<Values> {
        self.with_limits(plan, states, unix_ms, |headers| {
            Some(Values::new(headers, options, self.policy.as_ref()))
        })
    }
}
