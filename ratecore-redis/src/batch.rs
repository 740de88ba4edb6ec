//! Per-key batching, shared by [`RedisLimiter`](crate::RedisLimiter) (one
//! word per key) and [`RedisTiers`](crate::RedisTiers) (the tiers' words per
//! key): concurrent operations on one key in one process queue behind the
//! batch in flight, and the next batch takes them all and settles them with
//! one store round trip (see the crate's README, "Batching").

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use tokio::time::Instant as TokioInstant;

use crate::limiter::{Config, Error, lock};

/// One queued operation and where its answer goes.
pub(crate) struct Pending<O, R> {
    op: O,
    deadline: TokioInstant,
    tx: oneshot::Sender<Result<R, Error>>,
}

/// Keys with a batch in flight, and the operations waiting for the next.
pub(crate) type Queues<O, R> = Mutex<HashMap<String, Vec<Pending<O, R>>>>;

/// What a batching limiter provides: its queues, its limits, and how a
/// batch of operations on one key is settled with the store.
pub(crate) trait Batched: Send + Sync + Sized + 'static {
    /// An operation (a check of some units, a refund, ...).
    type Op: Copy + Send + 'static;
    /// The answer to one operation.
    type Reply: Send + 'static;

    /// The queues of this limiter's keys.
    fn queues(&self) -> &Queues<Self::Op, Self::Reply>;

    /// The limiter's configuration: its time budget and most operations
    /// per batch ([`Config::max_batch`]).
    fn config(&self) -> &Config;

    /// Counts a batch of `ops` operations sent to the store.
    fn count_batch(&self, ops: usize);

    /// Decides `ops` in order on `key`'s shared state and stores the result
    /// (at most one successful write), by `deadline`: one reply per
    /// operation, in order.
    fn settle(
        &self,
        key: &str,
        ops: &[Self::Op],
        deadline: TokioInstant,
    ) -> impl Future<Output = Result<Vec<Self::Reply>, Error>> + Send;
}

/// Queues `op` for `key`'s next batch of `inner` (deciding it at once, in
/// the caller's task, if no batch is in flight) and waits for its answer
/// until the time budget runs out.
pub(crate) async fn submit<B: Batched>(
    inner: &Arc<B>,
    key: String,
    op: B::Op,
) -> Result<B::Reply, Error> {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return Err(Error::NoRuntime);
    };
    let deadline = TokioInstant::now() + inner.config().time_budget;
    let (tx, rx) = oneshot::channel();
    let pending = Pending { op, deadline, tx };
    let alone = {
        let mut queues = lock(inner.queues());
        match queues.get_mut(&key) {
            Some(queue) => {
                queue.push(pending);
                None
            }
            None => {
                // A batch in flight, with nothing queued behind it yet.
                queues.insert(key.clone(), Vec::new());
                Some(pending)
            }
        }
    };
    if let Some(pending) = alone {
        // No batch was in flight for this key: decide this operation as
        // a batch of its own in the caller's task, without a hand-off to
        // a driver task and back (two wake-ups per check on a busy
        // machine). What queues meanwhile goes to a driver task after
        // it, also if this future is dropped midway.
        let handoff = Handoff {
            inner: Arc::clone(inner),
            key,
            runtime,
        };
        let batch = run_batch(&*handoff.inner, &handoff.key, vec![pending]);
        let _ = tokio::time::timeout_at(deadline, batch).await;
    }
    match tokio::time::timeout_at(deadline, rx).await {
        Ok(Ok(reply)) => reply,
        // The driver was dropped (the runtime is shutting down), or the
        // budget ran out while waiting.
        Ok(Err(_)) | Err(_) => Err(Error::TimedOut),
    }
}

/// Passes a key's queue, when the caller that decided the key's first batch
/// in its own task is done (or dropped), to a driver task, or retires it if
/// nothing queued meanwhile.
struct Handoff<B: Batched> {
    inner: Arc<B>,
    key: String,
    runtime: tokio::runtime::Handle,
}

impl<B: Batched> Drop for Handoff<B> {
    fn drop(&mut self) {
        let queued = {
            let mut queues = lock(self.inner.queues());
            let queued = queues.get(&self.key).is_some_and(|q| !q.is_empty());
            if !queued {
                queues.remove(&self.key);
            }
            queued
        };
        if queued {
            let inner = Arc::clone(&self.inner);
            let key = std::mem::take(&mut self.key);
            self.runtime.spawn(async move { drive(&*inner, key).await });
        }
    }
}

/// Drives `key`'s batches until its queue is empty.
async fn drive<B: Batched>(inner: &B, key: String) {
    loop {
        let batch: Vec<Pending<B::Op, B::Reply>> = {
            let mut queues = lock(inner.queues());
            let Some(queue) = queues.get_mut(&key) else {
                return;
            };
            if queue.is_empty() {
                queues.remove(&key);
                return;
            }
            let take = queue.len().min(inner.config().max_batch);
            queue.drain(..take).collect()
        };
        run_batch(inner, &key, batch).await;
    }
}

async fn run_batch<B: Batched>(inner: &B, key: &str, mut batch: Vec<Pending<B::Op, B::Reply>>) {
    // Callers that gave up (budget spent) are not decided for.
    batch.retain(|p| !p.tx.is_closed());
    let Some(deadline) = batch.iter().map(|p| p.deadline).max() else {
        return;
    };
    inner.count_batch(batch.len());
    let ops: Vec<B::Op> = batch.iter().map(|p| p.op).collect();
    match inner.settle(key, &ops, deadline).await {
        Ok(replies) => {
            for (pending, reply) in batch.into_iter().zip(replies) {
                let _ = pending.tx.send(Ok(reply));
            }
        }
        Err(error) => {
            for pending in batch {
                let _ = pending.tx.send(Err(error.clone()));
            }
        }
    }
}
