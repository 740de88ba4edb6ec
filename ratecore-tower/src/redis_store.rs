//! A [`Store`] on Redis or Valkey (the `redis` feature): every process that
//! uses the same Redis shares each key's limits, through
//! [ratecore-redis](https://docs.rs/ratecore-redis).
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use ratecore_tower::redis_store::{Config, RedisPlanStore, RedisStore};
//! use ratecore_tower::{GlobalKey, OnStoreError, Plan, Plans, Quota, RateLimitLayer};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut plans = Plans::new();
//! let all = plans.add(Plan::new("all").limit("minute", Quota::per_minute(100)))?;
//! let redis = RedisStore::open("redis://127.0.0.1:6379/", Duration::from_millis(50))?;
//! let store = RedisPlanStore::new(&plans, redis, Config::new("api"));
//! let layer = RateLimitLayer::builder(plans, GlobalKey(all))
//!     .on_store_error(OnStoreError::Refuse) // Redis down: 503, not unlimited
//!     .build_with_store(store)?;
//! # let _ = layer;
//! # Ok(()) }
//! ```
//!
//! # What is shared, and how exactly
//!
//! - **Rate limits** (every [`Plan::limit`](crate::Plan::limit) and
//!   [`Plan::cost_limit`](crate::Plan::cost_limit)): one
//!   [`RedisTiers`] per plan, so all the limits of a key (a minute, a day, a
//!   character quota) live in **one** Redis value and are decided together,
//!   on the Redis server's clock, and written with one compare-and-set.
//!   Each limit is charged its own cost (1 for a request limit, the
//!   request's cost for a cost limit). A request is admitted only if every
//!   limit admits it, and then charged to every limit; a refusal charges
//!   nothing. This is exact: no peek-then-charge race and no refunds (the
//!   in-memory store needs both), because the compare-and-set fails if
//!   another process changed the value in between, and the check is then
//!   decided again on the new value. The decisions are ratecore's GCRA on
//!   millisecond ticks, as in memory.
//! - **The per-request cap** ([`Plan::max_cost`](crate::Plan::max_cost)) is
//!   checked by the layer before the store: nothing to share.
//! - **The concurrency limit** ([`Plan::concurrency`](crate::Plan::concurrency))
//!   is **one count per key in Redis too**, shared by every process: a
//!   [`RedisConcurrency`] per plan (ratecore's `ConcurrencyLimit` on the
//!   shared store), acquired before the rate limits and held by the
//!   response body until it ends or is dropped (a panicking handler
//!   included); the release is a refund sent from a spawned task. A request
//!   refused by a rate limit gives its place back at once. The count's key
//!   expires a *lease* after its last write ([`DEFAULT_LEASE`], or
//!   [`RedisPlanStore::with_lease`]), so the places of a process that dies
//!   holding them come back when the lease ends. Choose the lease longer
//!   than any response body lives: when it ends while requests are still
//!   running (no request of the key started or finished for a whole lease),
//!   the count starts again from 0 and up to the plan's cap more requests
//!   are admitted beside those: the over-admission is at most the requests
//!   still running past the lease (see [`RedisConcurrency`]). A request
//!   with a concurrency limit costs two round trips (the place, then the
//!   rate limits) and a third, after the response, for the release. One
//!   refused for want of a place costs one round trip: its answer carries no rate
//!   limit's state (the in-memory store's carries them all), so in the
//!   layer's dry-run mode it goes through without rate-limit headers.
//!
//! # Failures
//!
//! When Redis cannot decide within the [`Config`]'s time budget (default
//! 50 ms, retries included), the check answers an [`Error`], and the layer's
//! [`OnStoreError`](crate::OnStoreError) policy decides (admit without
//! headers, or `503`), reporting [`Event::StoreError`](crate::Event::StoreError)
//! to the metrics hook. The [`Config`]'s own `FailPolicy` is not used: the
//! layer's policy is the one policy. A request admitted this way holds no
//! concurrency place (and one whose place was taken before the rate
//! limits failed gives it back).
//!
//! # Why this module lives in ratecore-tower
//!
//! ratecore-redis is a storage back-end for any caller (gRPC, job queues,
//! HTTP) and knows nothing of HTTP; ratecore-tower's [`Store`] trait is
//! the seam meant for remote stores. The adapter therefore depends on both
//! and belongs to the HTTP side: an optional dependency of ratecore-tower
//! on ratecore-redis, behind the `redis` feature, off by default. Neither
//! core crate depends on the other, and ratecore-redis gains no HTTP
//! dependencies.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use ratecore_redis::{
    Acquired, Config, Error, RedisConcurrency, RedisPermit, RedisStore, StoreError,
};
use ratecore_redis::{RedisTiers, TieredAnswer, TieredCheck};

use crate::plan::{MAX_LIMITS, Meter, Plan, Plans};
use crate::rc::{self, MS, Rate, Tick};
use crate::store::{LimitState, LimitStates, Outcome, Store, StoreRequest, Verdict};

/// The lease of [`RedisPlanStore::new`]'s concurrency counts: a minute,
/// longer than most responses (streamed ones included) take.
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// The tiers' names in Redis: their positions. The limits' own names are
/// the layer's (headers, problem documents); the Redis key carries a
/// fingerprint of every tier's quota instead, so a changed quota starts
/// from a fresh state.
const TIER_NAMES: [&str; MAX_LIMITS] = ["0", "1", "2", "3"];

/// One plan's limits as a `RedisTiers` of their number.
enum Tiers {
    One(RedisTiers<Rate, MS, 1>),
    Two(RedisTiers<Rate, MS, 2>),
    Three(RedisTiers<Rate, MS, 3>),
    Four(RedisTiers<Rate, MS, 4>),
}

fn tiers<const N: usize>(
    plan: &Plan,
    redis: &RedisStore,
    config: &Config,
) -> Option<RedisTiers<Rate, MS, N>> {
    let tiers: Vec<(&'static str, Rate)> = TIER_NAMES
        .iter()
        .zip(plan.limits())
        .map(|(name, limit)| rc::rate(*limit.quota()).map(|rate| (*name, rate)))
        .collect::<Result<_, _>>()
        .ok()?;
    let tiers: [(&'static str, Rate); N] = tiers.try_into().ok()?;
    Some(RedisTiers::new(tiers, redis.clone(), config.clone()))
}

fn costs<const N: usize>(costs: &[u32; MAX_LIMITS]) -> [u32; N] {
    std::array::from_fn(|i| costs.get(i).copied().unwrap_or(0))
}

impl Tiers {
    fn new(plan: &Plan, redis: &RedisStore, config: &Config) -> Option<Self> {
        match plan.limits().len() {
            1 => tiers(plan, redis, config).map(Self::One),
            2 => tiers(plan, redis, config).map(Self::Two),
            3 => tiers(plan, redis, config).map(Self::Three),
            4 => tiers(plan, redis, config).map(Self::Four),
            _ => None,
        }
    }

    async fn check(&self, key: &str, each: &[u32; MAX_LIMITS]) -> TieredCheck<MS> {
        match self {
            Self::One(t) => t.check_costs(key, costs(each)).await,
            Self::Two(t) => t.check_costs(key, costs(each)).await,
            Self::Three(t) => t.check_costs(key, costs(each)).await,
            Self::Four(t) => t.check_costs(key, costs(each)).await,
        }
    }
}

struct Inner {
    plans: Plans,
    /// By plan index: `None` for a plan with no rate limits.
    tiers: Vec<Option<Tiers>>,
    /// By plan index: `None` for a plan with no concurrency limit.
    concurrency: Vec<Option<RedisConcurrency>>,
}

/// A [`Store`] keeping the plans' rate limits and concurrency limits in
/// Redis, shared by every process on the same Redis. See the
/// [module documentation](self) for what is exact, what the lease allows
/// and what a Redis failure does.
///
/// Keys in Redis: `{prefix}:{<key>}:tiers-gcra-<N>:<fingerprint>` for the
/// rate limits, `{prefix}:{<key>}:concurrency:<fingerprint>` for the count
/// in flight, where `<key>` is the [`Key`](crate::Key)'s text form
/// (`name:alice`, `ip:192.0.2.1`) and the fingerprint covers the limits:
/// a key whose plan changes (to different limits) starts from a fresh
/// state. A rate limits' value expires when all its limits are full again;
/// a count when it is back at 0, or a lease after its last change.
#[derive(Clone)]
pub struct RedisPlanStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisPlanStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPlanStore")
            .field("plans", &self.inner.plans.len())
            .finish_non_exhaustive()
    }
}

impl RedisPlanStore {
    /// A store for `plans` (the layer's) on `redis`, with keys under
    /// `config`'s prefix and its time budget, and concurrency counts on a
    /// lease of [`DEFAULT_LEASE`].
    pub fn new(plans: &Plans, redis: RedisStore, config: Config) -> Self {
        Self::with_lease(plans, redis, config, DEFAULT_LEASE)
    }

    /// As [`new`](Self::new), the concurrency counts' keys expiring `lease`
    /// after their last change: choose it longer than any response body
    /// lives (see the [module documentation](self)).
    pub fn with_lease(
        plans: &Plans,
        redis: RedisStore,
        config: Config,
        lease: std::time::Duration,
    ) -> Self {
        let tiers = plans
            .iter()
            .map(|(_, plan)| Tiers::new(plan, &redis, &config))
            .collect();
        let concurrency = plans
            .iter()
            .map(|(_, plan)| {
                let limit = plan.concurrency_limit()?;
                RedisConcurrency::new(limit, lease, redis.clone(), config.clone()).ok()
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                plans: plans.clone(),
                tiers,
                concurrency,
            }),
        }
    }
}

impl Inner {
    async fn check(&self, request: StoreRequest) -> Result<Verdict<RedisPermit>, Error> {
        let unlimited = |permit| Verdict {
            outcome: Outcome::Unlimited,
            states: LimitStates::new(),
            permit,
        };
        let Some(plan) = self.plans.get(request.plan) else {
            return Ok(unlimited(None));
        };
        let key = request.key.to_string();

        // The place first: a request refused here charges no rate limit,
        // and one refused by a rate limit gives the place back (exactly:
        // counts in flight commute), where a rate limit's charge could not
        // be undone exactly.
        let mut permit = None;
        let cap = self
            .concurrency
            .get(request.plan.index())
            .and_then(Option::as_ref);
        if let Some(cap) = cap {
            match cap.acquire(&key, 1).await {
                Acquired::Held(held) => permit = Some(held),
                Acquired::Busy(busy) => {
                    return Ok(Verdict {
                        outcome: Outcome::AtCapacity { limit: busy.limit },
                        states: LimitStates::new(),
                        permit: None,
                    });
                }
                Acquired::Failed { error, .. } => return Err(error),
                _ => return Err(Error::TimedOut),
            }
        }

        let Some(tiers) = self
            .tiers
            .get(request.plan.index())
            .and_then(Option::as_ref)
        else {
            // No rate limits in this plan.
            return Ok(unlimited(permit));
        };
        let each: [u32; MAX_LIMITS] = std::array::from_fn(|i| {
            plan.limits().get(i).map_or(0, |limit| match limit.meter() {
                Meter::Requests => 1,
                Meter::Cost => request.cost,
            })
        });
        let check = tiers.check(&key, &each).await;
        let refusal = match check.answer {
            TieredAnswer::Decided {
                decision: Ok(_), ..
            } => None,
            TieredAnswer::Decided {
                decision: Err(refusal),
                ..
            } => Some((refusal.tier, rc::denied(refusal.answer))),
            TieredAnswer::Failed { error, .. } => return Err(error),
            _ => return Err(Error::TimedOut),
        };
        let mut states = LimitStates::new();
        for (position, status) in check.statuses.iter().enumerate() {
            let state = rc::state(status);
            let mut limit = LimitState {
                limit: state.limit,
                remaining: state.remaining,
                reset_after_ms: state.reset_after_ms,
                retry_after_ms: None,
            };
            if let Some((
                tier,
                Tick::Limited {
                    state,
                    retry_after_ms,
                },
            )) = refusal
            {
                if tier == position {
                    limit = LimitState {
                        limit: state.limit,
                        remaining: state.remaining,
                        reset_after_ms: state.reset_after_ms,
                        retry_after_ms: Some(retry_after_ms),
                    };
                }
            }
            states.push(limit);
        }
        let outcome = match refusal {
            None => {
                return Ok(Verdict {
                    outcome: Outcome::Admitted,
                    states,
                    permit,
                });
            }
            Some((limit, Tick::Limited { retry_after_ms, .. })) => Outcome::RateLimited {
                limit,
                retry_after_ms,
            },
            Some((limit, Tick::TooLarge { burst })) => Outcome::TooLarge { limit, max: burst },
            // A GCRA refuses only with a wait or as too large.
            Some(_) => Outcome::NoRoom,
        };
        // Refused: the concurrency place is given back (`permit` dropped,
        // released by a spawned task).
        Ok(Verdict {
            outcome,
            states,
            permit: None,
        })
    }
}

impl Store for RedisPlanStore {
    type Permit = RedisPermit;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Verdict<RedisPermit>, Error>> + Send>>;

    fn check(&self, request: StoreRequest) -> Self::Future {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move { inner.check(request).await })
    }
}
