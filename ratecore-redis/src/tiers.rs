//! Several limits for one key, in one value, with one compare-and-set.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration as StdDuration;

use ratecore::compose::{TierAnswer, TierDecision};
use ratecore::{Denied, Duration, Instant, Status};
use tokio::time::Instant as TokioInstant;

use crate::batch::{self, Batched, Queues};
use crate::deny_cache::DenyCache;
use crate::limiter::{Answer, Config, Error, FailPolicy, jitter, shared_clone};
use crate::store::{ReadWords, StoreError, WordsOutcome, WordsStore, ns_to_ticks, ttl_ms};
use crate::tie_break::{more_restrictive, tighter};
use ratecore::kernel::{Algorithm, Step};

/// An answer of a [`RedisTiers`] and the tier it comes from: the one that
/// binds. ratecore's own [`TierAnswer`], as its in-memory `Tiers` answers.
pub type Tiered<T> = TierAnswer<T>;

/// A tiered decision: admitted with the most restrictive tier's [`Status`],
/// or denied with the most restrictive [`Denied`], chosen exactly as
/// ratecore's `Tiers` chooses (its [`TierDecision`]).
pub type TieredDecision<const HZ: u64> = TierDecision<HZ>;

/// The answer to a tiered check: an [`Answer`] whose decision names the
/// binding tier ([`TieredDecision`]).
pub type TieredAnswer<const HZ: u64> = Answer<HZ, Tiered<Status<HZ>>, Tiered<Denied<HZ>>>;

/// A [`RedisTiers::check_costs`] answer: the decision, and every tier's
/// status after it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TieredCheck<const HZ: u64> {
    /// The answer, as [`RedisTiers::check_n`] gives it.
    pub answer: TieredAnswer<HZ>,
    /// Every tier's status at the decision's instant, in the tiers' order:
    /// after the charge if admitted, unchanged if denied. Empty when the
    /// fail policy answered.
    pub statuses: Vec<Status<HZ>>,
}

/// All-or-nothing over `N` limits of one key ("100 per minute with a burst
/// of 120, and 10,000 per day"), their `N` state words kept in **one** store
/// value (comma-separated decimals) and changed with one compare-and-set:
/// a check is admitted only if every tier admits it, and then charged to
/// every tier; a denial charges nothing.
///
/// Decisions are those of ratecore's in-memory `Tiers` over the same
/// limiters. Concurrent checks of one key in this process are batched as a
/// [`RedisLimiter`](crate::RedisLimiter)'s are (one read and one
/// compare-and-set per batch), and denied keys are answered from the same
/// kind of deny cache; there are no optimistic writes and no server-side
/// script. Clones share everything.
///
/// ```no_run
/// use ratecore::{Gcra, Quota};
/// use ratecore_redis::{Config, RedisStore, RedisTiers};
/// use std::time::Duration;
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::open("redis://127.0.0.1:6379/", Duration::from_millis(50))?;
/// let minute = Gcra::<1_000_000>::new(Quota::per_minute(100).burst(120))?;
/// let day = Gcra::<1_000_000>::new(Quota::per_day(10_000))?;
/// let plan = RedisTiers::new([("burst", minute), ("daily", day)], store, Config::new("api"));
/// let answer = plan.check_n("customer-42", 1).await;
/// # Ok(())
/// # }
/// ```
pub struct RedisTiers<A, const HZ: u64, const N: usize, S = crate::RedisStore> {
    inner: Arc<Shared<A, HZ, N, S>>,
}

/// A tiered check's reply: the decision, its instant, every tier's status after it.
type Reply<const HZ: u64> = (TieredDecision<HZ>, Instant<HZ>, Vec<Status<HZ>>);

/// What the clones of a [`RedisTiers`] and its batches' driver tasks share.
struct Shared<A, const HZ: u64, const N: usize, S> {
    tiers: [(&'static str, A); N],
    store: S,
    config: Config,
    suffix: String,
    failed: AtomicU64,
    /// Denials answered locally (see [`Config::deny_cache`]).
    deny: DenyCache<Vec<u64>>,
    denied_locally: AtomicU64,
    /// Batches of checks settled with the store.
    batches: AtomicU64,
    /// Keys with a batch in flight, and the checks queued behind it.
    queues: Queues<[u32; N], Reply<HZ>>,
}

shared_clone!([A, const HZ: u64, const N: usize, S] RedisTiers<A, HZ, N, S>, inner);

impl<A, const HZ: u64, const N: usize, S> fmt::Debug for RedisTiers<A, HZ, N, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTiers")
            .field("config", &self.inner.config)
            .field("suffix", &self.inner.suffix)
            .finish_non_exhaustive()
    }
}

/// FNV-1a over the tiers' names and fingerprints.
fn combine(parts: impl Iterator<Item = (&'static str, u64)>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for (name, fingerprint) in parts {
        eat(name.as_bytes());
        eat(&[0]);
        eat(&fingerprint.to_le_bytes());
    }
    hash
}

impl<A, const HZ: u64, const N: usize, S> RedisTiers<A, HZ, N, S>
where
    A: Algorithm<HZ> + Send + Sync + 'static,
    S: WordsStore,
{
    /// Tiers `(name, algorithm)` in that order, on states in `store`.
    ///
    /// `N` must be at least 1 (checked at compile time).
    pub fn new(tiers: [(&'static str, A); N], store: S, config: Config) -> Self {
        const {
            assert!(N >= 1, "a set of tiers needs at least one tier");
        }
        let fingerprint = combine(tiers.iter().map(|(name, a)| (*name, a.fingerprint())));
        let suffix = format!(":tiers-{}-{N}:{fingerprint:016x}", A::NAME);
        let deny = DenyCache::new(config.deny_cache);
        Self {
            inner: Arc::new(Shared {
                tiers,
                store,
                config,
                suffix,
                failed: AtomicU64::new(0),
                deny,
                denied_locally: AtomicU64::new(0),
                batches: AtomicU64::new(0),
                queues: Queues::default(),
            }),
        }
    }

    /// The store key of `user_key`: `{prefix}:{{user_key}}:tiers-{name}-{N}:{fingerprint}`.
    pub fn key(&self, user_key: &str) -> String {
        let inner = &self.inner;
        format!("{}:{{{}}}{}", inner.config.prefix, user_key, inner.suffix)
    }

    /// Checks answered by the fail policy so far.
    pub fn failed(&self) -> u64 {
        self.inner.failed.load(Ordering::Relaxed)
    }

    /// Denials answered from the deny cache so far, without the store.
    pub fn denied_locally(&self) -> u64 {
        self.inner.denied_locally.load(Ordering::Relaxed)
    }

    /// Batches of checks settled with the store so far (each one read and
    /// at most one successful compare-and-set): concurrent checks of one
    /// key in this process are decided together, as a
    /// [`RedisLimiter`](crate::RedisLimiter)'s are.
    pub fn batches(&self) -> u64 {
        self.inner.batches.load(Ordering::Relaxed)
    }

    /// Checks `n` units in every tier for `key` and, if every tier admits
    /// them, charges every tier, with one compare-and-set.
    pub async fn check_n(&self, key: &str, n: u32) -> TieredAnswer<HZ> {
        self.check_costs(key, [n; N]).await.answer
    }

    /// Checks `costs[i]` units in tier `i` for `key` (tiers that count
    /// different things: requests in one, characters in another) and, if
    /// every tier admits its cost, charges every tier, with one
    /// compare-and-set: all or nothing, exactly as [`check_n`](Self::check_n).
    /// The answer comes with every tier's status after the check.
    ///
    /// A key denied recently may be answered from the deny cache, as a
    /// [`RedisLimiter`](crate::RedisLimiter)'s (see [`Config::deny_cache`]).
    pub async fn check_costs(&self, key: &str, costs: [u32; N]) -> TieredCheck<HZ> {
        let inner = &self.inner;
        let key = self.key(key);
        if let Some((words, at)) = inner.deny.get::<HZ>(&key) {
            if let Some((Err(denied), _)) = inner.decide(&words, &costs, at) {
                // Answered without awaiting anything: let tokio's
                // cooperative budget preempt a task that loops on it.
                tokio::task::consume_budget().await;
                inner.denied_locally.fetch_add(1, Ordering::Relaxed);
                return TieredCheck {
                    statuses: inner.statuses(&words, at),
                    answer: TieredAnswer::Decided {
                        decision: Err(denied),
                        at,
                    },
                };
            }
        }
        match batch::submit(inner, key, costs).await {
            Ok((decision, at, statuses)) => TieredCheck {
                statuses,
                answer: TieredAnswer::Decided { decision, at },
            },
            Err(error) => {
                inner.failed.fetch_add(1, Ordering::Relaxed);
                TieredCheck {
                    answer: TieredAnswer::Failed {
                        admitted: inner.config.fail_policy == FailPolicy::Open,
                        error,
                    },
                    statuses: Vec::new(),
                }
            }
        }
    }

    /// The status of every tier of `key` now, changing nothing.
    ///
    /// # Errors
    ///
    /// [`Error`] when the store cannot answer within the time budget.
    pub async fn status(&self, key: &str) -> Result<Vec<Status<HZ>>, Error> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::NoRuntime);
        }
        let (inner, key) = (&self.inner, self.key(key));
        let deadline = TokioInstant::now() + inner.config.time_budget;
        let read = inner.read(&key, deadline).await?;
        let now = Instant::<HZ>::from_ticks(ns_to_ticks::<HZ>(read.server_now_ns));
        let states = inner.states(&key, &read)?;
        Ok(inner.statuses(&states, now))
    }
}

impl<A, const HZ: u64, const N: usize, S> Shared<A, HZ, N, S>
where
    A: Algorithm<HZ> + Send + Sync + 'static,
    S: WordsStore,
{
    /// Every tier's status on `words` at `at`.
    fn statuses(&self, words: &[u64], at: Instant<HZ>) -> Vec<Status<HZ>> {
        let tiers = self.tiers.iter();
        tiers
            .zip(words)
            .map(|((_, a), &w)| a.status(w, at))
            .collect()
    }

    /// Decides `costs[i]` units in tier `i`, from `states` at `now`.
    fn decide(
        &self,
        states: &[u64],
        costs: &[u32; N],
        now: Instant<HZ>,
    ) -> Option<(TieredDecision<HZ>, Vec<u64>)> {
        let mut next = states.to_vec();
        let mut binding: Option<Tiered<Status<HZ>>> = None;
        let mut denied: Option<Tiered<Denied<HZ>>> = None;
        for (tier, (((name, algorithm), slot), &n)) in self
            .tiers
            .iter()
            .zip(next.iter_mut())
            .zip(costs)
            .enumerate()
        {
            let step = algorithm.decide(*slot, n, now);
            if let Step::Store(state, _) = &step {
                *slot = *state;
            }
            match step {
                Step::Store(_, status) | Step::Keep(status) => {
                    if binding.as_ref().is_none_or(|b| tighter(&b.answer, &status)) {
                        binding = Some(Tiered::new(tier, name, status));
                    }
                }
                Step::Deny(refusal) => {
                    if denied
                        .as_ref()
                        .is_none_or(|d| more_restrictive(&d.answer, &refusal))
                    {
                        denied = Some(Tiered::new(tier, name, refusal));
                    }
                }
            }
        }
        match (denied, binding) {
            (Some(denied), _) => Some((Err(denied), states.to_vec())),
            (None, Some(binding)) => Some((Ok(binding), next)),
            // Zero tiers, which `new` refuses at compile time.
            (None, None) => None,
        }
    }

    /// When the value is idle: when every tier is (`None` if one never is).
    fn idle_after(&self, states: &[u64], now: Instant<HZ>) -> Option<Duration<HZ>> {
        let mut longest = Duration::<HZ>::from_ticks(0);
        for ((_, algorithm), &state) in self.tiers.iter().zip(states) {
            longest = longest.max(algorithm.idle_after(state, now)?);
        }
        Some(longest)
    }

    fn fresh(&self) -> Vec<u64> {
        vec![0; N]
    }

    fn states(&self, key: &str, read: &ReadWords) -> Result<Vec<u64>, Error> {
        match &read.value {
            None => Ok(self.fresh()),
            Some(words) if words.len() == N => Ok(words.clone()),
            Some(words) => Err(Error::Store(StoreError::Corrupt {
                key: key.to_owned(),
                value: format!("{} words, expected {N}", words.len()),
            })),
        }
    }

    async fn read(&self, key: &str, deadline: TokioInstant) -> Result<ReadWords, Error> {
        let mut attempt = 0u32;
        loop {
            match tokio::time::timeout_at(deadline, self.store.read_words(key)).await {
                Ok(Ok(read)) => return Ok(read),
                Ok(Err(e)) if TokioInstant::now() >= deadline => return Err(Error::Store(e)),
                Ok(Err(_)) => {}
                Err(_) => return Err(Error::TimedOut),
            }
            attempt = attempt.saturating_add(1);
            let cap = StdDuration::from_millis(1u64 << attempt.min(5));
            let wake = (TokioInstant::now() + cap / 2 + jitter(cap / 2)).min(deadline);
            tokio::time::sleep_until(wake).await;
        }
    }
}

impl<A, const HZ: u64, const N: usize, S> Batched for Shared<A, HZ, N, S>
where
    A: Algorithm<HZ> + Send + Sync + 'static,
    S: WordsStore,
{
    type Op = [u32; N];
    type Reply = Reply<HZ>;

    fn queues(&self) -> &Queues<[u32; N], Reply<HZ>> {
        &self.queues
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn count_batch(&self, _ops: usize) {
        self.batches.fetch_add(1, Ordering::Relaxed);
    }

    /// Decides the checks one after another on the words read, at the
    /// store's instant of the read, and stores the words after the last
    /// with one compare-and-set (none if nothing changed); on a refusal,
    /// decides them all again on the words it returns.
    async fn settle(
        &self,
        key: &str,
        ops: &[[u32; N]],
        deadline: TokioInstant,
    ) -> Result<Vec<Reply<HZ>>, Error> {
        let mut read = self.read(key, deadline).await?;
        loop {
            let now = Instant::<HZ>::from_ticks(ns_to_ticks::<HZ>(read.server_now_ns));
            let mut end = self.states(key, &read)?;
            let mut replies = Vec::with_capacity(ops.len());
            let mut wait = None;
            for costs in ops {
                let Some((decision, next)) = self.decide(&end, costs, now) else {
                    return Err(Error::Store(StoreError::BadReply("no tiers".into())));
                };
                end = next;
                let retry = decision.as_ref().err().and_then(|d| d.answer.retry_after());
                wait = wait.max(retry.map(|d| d.as_ticks()));
                replies.push((decision, now, self.statuses(&end, now)));
            }
            let unchanged = match &read.value {
                Some(words) => *words == end,
                None => end == self.fresh(),
            };
            let stored = unchanged || {
                let ttl = self
                    .idle_after(&end, now)
                    .map(|d| ttl_ms::<HZ>(d.as_ticks()));
                let cas = self
                    .store
                    .compare_and_set_words(key, read.value.as_deref(), &end, ttl);
                match tokio::time::timeout_at(deadline, cas).await {
                    Ok(Ok(WordsOutcome::Stored)) => true,
                    // Another client wrote first: decide again on its words.
                    Ok(Ok(WordsOutcome::Conflict(current))) => {
                        read = current;
                        false
                    }
                    Ok(Err(_)) => {
                        // Unknown outcome: read; our exact words mean it landed.
                        let again = self.read(key, deadline).await?;
                        let landed = again.value.as_deref() == Some(&end[..]);
                        read = again;
                        landed
                    }
                    Err(_) => return Err(Error::TimedOut),
                }
            };
            if stored {
                let local = std::time::Instant::now();
                self.deny.remember(key, wait, &end, now, local);
                return Ok(replies);
            }
            if TokioInstant::now() >= deadline {
                return Err(Error::TimedOut);
            }
        }
    }
}
