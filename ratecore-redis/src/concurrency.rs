//! A concurrency limit shared in the store: permits of ratecore's
//! [`ConcurrencyLimit`](ratecore::ConcurrencyLimit), whose count expires a
//! lease after its last write so that a crashed holder's units come back.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ratecore::algorithms::ConcurrencyConfig;
use ratecore::answer::AtCapacity;
use ratecore::time::MILLIS;
use ratecore::{Denied, Status};

use crate::limiter::{Answer, Config, Error, RedisLimiter};
use crate::store::Store;

/// At most `limit` units in flight per key across every process on one
/// store, each holder's units kept in a [`RedisPermit`] until it is
/// released or dropped.
///
/// The count in flight is one word per key, ratecore's
/// [`ConcurrencyLimit`](ratecore::ConcurrencyLimit) state, decided by the
/// same code as in memory: an acquire is a check of `n` units and a release
/// a refund of `n`, both through the [`RedisLimiter`]'s read and
/// compare-and-set (batched per key and process; exact, as counts commute).
///
/// # The lease
///
/// A count in flight never goes idle by itself, so a process that dies
/// holding units (or whose release never reaches the store) would hold them
/// for good. Every write of the count therefore sets the key's expiry to
/// the *lease* (an acquire, and a release that leaves units in flight; a
/// count back at 0 expires at once): when no process has acquired or
/// released units of the key for a whole lease, the key vanishes and the
/// count starts again from 0. Choose the lease longer than any holder keeps
/// its units (for a server, the longest a response may take).
///
/// What can happen when the lease ends:
///
/// - The units of holders that crashed, or whose release failed, are free
///   again (the point of the lease).
/// - Holders still running at that moment (they have held their units for
///   longer than the lease, with no write of the key meanwhile) are
///   forgotten: until they finish, up to `limit` more units are admitted
///   beside them. Their later releases lower the count by units it no
///   longer holds (it never goes below 0), so the error persists until the
///   count reaches 0 or the key expires again. The total in flight is
///   bounded by `limit` plus the units held, at the last reset, by holders
///   that ran past the lease: the over-admission is at most the units of
///   requests still running past the lease, and none if no holder does.
/// - It never admits fewer than `limit` because of the lease.
///
/// When the store cannot decide within the time budget, the
/// [`FailPolicy`](crate::FailPolicy) of the [`Config`] answers an acquire
/// ([`Acquired::Failed`], no permit, nothing to release). A release that
/// fails leaves its units counted until the lease ends
/// ([`LeaseMetrics::releases_failed`]).
///
/// ```no_run
/// use std::time::Duration;
/// use ratecore_redis::{Acquired, Config, RedisConcurrency, RedisStore};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::open("redis://127.0.0.1:6379/", Duration::from_millis(50))?;
/// // 5 at a time per key, across every process; a lease of 2 minutes.
/// let cap = RedisConcurrency::new(5, Duration::from_secs(120), store, Config::new("api"))?;
/// match cap.acquire("user-42", 1).await {
///     Acquired::Held(permit) => {
///         // ... serve the request ...
///         permit.release().await?; // or drop it: released in a spawned task
///     }
///     Acquired::Busy(busy) => println!("{}/{} running", busy.active, busy.limit),
///     Acquired::Failed { admitted, .. } => println!("store down, admitted: {admitted}"),
///     _ => {}
/// }
/// # Ok(())
/// # }
/// ```
pub struct RedisConcurrency<S = crate::RedisStore> {
    limiter: RedisLimiter<ConcurrencyConfig, MILLIS, S>,
    lease: Duration,
    counters: Arc<LeaseCounters>,
}

impl<S> Clone for RedisConcurrency<S> {
    fn clone(&self) -> Self {
        Self {
            limiter: self.limiter.clone(),
            lease: self.lease,
            counters: Arc::clone(&self.counters),
        }
    }
}

impl<S> fmt::Debug for RedisConcurrency<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConcurrency")
            .field("limiter", &self.limiter)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct LeaseCounters {
    released: AtomicU64,
    releases_failed: AtomicU64,
}

/// Counters of a [`RedisConcurrency`]'s releases (all clones share them;
/// its acquires are counted in [`RedisConcurrency::limiter`]'s metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseMetrics {
    /// Releases stored.
    pub released: u64,
    /// Releases the store did not confirm within the time budget: their
    /// units may stay counted until the lease ends.
    pub releases_failed: u64,
}

/// The answer to [`RedisConcurrency::acquire`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Acquired<S: Store = crate::RedisStore> {
    /// The units are held until the permit is released or dropped.
    Held(RedisPermit<S>),
    /// Refused, nothing taken: `active` of `limit` were in flight. When
    /// `requested > limit` the request can never fit, and `active` is 0
    /// (not read).
    Busy(AtCapacity),
    /// The store could not decide in time: the [`FailPolicy`](crate::FailPolicy)
    /// answered. No units are held, whatever it answered.
    Failed {
        /// Whether the policy admitted the request.
        admitted: bool,
        /// Why the store did not decide.
        error: Error,
    },
}

impl<S: Store> Acquired<S> {
    /// Whether the request may go ahead (held, or admitted by the policy).
    pub fn is_admitted(&self) -> bool {
        match self {
            Self::Held(_) => true,
            Self::Busy(_) => false,
            Self::Failed { admitted, .. } => *admitted,
        }
    }
}

impl<S: Store> RedisConcurrency<S> {
    /// At most `limit` units in flight per key, the count expiring `lease`
    /// after its last write (see [the lease](Self#the-lease)), on `store`
    /// under `config`'s prefix.
    ///
    /// # Errors
    ///
    /// [`QuotaError::ZeroBurst`](ratecore::QuotaError::ZeroBurst) for a zero limit.
    pub fn new(
        limit: u32,
        lease: Duration,
        store: S,
        mut config: Config,
    ) -> Result<Self, ratecore::QuotaError> {
        let algorithm = ConcurrencyConfig::new(limit)?;
        config.lease = Some(lease);
        Ok(Self {
            limiter: RedisLimiter::new(algorithm, store, config),
            lease,
            counters: Arc::default(),
        })
    }

    /// The most units in flight per key.
    pub fn limit(&self) -> u32 {
        self.limiter.algorithm().limit()
    }

    /// The lease: how long after its last write a key's count expires.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The limiter underneath (its store keys, its acquire metrics).
    pub fn limiter(&self) -> &RedisLimiter<ConcurrencyConfig, MILLIS, S> {
        &self.limiter
    }

    /// The release counters so far.
    pub fn metrics(&self) -> LeaseMetrics {
        LeaseMetrics {
            released: self.counters.released.load(Ordering::Relaxed),
            releases_failed: self.counters.releases_failed.load(Ordering::Relaxed),
        }
    }

    /// Takes `n` units of `key` if they are free, refreshing the key's lease.
    pub async fn acquire(&self, key: &str, n: u32) -> Acquired<S> {
        match self.limiter.check_n(key, n).await {
            Answer::Decided {
                decision: Ok(_), ..
            } => match tokio::runtime::Handle::try_current() {
                Ok(runtime) => Acquired::Held(RedisPermit {
                    owner: self.clone(),
                    key: key.to_owned(),
                    n,
                    runtime,
                    held: true,
                }),
                // Decided means a runtime ran it; kept total all the same.
                Err(_) => Acquired::Failed {
                    admitted: false,
                    error: Error::NoRuntime,
                },
            },
            Answer::Decided {
                decision: Err(denied),
                ..
            } => Acquired::Busy(busy(denied, n, self.limit())),
            Answer::Failed { admitted, error } => Acquired::Failed { admitted, error },
        }
    }

    /// Units of `key` in flight now, as the store counts them.
    ///
    /// # Errors
    ///
    /// [`Error`] when the store cannot answer within the time budget.
    pub async fn active(&self, key: &str) -> Result<u32, Error> {
        let status = self.limiter.status(key).await?;
        Ok(status.limit().saturating_sub(status.remaining()))
    }

    async fn release(&self, key: &str, n: u32) -> Result<Status<MILLIS>, Error> {
        let released = self.limiter.refund(key, n).await;
        let counter = match released {
            Ok(_) => &self.counters.released,
            Err(_) => &self.counters.releases_failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        released
    }
}

/// A refusal of a concurrency limit as the count it met.
fn busy(denied: Denied<MILLIS>, n: u32, limit: u32) -> AtCapacity {
    match denied {
        Denied::AtCapacity(busy) => busy,
        // `n > limit` (or, never for this algorithm, another refusal):
        // the count was not needed to decide, so it is not reported.
        _ => AtCapacity::new(n, 0, limit),
    }
}

/// Units of one key held in a [`RedisConcurrency`]: released by
/// [`release`](RedisPermit::release), or when dropped, by a task spawned on
/// the tokio runtime the units were acquired on (so a panicking holder
/// releases them as it unwinds). A permit that is never released (its
/// process died, its runtime shut down first, the store was down) leaves
/// its units counted until the key's lease ends.
#[must_use = "dropping a permit releases its units at once"]
pub struct RedisPermit<S: Store = crate::RedisStore> {
    owner: RedisConcurrency<S>,
    key: String,
    n: u32,
    runtime: tokio::runtime::Handle,
    held: bool,
}

impl<S: Store> fmt::Debug for RedisPermit<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisPermit")
            .field("key", &self.key)
            .field("units", &self.n)
            .finish_non_exhaustive()
    }
}

impl<S: Store> RedisPermit<S> {
    /// Units held.
    pub fn units(&self) -> u32 {
        self.n
    }

    /// The user key the units are held for.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Gives the units back now, and reports the key's status after.
    ///
    /// # Errors
    ///
    /// [`Error`] when the store cannot confirm within the time budget: the
    /// units may then stay counted until the lease ends.
    pub async fn release(mut self) -> Result<Status<MILLIS>, Error> {
        self.held = false;
        self.owner.release(&self.key, self.n).await
    }
}

impl<S: Store> Drop for RedisPermit<S> {
    fn drop(&mut self) {
        if !std::mem::take(&mut self.held) {
            return;
        }
        let owner = self.owner.clone();
        let key = std::mem::take(&mut self.key);
        let n = self.n;
        // Dropped in synchronous code (a response body's end, an unwinding
        // panic): the release is a round trip, so it runs in a task. If the
        // runtime is gone, the task never runs and the lease frees the units.
        drop(self.runtime.spawn(async move {
            let _ = owner.release(&key, n).await;
        }));
    }
}
