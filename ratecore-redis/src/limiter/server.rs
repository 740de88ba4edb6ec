//! The limiter's side of deciding a batch on the store ([`ServerDecide`]):
//! when to, and checking the store's decision against the kernel's.

use std::time::{Instant as StdInstant, SystemTime, UNIX_EPOCH};

use ratecore::kernel::Algorithm;
use ratecore::{Decision, Instant};
use tokio::time::Instant as TokioInstant;

use super::{Error, HOT_CAPACITY, HOT_FOR, Inner, Op, ServerDecide, bump, lock};
use crate::server_gcra::GcraOutcome;
use crate::store::{Read, Store, StoreError, ns_to_ticks, ttl_ms};

/// How a batch sent to the store's script ended.
pub(super) enum Served<const HZ: u64> {
    /// Decided: the answers and the store's instant.
    Done((Vec<Decision<HZ>>, Instant<HZ>)),
    /// Refused, with the current word and time (for a compare-and-set).
    Refused(Read, StdInstant),
    /// Not possible here (the store has no script, or the horizon is near).
    Unavailable,
}

impl<A, const HZ: u64, S> Inner<A, HZ, S>
where
    A: Algorithm<HZ> + Send + Sync + 'static,
    S: Store,
{
    /// The units of `ops` if the store may decide them: a GCRA this crate
    /// can decide exactly, server decisions enabled, checks only.
    pub(super) fn server_checks(&self, ops: &[Op]) -> Option<Vec<u32>> {
        self.gcra?;
        ops.iter()
            .map(|op| match *op {
                Op::Check(n) => Some(n),
                Op::Refund(_) => None,
            })
            .collect()
    }

    /// Whether `key` lost a compare-and-set less than [`HOT_FOR`] ago.
    pub(super) fn is_hot(&self, key: &str) -> bool {
        if self.config.server_decide != ServerDecide::WhenContended {
            return false;
        }
        let mut hot = lock(&self.hot);
        match hot.get(key) {
            Some(&until) if StdInstant::now() < until => true,
            Some(_) => {
                hot.remove(key);
                false
            }
            None => false,
        }
    }

    /// Decides `key` on the store for the next [`HOT_FOR`].
    pub(super) fn mark_hot(&self, key: &str) {
        let local = StdInstant::now();
        let mut hot = lock(&self.hot);
        if hot.len() >= HOT_CAPACITY && !hot.contains_key(key) {
            hot.retain(|_, until| *until > local);
            if hot.len() >= HOT_CAPACITY {
                hot.clear();
            }
        }
        hot.insert(key.to_owned(), local + HOT_FOR);
    }

    /// Remembers the store's second, the base of the script's arithmetic.
    pub(super) fn note_time(&self, server_ns: u64) {
        self.server_secs.store(
            server_ns / 1_000_000_000,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// The store's last second seen, or the local one before any (a wrong
    /// guess is refused by the script, with the store's time).
    fn base_secs(&self) -> u64 {
        match self.server_secs.load(std::sync::atomic::Ordering::Relaxed) {
            0 => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            secs => secs,
        }
    }

    /// Sends the checks `ns` (the units of `ops`) to the store's script,
    /// retrying store errors until `deadline`, and answers them with the
    /// kernel on the word the script started from, checking that the script
    /// stored what the kernel would.
    ///
    /// A reply lost after the script ran and a retry charge twice (the
    /// caller sees one admission): stricter, never looser.
    pub(super) async fn decide_on_server(
        &self,
        key: &str,
        ops: &[Op],
        ns: &[u32],
        deadline: TokioInstant,
    ) -> Result<Served<HZ>, Error> {
        let Some(params) = self.gcra else {
            return Ok(Served::Unavailable);
        };
        let mut attempt = 0u32;
        loop {
            let Some(batch) = params.batch(self.base_secs(), ns.to_vec()) else {
                return Ok(Served::Unavailable);
            };
            let reply = tokio::time::timeout_at(deadline, self.store.decide_gcra(key, &batch));
            let error = match reply.await {
                Ok(Ok(None)) => return Ok(Served::Unavailable),
                Ok(Ok(Some(GcraOutcome::Refused(read)))) => {
                    bump(&self.counters.server_refused, 1);
                    self.note_time(read.server_now_ns);
                    let local = StdInstant::now();
                    self.saw(key, read.value, read.server_now_ns, local);
                    return Ok(Served::Refused(read, local));
                }
                Ok(Ok(Some(GcraOutcome::Decided { old, stored }))) => {
                    bump(&self.counters.server_batches, 1);
                    self.note_time(old.server_now_ns);
                    return self.check_server(key, ops, old, stored).map(Served::Done);
                }
                Ok(Err(e)) => e,
                Err(_) => return Err(Error::TimedOut),
            };
            bump(&self.counters.store_errors, 1);
            lock(&self.known).remove(key);
            attempt = attempt.saturating_add(1);
            self.backoff(attempt, deadline).await;
            if TokioInstant::now() >= deadline {
                return Err(Error::Store(error));
            }
        }
    }

    /// The kernel's answers to `ops` on `old`, if the store stored exactly
    /// the kernel's next word and expiry (`stored`); an error otherwise.
    fn check_server(
        &self,
        key: &str,
        ops: &[Op],
        old: Read,
        stored: Option<(u64, u64)>,
    ) -> Result<(Vec<Decision<HZ>>, Instant<HZ>), Error> {
        let local = StdInstant::now();
        let now = Instant::<HZ>::from_ticks(ns_to_ticks::<HZ>(old.server_now_ns));
        let start = old.value.unwrap_or(0);
        let (answers, end) = self.decide_all(start, ops, now);
        let expected = (end != start).then(|| {
            let ttl = self.algorithm.idle_after(end, now);
            (end, ttl.map(|d| ttl_ms::<HZ>(d.as_ticks())))
        });
        let got = stored.map(|(word, ttl)| (word, Some(ttl)));
        if got != expected {
            bump(&self.counters.store_errors, 1);
            lock(&self.known).remove(key);
            return Err(Error::Store(StoreError::Diverged(format!(
                "{key}: from {:?} at {} ns, stored {stored:?}, the kernel {expected:?}",
                old.value, old.server_now_ns
            ))));
        }
        let state = stored.map_or(old.value, |(word, _)| Some(word));
        self.saw(key, state, old.server_now_ns, local);
        self.remember(key, &answers, end, now, local);
        Ok((answers, now))
    }
}
