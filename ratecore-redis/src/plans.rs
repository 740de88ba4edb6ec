//! Per-key plans: the Redis counterpart of a [`KeyedLimiter`](ratecore::KeyedLimiter)'s
//! `P` plans, one [`RedisLimiter`] per plan over clones of one store.

use std::fmt;
use std::sync::Arc;

use ratecore::kernel::Algorithm;
use ratecore::keyed::Plan;
use ratecore::{Decision, Status};

use crate::limiter::{Answer, Config, Error, Metrics, RedisLimiter, shared_clone};
use crate::store::Store;

/// `P` plans (free, pro, enterprise: one configuration of algorithm `A`
/// each) for keys whose state lives in a shared [`Store`]: the Redis
/// counterpart of a [`KeyedLimiter`](ratecore::KeyedLimiter) with `P` plans,
/// every check naming its key and its [`Plan`].
///
/// As in memory, a key under two plans has two independent states: each
/// (key, plan) is its own store key,
/// `{prefix}:{{user key}}:plan{index}:{algorithm}:{fingerprint}` (see
/// [`key`](Self::key)), so a key moved to another plan starts afresh under
/// it (its old state expires when idle), and a changed configuration never
/// reads a state written under other parameters. Decisions are those of a
/// `KeyedLimiter` with the same plans fed the same `(instant, key, plan, n)`
/// sequence, the instants being the store's clock.
///
/// Each plan is decided by a [`RedisLimiter`] of its own (one per plan, on
/// clones of the store: with [`RedisStore`](crate::RedisStore), one shared
/// connection), so batching, the deny cache, optimistic writes and the
/// server-side GCRA script work per (key, plan) exactly as for a single
/// limiter, with one [`Config`] for all. The plans count in one set of
/// [`Metrics`]. Clones share everything.
///
/// ```no_run
/// use std::time::Duration;
///
/// use ratecore::{Gcra, Quota, keyed::Plan, time::NANOS};
/// use ratecore_redis::{Config, RedisPlans, RedisStore};
///
/// const FREE: Plan<2> = ratecore::const_unwrap!(Plan::new(0));
/// const PRO: Plan<2> = ratecore::const_unwrap!(Plan::new(1));
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::open("redis://127.0.0.1:6379/", Duration::from_millis(50))?;
/// let plans = [
///     Gcra::<NANOS>::new(Quota::per_minute(10))?,
///     Gcra::<NANOS>::new(Quota::per_second(100).burst(20))?,
/// ];
/// let limits = RedisPlans::new(plans, store, Config::new("api"));
/// if limits.check_n("customer-42", PRO, 1).await.is_admitted() {
///     // serve the request
/// }
/// assert!(limits.key("customer-7", FREE).starts_with("api:{customer-7}:plan0:gcra:"));
/// # Ok(())
/// # }
/// ```
pub struct RedisPlans<A, const HZ: u64, const P: usize, S = crate::RedisStore> {
    plans: Arc<[RedisLimiter<A, HZ, S>; P]>,
}

shared_clone!([A, const HZ: u64, const P: usize, S] RedisPlans<A, HZ, P, S>, plans);

impl<A, const HZ: u64, const P: usize, S> fmt::Debug for RedisPlans<A, HZ, P, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisPlans")
            .field("plans", &self.plans)
            .finish()
    }
}

impl<A, const HZ: u64, const P: usize, S> RedisPlans<A, HZ, P, S>
where
    A: Algorithm<HZ> + Send + Sync + 'static,
    S: Store + Clone,
{
    /// Limits deciding a key under plan `i` with `plans[i]` (index `i` is
    /// [`Plan::new(i)`](Plan::new)) on states in `store`.
    ///
    /// `P` must be at least 1: `RedisPlans<_, _, 0, _>` does not compile
    /// (its `new` fails to build).
    pub fn new(plans: [A; P], store: S, config: Config) -> Self {
        // `Plan::<P>::FIRST` exists for every `P`: with at least one plan,
        // every `Plan<P>` indexes `plans` (see `limiter`).
        const { assert!(P >= 1, "RedisPlans needs at least one plan") };
        let counters = Arc::default();
        let mut index = 0usize;
        let plans = plans.map(|algorithm| {
            let infix = format!(":plan{index}");
            index = index.saturating_add(1);
            let counters = Arc::clone(&counters);
            RedisLimiter::with_suffix(algorithm, store.clone(), config.clone(), &infix, counters)
        });
        Self {
            plans: Arc::new(plans),
        }
    }

    /// The limiter of `plan`.
    #[allow(
        clippy::indexing_slicing,
        reason = "a Plan<P> is below P by construction (`Plan::new` checks it, \
                  `FIRST` is 0), and `new` asserts P >= 1 at compile time"
    )]
    fn limiter(&self, plan: Plan<P>) -> &RedisLimiter<A, HZ, S> {
        &self.plans[plan.index()]
    }

    /// The store key of `user_key` under `plan`:
    /// `{prefix}:{{user_key}}:plan{index}:{name}:{fingerprint}`.
    pub fn key(&self, user_key: &str, plan: Plan<P>) -> String {
        self.limiter(plan).key(user_key)
    }

    /// The algorithm (configuration) of `plan`.
    pub fn algorithm(&self, plan: Plan<P>) -> &A {
        self.limiter(plan).algorithm()
    }

    /// The counters so far, of every plan together.
    pub fn metrics(&self) -> Metrics {
        // Every plan's limiter counts in the same counters.
        self.limiter(Plan::FIRST).metrics()
    }

    /// Checks one unit for `key` under `plan`: see [`check_n`](Self::check_n).
    pub async fn check(&self, key: &str, plan: Plan<P>) -> Answer<HZ> {
        self.check_n(key, plan, 1).await
    }

    /// Checks `n` units for `key` under `plan` and, if admitted, charges
    /// them, as [`RedisLimiter::check_n`] does for a single configuration.
    pub async fn check_n(&self, key: &str, plan: Plan<P>, n: u32) -> Answer<HZ> {
        self.limiter(plan).check_n(key, n).await
    }

    /// What a check of `n` units for `key` under `plan` would decide now,
    /// changing nothing.
    ///
    /// # Errors
    ///
    /// [`Error`] when the store cannot answer within the time budget.
    pub async fn peek_n(&self, key: &str, plan: Plan<P>, n: u32) -> Result<Decision<HZ>, Error> {
        self.limiter(plan).peek_n(key, n).await
    }

    /// The status of `key` under `plan` now, changing nothing.
    ///
    /// # Errors
    ///
    /// [`Error`] when the store cannot answer within the time budget.
    pub async fn status(&self, key: &str, plan: Plan<P>) -> Result<Status<HZ>, Error> {
        self.limiter(plan).status(key).await
    }

    /// Gives back `n` units of `key` under `plan` (never above the burst),
    /// and reports the new status.
    ///
    /// # Errors
    ///
    /// [`Error`] when the store cannot answer within the time budget; the
    /// refund may or may not have been stored then.
    pub async fn refund(&self, key: &str, plan: Plan<P>, n: u32) -> Result<Status<HZ>, Error> {
        self.limiter(plan).refund(key, n).await
    }
}
