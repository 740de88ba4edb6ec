//! The limiter: batching, compare-and-set retries, the deny cache and the fail policy.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration as StdDuration;

use ratecore::{Decision, Instant, Status};
use tokio::time::Instant as TokioInstant;

use crate::server_gcra::GcraParams;
use crate::store::{CasOutcome, Read, Store, StoreError, lease_ms, ns_to_ticks, ttl_ms};
use ratecore::kernel::{Algorithm, Step};
use server::Served;

mod server;

use crate::batch::{self, Batched, Queues};
use crate::deny_cache::DenyCache;

/// What a check answers when the store cannot decide within the time budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailPolicy {
    /// Admit: availability over the quota (a store outage lifts the limit).
    Open,
    /// Deny: the quota over availability (a store outage stops traffic).
    Closed,
}

/// When a batch of checks is decided by the store itself, with
/// [`GCRA_SCRIPT`](crate::GCRA_SCRIPT), instead of read and compare-and-set.
///
/// Only for [`Gcra`](ratecore::Gcra) limiters (the one algorithm with a
/// server-side script so far) whose numbers keep the script's arithmetic
/// exact (see the crate's README, "Contended keys"), on a store that
/// implements [`Store::decide_gcra`]; batches with refunds always take the
/// compare-and-set path. Either way the answers are the kernel's: the client
/// decides the batch again on the word the script started from, and checks
/// that the script stored what the kernel would.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerDecide {
    /// Never: every batch is read and compare-and-set.
    Never,
    /// After a compare-and-set of the key was refused (another client wrote
    /// first, or the key expired meanwhile), for the retry and for the key's
    /// batches in the next second: a contended key costs one round trip per
    /// batch and never retries on contention.
    #[default]
    WhenContended,
    /// Every batch of checks that can be.
    Always,
}

/// Builder methods that set a field of the same name.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty,)*) => {
        $(
            $(#[$doc])*
            #[must_use]
            pub fn $name(mut self, value: $ty) -> Self {
                self.$name = value;
                self
            }
        )*
    };
}

/// How a [`RedisLimiter`] talks to its store.
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) prefix: String,
    pub(crate) fail_policy: FailPolicy,
    pub(crate) time_budget: StdDuration,
    pub(crate) deny_cache: Option<StdDuration>,
    optimistic: Option<StdDuration>,
    pub(crate) max_batch: usize,
    server_decide: ServerDecide,
    /// The expiry of a state that never goes idle by itself (a count of
    /// units in flight): see [`RedisConcurrency`](crate::RedisConcurrency).
    pub(crate) lease: Option<StdDuration>,
}

impl Config {
    /// Keys under `prefix` (which should not contain `{`: the cluster hash
    /// tag is the first `{...}` of the key, meant to be the user key's),
    /// [`FailPolicy::Closed`], a 50 ms time budget, a
    /// deny cache of at most 1 s, optimistic writes from states at most 1 s
    /// old, batches of at most 1,024 operations, contended GCRA keys
    /// decided on the server ([`ServerDecide::WhenContended`]).
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            fail_policy: FailPolicy::Closed,
            time_budget: StdDuration::from_millis(50),
            deny_cache: Some(StdDuration::from_secs(1)),
            optimistic: Some(StdDuration::from_secs(1)),
            max_batch: 1_024,
            server_decide: ServerDecide::WhenContended,
            lease: None,
        }
    }

    setters! {
        /// What a check answers when the store cannot decide in time.
        fail_policy: FailPolicy,

        /// The longest a check waits for the store (reads, compare-and-set
        /// retries, reconnections) before the fail policy answers it.
        time_budget: StdDuration,

        /// Answers a key that was denied locally, without the store, while the
        /// state read for that denial still denies (evaluated at the store's time
        /// then plus the local time since), for at most the value given
        /// (`None`: no deny cache, every check goes to the store).
        ///
        /// Other clients only ever add to a state's usage, so a local denial is
        /// one the store would give too, except after a refund by another
        /// process, which the maximum age bounds.
        deny_cache: Option<StdDuration>,

        /// Skips the read of a batch when this process read or wrote the key at
        /// most the value given ago: the batch is decided on the word it last
        /// saw, at the store's time then plus the local time since (never later
        /// than the store's time now), and sent with one compare-and-set. If
        /// another client wrote meanwhile, the refusal returns its word and the
        /// store's time, and the batch is decided again on them: so a hot key
        /// costs one round trip per batch instead of two. A batch that would
        /// write nothing (all denied) is confirmed with a real read. `None`:
        /// always read first.
        optimistic: Option<StdDuration>,

        /// When batches of checks are decided on the store (see [`ServerDecide`]).
        server_decide: ServerDecide,
    }

    /// The most operations on one key decided together with one
    /// compare-and-set (at least 1).
    #[must_use]
    pub fn max_batch(mut self, max: usize) -> Self {
        self.max_batch = max.max(1);
        self
    }
}

/// Why the store did not decide.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error {
    /// The store failed, and kept failing until the time budget ran out.
    Store(StoreError),
    /// The time budget ran out (a slow store, or a key contended beyond what
    /// the budget allows).
    TimedOut,
    /// Called outside a tokio runtime, which drives the store's batches.
    NoRuntime,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(e) => e.fmt(f),
            Self::TimedOut => {
                f.write_str("the rate-limit store did not decide within the time budget")
            }
            Self::NoRuntime => f.write_str("ratecore-redis needs a tokio runtime"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Store(e) => Some(e),
            Self::TimedOut | Self::NoRuntime => None,
        }
    }
}

/// The answer to a check: of a [`RedisLimiter`], a [`Decision`]; of a
/// [`RedisTiers`](crate::RedisTiers), a [`TieredDecision`](crate::TieredDecision)
/// (see [`TieredAnswer`](crate::TieredAnswer)).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Answer<const HZ: u64, S = Status<HZ>, D = ratecore::Denied<HZ>> {
    /// Decided on the shared state, exactly as the in-memory limiter would.
    Decided {
        /// ratecore's own answer (its HTTP headers work unchanged).
        decision: Result<S, D>,
        /// The store's time the decision was made at, in ticks since the
        /// Unix epoch: read with the state, or, for a local denial or an
        /// optimistic batch, estimated as the store's time last seen plus
        /// the local time since (never later than the store's time).
        at: Instant<HZ>,
    },
    /// The store could not decide in time: the [`FailPolicy`] answered.
    Failed {
        /// Whether the policy admitted the check ([`FailPolicy::Open`]).
        admitted: bool,
        /// Why the store did not decide.
        error: Error,
    },
}

impl<const HZ: u64, S, D> Answer<HZ, S, D> {
    /// Whether the check may go ahead.
    pub fn is_admitted(&self) -> bool {
        match self {
            Self::Decided { decision, .. } => decision.is_ok(),
            Self::Failed { admitted, .. } => *admitted,
        }
    }

    /// The decision, when the store made one.
    pub fn decision(&self) -> Option<&Result<S, D>> {
        match self {
            Self::Decided { decision, .. } => Some(decision),
            Self::Failed { .. } => None,
        }
    }
}

/// Counters of a limiter since it was built (all clones share them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Checks asked for.
    pub checks: u64,
    /// Checks admitted by a decision.
    pub admitted: u64,
    /// Checks denied by a decision (including the deny cache's).
    pub denied: u64,
    /// Denials answered from the deny cache, without the store.
    pub denied_locally: u64,
    /// Checks admitted by [`FailPolicy::Open`].
    pub failed_open: u64,
    /// Checks denied by [`FailPolicy::Closed`].
    pub failed_closed: u64,
    /// Batches sent to the store (each one read and at most one successful
    /// compare-and-set, or one call of the server-side script).
    pub batches: u64,
    /// Operations in those batches.
    pub batched_ops: u64,
    /// Reads sent to the store.
    pub reads: u64,
    /// Batches sent without a read, on the last word seen (see [`Config::optimistic`]).
    pub reads_skipped: u64,
    /// Compare-and-sets that stored.
    pub cas_stored: u64,
    /// Compare-and-sets refused because another client wrote first.
    pub cas_conflicts: u64,
    /// Store errors (each retried while the budget lasts).
    pub store_errors: u64,
    /// Batches decided by the store's GCRA script (see [`ServerDecide`]).
    pub server_batches: u64,
    /// Batches the script refused (a stale base second, a word out of its
    /// exact range), then decided by compare-and-set.
    pub server_refused: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    checks: AtomicU64,
    admitted: AtomicU64,
    denied: AtomicU64,
    denied_locally: AtomicU64,
    failed_open: AtomicU64,
    failed_closed: AtomicU64,
    batches: AtomicU64,
    batched_ops: AtomicU64,
    reads: AtomicU64,
    reads_skipped: AtomicU64,
    cas_stored: AtomicU64,
    cas_conflicts: AtomicU64,
    store_errors: AtomicU64,
    server_batches: AtomicU64,
    server_refused: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Check(u32),
    Refund(u32),
}

type Reply<const HZ: u64> = (Decision<HZ>, Instant<HZ>);

/// The last word this process saw for a key, and when.
#[derive(Clone, Copy)]
struct Known {
    value: Option<u64>,
    /// The store's time of that sighting, in ns.
    server_ns: u64,
    /// The local time the store's answer arrived.
    local: std::time::Instant,
}

const KNOWN_CAPACITY: usize = 65_536;
const HOT_CAPACITY: usize = 65_536;
/// How long a key whose compare-and-set lost stays decided on the server.
const HOT_FOR: StdDuration = StdDuration::from_secs(1);

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere cannot leave these maps inconsistent (every update
    // is a single insert or remove), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct Inner<A, const HZ: u64, S> {
    algorithm: A,
    store: S,
    config: Config,
    /// `:{name}:{fingerprint}`, the end of every key.
    suffix: String,
    /// Keys with a batch in flight, and the operations waiting for the next.
    queues: Queues<Op, Reply<HZ>>,
    deny: DenyCache<u64>,
    known: Mutex<HashMap<String, Known>>,
    /// The script's numbers, if this limiter's batches can be decided on the store.
    gcra: Option<GcraParams>,
    /// Keys decided on the store until the local instant given.
    hot: Mutex<HashMap<String, std::time::Instant>>,
    /// The store's last second seen: the base of the script's arithmetic.
    server_secs: AtomicU64,
    /// Shared by the limiters of a [`RedisPlans`](crate::RedisPlans), one per plan.
    counters: Arc<Counters>,
}

/// A rate limiter whose state lives in a shared [`Store`] (Redis by
/// default), deciding with ratecore's own algorithm `A` at tick rate `HZ`.
///
/// Every process that builds a `RedisLimiter` with the same algorithm
/// configuration, prefix and store shares one quota per key. Decisions are
/// those of the in-memory limiter fed the same `(instant, n)` sequence, the
/// instants being the store's clock. Clones share everything (batches, deny
/// cache, metrics). Needs a tokio runtime: each key's batches are driven by
/// a spawned task.
///
/// ```no_run
/// use ratecore::{Gcra, Quota};
/// use ratecore_redis::{Config, RedisLimiter, RedisStore};
/// use std::time::Duration;
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::open("redis://127.0.0.1:6379/", Duration::from_millis(50))?;
/// let quota = Gcra::<{ ratecore::time::NANOS }>::new(Quota::per_second(100).burst(20))?;
/// let limiter = RedisLimiter::new(quota, store, Config::new("api"));
/// if limiter.check_n("user-42", 1).await.is_admitted() {
///     // serve the request
/// }
/// # Ok(())
/// # }
/// ```
pub struct RedisLimiter<A, const HZ: u64, S = crate::RedisStore> {
    inner: Arc<Inner<A, HZ, S>>,
}

/// `Clone` for a handle whose one field is an `Arc` of what its clones
/// share (whatever its type parameters implement): `[generics] Type, field`.
macro_rules! shared_clone {
    ([$($generics:tt)*] $handle:ty, $field:ident) => {
        impl<$($generics)*> Clone for $handle {
            fn clone(&self) -> Self {
                Self {
                    $field: std::sync::Arc::clone(&self.$field),
                }
            }
        }
    };
}
pub(crate) use shared_clone;

shared_clone!([A, const HZ: u64, S] RedisLimiter<A, HZ, S>, inner);

impl<A, const HZ: u64, S> fmt::Debug for RedisLimiter<A, HZ, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("config", &self.inner.config)
            .field("suffix", &self.inner.suffix)
            .finish_non_exhaustive()
    }
}

impl<A, const HZ: u64, S> RedisLimiter<A, HZ, S>
where
    A: Algorithm<HZ> + Send + Sync + 'static,
    S: Store,
{
    /// A limiter deciding with `algorithm` (its configuration; its own
    /// in-memory state is never used) on states in `store`.
    pub fn new(algorithm: A, store: S, config: Config) -> Self {
        Self::with_suffix(algorithm, store, config, "", Arc::default())
    }

    /// A limiter whose keys end in `{infix}:{name}:{fingerprint}`, counting
    /// in `counters` (the one constructor, for [`RedisPlans`](crate::RedisPlans) too).
    pub(crate) fn with_suffix(
        algorithm: A,
        store: S,
        config: Config,
        infix: &str,
        counters: Arc<Counters>,
    ) -> Self {
        let suffix = format!("{infix}:{}:{:016x}", A::NAME, algorithm.fingerprint());
        let deny = DenyCache::new(config.deny_cache);
        let gcra = match config.server_decide {
            ServerDecide::Never => None,
            _ => GcraParams::of::<A, HZ>(&algorithm),
        };
        Self {
            inner: Arc::new(Inner {
                algorithm,
                store,
                config,
                suffix,
                queues: Mutex::new(HashMap::new()),
                deny,
                known: Mutex::new(HashMap::new()),
                gcra,
                hot: Mutex::new(HashMap::new()),
                server_secs: AtomicU64::new(0),
                counters,
            }),
        }
    }

    /// The store key of `user_key`: `{prefix}:{{user_key}}:{name}:{fingerprint}`,
    /// the user part in a cluster hash tag, the algorithm's name and a hash
    /// of its configuration at the end (so a changed configuration starts
    /// from fresh states instead of misreading old ones).
    pub fn key(&self, user_key: &str) -> String {
        format!(
            "{}:{{{}}}{}",
            self.inner.config.prefix, user_key, self.inner.suffix
        )
    }

    /// The algorithm (configuration) this limiter decides with.
    pub fn algorithm(&self) -> &A {
        &self.inner.algorithm
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// The counters so far.
    pub fn metrics(&self) -> Metrics {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Metrics {
            checks: get(&c.checks),
            admitted: get(&c.admitted),
            denied: get(&c.denied),
            denied_locally: get(&c.denied_locally),
            failed_open: get(&c.failed_open),
            failed_closed: get(&c.failed_closed),
            batches: get(&c.batches),
            batched_ops: get(&c.batched_ops),
            reads: get(&c.reads),
            reads_skipped: get(&c.reads_skipped),
            cas_stored: get(&c.cas_stored),
            cas_conflicts: get(&c.cas_conflicts),
            store_errors: get(&c.store_errors),
            server_batches: get(&c.server_batches),
            server_refused: get(&c.server_refused),
        }
    }

    /// Checks one unit for `key`. See [`check_n`](RedisLimiter::check_n).
    pub async fn check(&self, key: &str) -> Answer<HZ> {
        self.check_n(key, 1).await
    }

    /// Checks `n` units for `key` and, if admitted, charges them, in the
    /// shared state.
    ///
    /// Concurrent checks of one key in this process are decided together,
    /// one after another on the state read, and stored with one
    /// compare-and-set. A key denied recently may be answered from the deny
    /// cache (see [`Config::deny_cache`]). When the store cannot decide
    /// within the time budget, the [`FailPolicy`] answers.
    pub async fn check_n(&self, key: &str, n: u32) -> Answer<HZ> {
        let inner = &self.inner;
        bump(&inner.counters.checks, 1);
        let key = self.key(key);
        if let Some(answer) = inner.denied_locally(&key, n) {
            // Answered without awaiting anything: let tokio's cooperative
            // budget preempt a task that loops on local denials, so it
            // cannot starve the tasks that drive the store's batches.
            tokio::task::consume_budget().await;
            bump(&inner.counters.denied_locally, 1);
            bump(&inner.counters.denied, 1);
            return answer;
        }
        match self.submit(key, Op::Check(n)).await {
            Ok((decision, at)) => {
                let counter = if decision.is_ok() {
                    &inner.counters.admitted
                } else {
                    &inner.counters.denied
                };
                bump(counter, 1);
                Answer::Decided { decision, at }
            }
            Err(error) => {
                let admitted = inner.config.fail_policy == FailPolicy::Open;
                let counter = if admitted {
                    &inner.counters.failed_open
                } else {
                    &inner.counters.failed_closed
                };
                bump(counter, 1);
                Answer::Failed { admitted, error }
            }
        }
    }

    /// What a check of `n` units for `key` would decide now, changing nothing.
    ///
    /// # Errors
    ///
    /// [`Error`] when the store cannot answer within the time budget.
    pub async fn peek_n(&self, key: &str, n: u32) -> Result<Decision<HZ>, Error> {
        let (state, now) = self.read_state(key).await?;
        Ok(match self.inner.algorithm.decide(state, n, now) {
            Step::Store(_, status) | Step::Keep(status) => Ok(status),
            Step::Deny(denied) => Err(denied),
        })
    }

    /// The status of `key` now, changing nothing.
    ///
    /// # Errors
    ///
    /// [`Error`] when the store cannot answer within the time budget.
    pub async fn status(&self, key: &str) -> Result<Status<HZ>, Error> {
        let (state, now) = self.read_state(key).await?;
        Ok(self.inner.algorithm.status(state, now))
    }

    /// Gives back `n` units of `key` (never above the burst), and reports
    /// the new status.
    ///
    /// # Errors
    ///
    /// [`Error`] when the store cannot answer within the time budget; the
    /// refund may or may not have been stored then.
    pub async fn refund(&self, key: &str, n: u32) -> Result<Status<HZ>, Error> {
        let key = self.key(key);
        self.inner.deny.forget(&key);
        match self.submit(key, Op::Refund(n)).await? {
            (Ok(status), _) => Ok(status),
            // A refund is always answered with a status.
            (Err(_), _) => Err(Error::TimedOut),
        }
    }

    async fn read_state(&self, key: &str) -> Result<(u64, Instant<HZ>), Error> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::NoRuntime);
        }
        let inner = &self.inner;
        let deadline = TokioInstant::now() + inner.config.time_budget;
        let (read, _) = inner.read(&self.key(key), deadline).await?;
        Ok((
            read.value.unwrap_or(0),
            Instant::<HZ>::from_ticks(ns_to_ticks::<HZ>(read.server_now_ns)),
        ))
    }

    /// Queues `op` for `key`'s next batch and waits for its answer until
    /// the time budget runs out.
    async fn submit(&self, key: String, op: Op) -> Result<Reply<HZ>, Error> {
        batch::submit(&self.inner, key, op).await
    }
}

/// Per-task pseudo-random jitter, seeded from the clock: good enough to
/// spread retries apart.
pub(crate) fn jitter(max: StdDuration) -> StdDuration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX).max(1);
    StdDuration::from_nanos(h.finish() % nanos)
}

impl<A, const HZ: u64, S> Inner<A, HZ, S>
where
    A: Algorithm<HZ> + Send + Sync + 'static,
    S: Store,
{
    fn denied_locally(&self, key: &str, n: u32) -> Option<Answer<HZ>> {
        let (state, at) = self.deny.get::<HZ>(key)?;
        match self.algorithm.decide(state, n, at) {
            Step::Deny(denied) => Some(Answer::Decided {
                decision: Err(denied),
                at,
            }),
            Step::Store(..) | Step::Keep(_) => None,
        }
    }

    /// Decides `ops` in order on `state` at `now`: the answers and the final state.
    fn decide_all(&self, mut state: u64, ops: &[Op], now: Instant<HZ>) -> (Vec<Decision<HZ>>, u64) {
        let answers = ops
            .iter()
            .map(|op| match *op {
                Op::Check(n) => match self.algorithm.decide(state, n, now) {
                    Step::Store(next, status) => {
                        state = next;
                        Ok(status)
                    }
                    Step::Keep(status) => Ok(status),
                    Step::Deny(denied) => Err(denied),
                },
                Op::Refund(n) => {
                    state = self.algorithm.refund(state, n, now);
                    Ok(self.algorithm.status(state, now))
                }
            })
            .collect();
        (answers, state)
    }

    /// Reads `key`, retrying store errors with jittered backoff until `deadline`.
    async fn read(
        &self,
        key: &str,
        deadline: TokioInstant,
    ) -> Result<(Read, std::time::Instant), Error> {
        let mut attempt = 0u32;
        let mut last = None;
        loop {
            bump(&self.counters.reads, 1);
            match tokio::time::timeout_at(deadline, self.store.read(key)).await {
                Ok(Ok(read)) => {
                    self.note_time(read.server_now_ns);
                    return Ok((read, std::time::Instant::now()));
                }
                Ok(Err(e)) => {
                    bump(&self.counters.store_errors, 1);
                    last = Some(e);
                }
                Err(_) => return Err(last.map_or(Error::TimedOut, Error::Store)),
            }
            attempt = attempt.saturating_add(1);
            self.backoff(attempt, deadline).await;
            if TokioInstant::now() >= deadline {
                return Err(last.map_or(Error::TimedOut, Error::Store));
            }
        }
    }

    /// Sleeps a jittered, exponentially growing while (1 ms to 32 ms), never past `deadline`.
    async fn backoff(&self, attempt: u32, deadline: TokioInstant) {
        let cap = StdDuration::from_millis(1u64 << attempt.min(5));
        let wake = (TokioInstant::now() + cap / 2 + jitter(cap / 2)).min(deadline);
        tokio::time::sleep_until(wake).await;
    }

    /// The word this process last saw for `key`, as a read at the store's
    /// time estimated now, if it is at most `max_age` old.
    fn estimate(&self, key: &str, max_age: StdDuration) -> Option<(Read, std::time::Instant)> {
        let known = *lock(&self.known).get(key)?;
        let local = std::time::Instant::now();
        let age = local.saturating_duration_since(known.local);
        if age > max_age {
            return None;
        }
        // The store's clock has run at least `age` since it stamped the
        // sighting (the reply then took some time to arrive): the estimate
        // is never later than the store's time now.
        let elapsed = u64::try_from(age.as_nanos()).unwrap_or(u64::MAX);
        let read = Read {
            value: known.value,
            server_now_ns: known.server_ns.saturating_add(elapsed),
        };
        Some((read, local))
    }

    fn saw(&self, key: &str, value: Option<u64>, server_ns: u64, local: std::time::Instant) {
        if self.config.optimistic.is_none() {
            return;
        }
        let mut known = lock(&self.known);
        if known.len() >= KNOWN_CAPACITY && !known.contains_key(key) {
            let max_age = self.config.optimistic.unwrap_or_default();
            known.retain(|_, k| k.local.elapsed() <= max_age);
            if known.len() >= KNOWN_CAPACITY {
                known.clear();
            }
        }
        known.insert(
            key.to_owned(),
            Known {
                value,
                server_ns,
                local,
            },
        );
    }

    /// A real read, remembered as the key's last sighting.
    async fn fresh_read(
        &self,
        key: &str,
        deadline: TokioInstant,
    ) -> Result<(Read, std::time::Instant), Error> {
        let (read, local) = self.read(key, deadline).await?;
        self.saw(key, read.value, read.server_now_ns, local);
        Ok((read, local))
    }

    /// One batch: read (or estimate, see [`Config::optimistic`]), decide,
    /// compare-and-set, and on a conflict decide again on the value the
    /// refusal returned, until stored or `deadline`.
    async fn settle_batch(
        &self,
        key: &str,
        ops: &[Op],
        deadline: TokioInstant,
    ) -> Result<(Vec<Decision<HZ>>, Instant<HZ>), Error> {
        // The units of a batch of checks the store may decide, while it may.
        let mut on_server = self.server_checks(ops);
        let mut refused = None;
        if let Some(ns) = on_server.as_deref() {
            if self.config.server_decide == ServerDecide::Always || self.is_hot(key) {
                match self.decide_on_server(key, ops, ns, deadline).await? {
                    Served::Done(done) => return Ok(done),
                    Served::Refused(read, local) => refused = Some((read, local)),
                    Served::Unavailable => {}
                }
                on_server = None;
            }
        }
        let estimated = match refused {
            Some(_) => None,
            None => self
                .config
                .optimistic
                .and_then(|age| self.estimate(key, age)),
        };
        let mut estimated_read = estimated.is_some();
        let (mut read, mut read_local) = match (refused, estimated) {
            (Some(read), _) => read,
            (None, Some(estimate)) => {
                bump(&self.counters.reads_skipped, 1);
                estimate
            }
            (None, None) => self.fresh_read(key, deadline).await?,
        };
        let mut attempt = 0u32;
        loop {
            let now = Instant::<HZ>::from_ticks(ns_to_ticks::<HZ>(read.server_now_ns));
            let start = read.value.unwrap_or(0);
            let (answers, end) = self.decide_all(start, ops, now);
            if end == start {
                if estimated_read {
                    // Nothing to write, so no compare-and-set would check
                    // the word this was decided on: read it for real.
                    (read, read_local) = self.fresh_read(key, deadline).await?;
                    estimated_read = false;
                    continue;
                }
                // Nothing to store: all denied, or no change (a missing key
                // stays missing, which is FRESH).
                self.remember(key, &answers, end, now, read_local);
                return Ok((answers, now));
            }
            // A state that never goes idle by itself (units in flight)
            // expires a lease after its last write, if one is configured.
            let ttl = match self.algorithm.idle_after(end, now) {
                Some(idle) => Some(ttl_ms::<HZ>(idle.as_ticks())),
                None => self.config.lease.map(lease_ms),
            };
            let cas = self.store.compare_and_set(key, read.value, end, ttl);
            match tokio::time::timeout_at(deadline, cas).await {
                Ok(Ok(CasOutcome::Stored)) => {
                    bump(&self.counters.cas_stored, 1);
                    self.saw(key, Some(end), read.server_now_ns, read_local);
                    self.remember(key, &answers, end, now, read_local);
                    return Ok((answers, now));
                }
                Ok(Ok(CasOutcome::Conflict(current))) => {
                    // Another client wrote first (or the key expired): decide
                    // again on the current value, at the time the refusal
                    // carries. Each conflict means some client's write
                    // succeeded, so the key as a whole always progresses.
                    bump(&self.counters.cas_conflicts, 1);
                    read = current;
                    read_local = std::time::Instant::now();
                    estimated_read = false;
                    self.saw(key, read.value, read.server_now_ns, read_local);
                    // Contended: let the store decide the retry, and the
                    // key's next batches for a while, so that the key costs
                    // one round trip per batch instead of a retry storm.
                    if let Some(ns) = on_server.take() {
                        self.mark_hot(key);
                        match self.decide_on_server(key, ops, &ns, deadline).await? {
                            Served::Done(done) => return Ok(done),
                            Served::Refused(current, local) => {
                                (read, read_local) = (current, local)
                            }
                            Served::Unavailable => {}
                        }
                    }
                }
                Ok(Err(e)) => {
                    // The outcome is unknown: the write may have landed
                    // before the connection failed. Read again; if the key
                    // holds exactly our word, it did. Otherwise decide again
                    // (if it lands later still, our retry's compare fails on
                    // it: charged twice, admitted once; stricter, never looser).
                    // (Another client writing the very same word meanwhile,
                    // the same transition from the same state at the same
                    // tick, would be taken for ours: an ABA we accept, as it
                    // needs a lost reply and an identical concurrent charge.)
                    bump(&self.counters.store_errors, 1);
                    lock(&self.known).remove(key);
                    attempt = attempt.saturating_add(1);
                    self.backoff(attempt, deadline).await;
                    let (again, local) =
                        self.fresh_read(key, deadline).await.map_err(|failure| {
                            if matches!(failure, Error::TimedOut) {
                                Error::Store(e)
                            } else {
                                failure
                            }
                        })?;
                    if again.value == Some(end) {
                        bump(&self.counters.cas_stored, 1);
                        self.remember(key, &answers, end, now, read_local);
                        return Ok((answers, now));
                    }
                    read = again;
                    read_local = local;
                    estimated_read = false;
                }
                Err(_) => {
                    lock(&self.known).remove(key);
                    return Err(Error::TimedOut);
                }
            }
            if TokioInstant::now() >= deadline {
                return Err(Error::TimedOut);
            }
        }
    }

    /// Keeps the state of a batch with a timed denial in the deny cache, or
    /// forgets the key's entry otherwise.
    fn remember(
        &self,
        key: &str,
        answers: &[Decision<HZ>],
        state: u64,
        now: Instant<HZ>,
        read_local: std::time::Instant,
    ) {
        let wait = answers
            .iter()
            .filter_map(|a| a.as_ref().err().and_then(|d| d.retry_after()))
            .map(|d| d.as_ticks())
            .max();
        self.deny.remember(key, wait, &state, now, read_local);
    }
}

impl<A, const HZ: u64, S> Batched for Inner<A, HZ, S>
where
    A: Algorithm<HZ> + Send + Sync + 'static,
    S: Store,
{
    type Op = Op;
    type Reply = Reply<HZ>;

    fn queues(&self) -> &Queues<Op, Reply<HZ>> {
        &self.queues
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn count_batch(&self, ops: usize) {
        bump(&self.counters.batches, 1);
        bump(&self.counters.batched_ops, ops as u64);
    }

    async fn settle(
        &self,
        key: &str,
        ops: &[Op],
        deadline: TokioInstant,
    ) -> Result<Vec<Reply<HZ>>, Error> {
        let (answers, at) = self.settle_batch(key, ops, deadline).await?;
        Ok(answers.into_iter().map(|answer| (answer, at)).collect())
    }
}

#[cfg(test)]
mod tests {
    //! The batching logic against a fake store (the Redis store is tested
    //! against a real server in `tests/`).
    use super::*;
    use ratecore::{Gcra, Limiter, Quota};
    use std::sync::atomic::AtomicBool;

    #[derive(Default)]
    struct Fake {
        words: Mutex<HashMap<String, u64>>,
        now_ns: AtomicU64,
        reads: AtomicU64,
        cas_calls: AtomicU64,
        read_delay_ms: AtomicU64,
        /// Units another client charges just before the next compare-and-set.
        meddle: Mutex<Option<(Gcra<1_000>, u32)>>,
        broken: AtomicBool,
        hang: AtomicBool,
    }

    impl Store for Arc<Fake> {
        async fn read(&self, key: &str) -> Result<Read, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            if self.hang.load(Ordering::SeqCst) {
                tokio::time::sleep(StdDuration::from_secs(3600)).await;
            }
            if self.broken.load(Ordering::SeqCst) {
                return Err(StoreError::BadReply("broken".into()));
            }
            let delay = self.read_delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                tokio::time::sleep(StdDuration::from_millis(delay)).await;
            }
            Ok(Read {
                value: lock(&self.words).get(key).copied(),
                server_now_ns: self.now_ns.load(Ordering::SeqCst),
            })
        }

        async fn compare_and_set(
            &self,
            key: &str,
            expected: Option<u64>,
            new: u64,
            _ttl_ms: Option<u64>,
        ) -> Result<CasOutcome, StoreError> {
            self.cas_calls.fetch_add(1, Ordering::SeqCst);
            let now_ns = self.now_ns.load(Ordering::SeqCst);
            let mut words = lock(&self.words);
            if let Some((other, n)) = lock(&self.meddle).take() {
                let state = words.get(key).copied().unwrap_or(0);
                let now = Instant::<1_000>::from_ticks(ns_to_ticks::<1_000>(now_ns));
                if let Step::Store(next, _) = Algorithm::decide(&other, state, n, now) {
                    words.insert(key.to_owned(), next);
                }
            }
            let current = words.get(key).copied();
            if current == expected {
                words.insert(key.to_owned(), new);
                Ok(CasOutcome::Stored)
            } else {
                Ok(CasOutcome::Conflict(Read {
                    value: current,
                    server_now_ns: now_ns,
                }))
            }
        }
    }

    fn gcra() -> Gcra<1_000> {
        Gcra::<1_000>::new(Quota::per_second(10).burst(20)).unwrap()
    }

    const T0_MS: u64 = 1_700_000_000_000;

    fn setup(config: Config) -> (Arc<Fake>, RedisLimiter<Gcra<1_000>, 1_000, Arc<Fake>>) {
        let fake = Arc::new(Fake::default());
        fake.now_ns.store(T0_MS * 1_000_000, Ordering::SeqCst);
        let limiter = RedisLimiter::new(gcra(), Arc::clone(&fake), config);
        (fake, limiter)
    }

    /// Spawns `ns.len()` checks in order and collects their answers in order.
    async fn concurrent_checks(
        limiter: &RedisLimiter<Gcra<1_000>, 1_000, Arc<Fake>>,
        ns: &[u32],
    ) -> Vec<Answer<1_000>> {
        let handles: Vec<_> = ns
            .iter()
            .map(|&n| {
                let l = limiter.clone();
                tokio::spawn(async move { l.check_n("k", n).await })
            })
            .collect();
        let mut answers = Vec::new();
        for h in handles {
            answers.push(h.await.unwrap());
        }
        answers
    }

    #[test]
    fn outside_a_runtime_the_policy_answers() {
        let (_fake, limiter) = setup(Config::new("t").fail_policy(FailPolicy::Open));
        let answer = futures_lite_block_on(limiter.check("k"));
        assert!(matches!(
            answer,
            Answer::Failed {
                admitted: true,
                error: Error::NoRuntime
            }
        ));
        assert!(matches!(
            futures_lite_block_on(limiter.status("k")),
            Err(Error::NoRuntime)
        ));
    }

    /// A minimal executor that is not tokio's.
    fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
        use std::task::{Context, Poll, Waker};
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_batch_decides_as_the_calls_in_sequence_with_one_cas() {
        // The first check of an idle key is decided alone, in its own task;
        // the 39 that queue behind it meanwhile are one batch. (Reads are
        // real, so every batch is decided at the store's instant.)
        let (fake, limiter) = setup(Config::new("t").deny_cache(None).optimistic(None));
        fake.read_delay_ms.store(5, Ordering::SeqCst);
        let ns: Vec<u32> = (0..40).map(|i| [1, 3, 0, 2, 25][i % 5]).collect();
        let answers = concurrent_checks(&limiter, &ns).await;
        let memory = gcra();
        let now = Instant::<1_000>::from_ticks(T0_MS);
        for (&n, answer) in ns.iter().zip(&answers) {
            assert_eq!(answer.decision(), Some(&memory.check_n_at(n, now)));
        }
        let m = limiter.metrics();
        assert_eq!((m.batches, m.batched_ops, m.cas_stored), (2, 40, 2));
        assert_eq!(fake.cas_calls.load(Ordering::SeqCst), 2);
        assert_eq!(fake.reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_dropped_first_caller_hands_the_queue_to_a_driver() {
        let config = Config::new("t")
            .deny_cache(None)
            .optimistic(None)
            .time_budget(StdDuration::from_secs(5));
        let (fake, limiter) = setup(config);
        fake.read_delay_ms.store(20, Ordering::SeqCst);
        let spawn_check = || {
            let l = limiter.clone();
            tokio::spawn(async move { l.check("k").await })
        };
        let first = spawn_check();
        // The first check starts its own batch and waits for its read...
        tokio::task::yield_now().await;
        let rest: Vec<_> = (0..3).map(|_| spawn_check()).collect();
        // ...the others queue behind it, and then it is dropped.
        tokio::task::yield_now().await;
        first.abort();
        assert!(first.await.unwrap_err().is_cancelled());
        for check in rest {
            let answer = check.await.unwrap();
            assert!(
                answer.is_admitted() && answer.decision().is_some(),
                "{answer:?}"
            );
        }
        let m = limiter.metrics();
        assert_eq!((m.admitted, m.failed_closed, m.batches), (3, 0, 2));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_conflict_decides_again_on_the_returned_value() {
        // The first check goes alone and meets the other client's write;
        // the other three are the next batch.
        let (fake, limiter) = setup(Config::new("t").deny_cache(None).optimistic(None));
        fake.read_delay_ms.store(2, Ordering::SeqCst);
        *lock(&fake.meddle) = Some((gcra(), 15));
        let ns = [2u32, 2, 2, 2];
        let answers = concurrent_checks(&limiter, &ns).await;
        // Another client's 15 units came first, then the batch.
        let memory = gcra();
        let now = Instant::<1_000>::from_ticks(T0_MS);
        assert!(memory.check_n_at(15, now).is_ok());
        for (&n, answer) in ns.iter().zip(&answers) {
            assert_eq!(answer.decision(), Some(&memory.check_n_at(n, now)));
        }
        let admitted = answers.iter().filter(|a| a.is_admitted()).count();
        assert_eq!(admitted, 2);
        let m = limiter.metrics();
        assert_eq!((m.cas_conflicts, m.cas_stored, m.reads), (1, 2, 2));
        assert_eq!(fake.cas_calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn optimistic_batches_skip_the_read_and_recover_from_conflicts() {
        let (fake, limiter) = setup(Config::new("t").deny_cache(None));
        let memory = gcra();
        // Optimistic batches are decided at the store's last time plus the
        // local time since: replay each at the instant it reports.
        let same = |answer: &Answer<1_000>, n: u32, memory: &Gcra<1_000>| {
            let Answer::Decided { decision, at } = answer else {
                panic!("{answer:?}")
            };
            assert_eq!(decision, &memory.check_n_at(n, *at));
        };
        let now = Instant::<1_000>::from_ticks(T0_MS);
        for _ in 0..3 {
            same(&limiter.check_n("k", 2).await, 2, &memory);
        }
        let m = limiter.metrics();
        assert_eq!((m.reads, m.reads_skipped, m.cas_stored), (1, 2, 3));
        // Another client charges 10: the optimistic write is refused and
        // the batch is decided again on the returned word.
        *lock(&fake.meddle) = Some((gcra(), 10));
        assert!(memory.check_n_at(10, now).is_ok());
        for n in [5, 1] {
            same(&limiter.check_n("k", n).await, n, &memory);
        }
        let m = limiter.metrics();
        assert_eq!((m.cas_conflicts, m.reads), (1, 1));
        // A batch that writes nothing is confirmed with a real read.
        same(&limiter.check_n("k", 5).await, 5, &memory);
        assert_eq!(limiter.metrics().reads, 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_denied_key_is_answered_locally_until_it_could_pass() {
        let (fake, limiter) = setup(Config::new("t"));
        assert!(limiter.check_n("k", 20).await.is_admitted());
        let denied = limiter.check_n("k", 1).await;
        assert!(!denied.is_admitted());
        let reads = fake.reads.load(Ordering::SeqCst);
        for _ in 0..100 {
            let again = limiter.check_n("k", 1).await;
            let Some(Err(d)) = again.decision() else {
                panic!("{again:?}")
            };
            assert!(d.retry_after().is_some());
        }
        assert_eq!(
            fake.reads.load(Ordering::SeqCst),
            reads,
            "no store round trip"
        );
        assert_eq!(limiter.metrics().denied_locally, 100);
        // A refund by this process forgets the cached denial.
        limiter.refund("k", 1).await.unwrap();
        assert!(limiter.check_n("k", 1).await.is_admitted());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_fail_policy_answers_within_the_budget() {
        for policy in [FailPolicy::Open, FailPolicy::Closed] {
            for hang in [false, true] {
                let budget = StdDuration::from_millis(30);
                let (fake, limiter) =
                    setup(Config::new("t").fail_policy(policy).time_budget(budget));
                fake.broken.store(!hang, Ordering::SeqCst);
                fake.hang.store(hang, Ordering::SeqCst);
                let started = std::time::Instant::now();
                let answer = limiter.check("k").await;
                assert!(started.elapsed() < budget + StdDuration::from_millis(50));
                assert!(matches!(answer, Answer::Failed { .. }));
                assert_eq!(answer.is_admitted(), policy == FailPolicy::Open);
                let m = limiter.metrics();
                assert_eq!(m.failed_open + m.failed_closed, 1);
                assert!(limiter.status("k").await.is_err());
                // Recovery: the next check after the store returns is decided.
                fake.broken.store(false, Ordering::SeqCst);
                fake.hang.store(false, Ordering::SeqCst);
                assert!(matches!(
                    limiter.check("k").await,
                    Answer::Decided {
                        decision: Ok(_),
                        ..
                    }
                ));
            }
        }
    }
}
