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
//!   is kept **in this process's memory** (an [`InMemoryStore`] of the
//!   plans' concurrency limits): `n` in flight per key per process. A shared
//!   semaphore in Redis would lose its places for good when a process dies
//!   holding them (a count of requests in flight does not expire by
//!   itself), so it is not done here.
//!
//! # Failures
//!
//! When Redis cannot decide within the [`Config`]'s time budget (default
//! 50 ms, retries included), the check answers an [`Error`], and the layer's
//! [`OnStoreError`](crate::OnStoreError) policy decides (admit without
//! headers, or `503`), reporting [`Event::StoreError`](crate::Event::StoreError)
//! to the metrics hook. The [`Config`]'s own `FailPolicy` is not used: the
//! layer's policy is the one policy. A request admitted this way holds no
//! concurrency place.
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

pub use ratecore_redis::{Config, Error, RedisStore, StoreError};
use ratecore_redis::{RedisTiers, TieredAnswer, TieredCheck};

use crate::plan::{MAX_LIMITS, Meter, Plan, Plans};
use crate::rc::{self, MS, Rate, Tick, WhenFull};
use crate::store::{
    InMemoryPermit, InMemoryStore, LimitState, LimitStates, Outcome, Store, StoreRequest, Verdict,
};

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
    /// The plans' concurrency limits, in this process's memory.
    concurrency: Option<InMemoryStore>,
}

/// A [`Store`] keeping the plans' rate limits in Redis (shared by every
/// process on the same Redis) and their concurrency limits in memory (per
/// process). See the [module documentation](self) for what is exact and
/// what a Redis failure does.
///
/// Keys in Redis: `{prefix}:{<key>}:tiers-gcra-<N>:<fingerprint>`, where
/// `<key>` is the [`Key`](crate::Key)'s text form (`name:alice`,
/// `ip:192.0.2.1`) and the fingerprint covers every limit's quota: a key
/// whose plan changes (to different quotas) starts from a fresh state.
/// Each value expires when all its limits are full again.
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
    /// `config`'s prefix and its time budget; room for 65,536 keys with
    /// requests in flight at once (see [`with_capacity`](Self::with_capacity)).
    pub fn new(plans: &Plans, redis: RedisStore, config: Config) -> Self {
        Self::with_capacity(plans, redis, config, 65_536, WhenFull::Deny)
    }

    /// As [`new`](Self::new), with the in-memory concurrency table's
    /// capacity in keys and its policy when full (as
    /// [`InMemoryStore::new`]).
    pub fn with_capacity(
        plans: &Plans,
        redis: RedisStore,
        config: Config,
        capacity: usize,
        when_full: WhenFull,
    ) -> Self {
        let tiers = plans
            .iter()
            .map(|(_, plan)| Tiers::new(plan, &redis, &config))
            .collect();
        // The same plans, in the same order (so with the same ids), with
        // their concurrency limits only.
        let concurrency = plans
            .iter()
            .any(|(_, plan)| plan.concurrency_limit().is_some())
            .then(|| {
                let mut only = Plans::new();
                for (_, plan) in plans.iter() {
                    let mut copy = Plan::new(plan.name());
                    if let Some(limit) = plan.concurrency_limit() {
                        copy = copy.concurrency(limit);
                    }
                    only.add(copy).ok()?;
                }
                Some(InMemoryStore::new(&only, capacity, when_full))
            })
            .flatten();
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
    async fn check(&self, request: StoreRequest) -> Result<Verdict<InMemoryPermit>, Error> {
        let unlimited = |permit| Verdict {
            outcome: Outcome::Unlimited,
            states: LimitStates::new(),
            permit,
        };
        let Some(plan) = self.plans.get(request.plan) else {
            return Ok(unlimited(None));
        };

        // Concurrency first, in memory: a request refused here costs no
        // round trip to Redis.
        let mut permit = None;
        if let (Some(_), Some(table)) = (plan.concurrency_limit(), &self.concurrency) {
            let verdict = table.check_now(&request);
            match verdict.outcome {
                Outcome::Admitted | Outcome::Unlimited => permit = verdict.permit,
                outcome => {
                    return Ok(Verdict {
                        outcome,
                        states: LimitStates::new(),
                        permit: None,
                    });
                }
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
        let check = tiers.check(&request.key.to_string(), &each).await;
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
        // Refused: the concurrency place is given back (`permit` dropped).
        Ok(Verdict {
            outcome,
            states,
            permit: None,
        })
    }
}

impl Store for RedisPlanStore {
    type Permit = InMemoryPermit;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Verdict<InMemoryPermit>, Error>> + Send>>;

    fn check(&self, request: StoreRequest) -> Self::Future {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move { inner.check(request).await })
    }
}
