//! A real `redis-server` for the tests (the kit's), and store wrappers over
//! it: a test-controlled clock, and a recorder of the TTLs set.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestCaseError, TestRunner};

use ratecore_redis::{
    CasOutcome, GcraBatch, GcraOutcome, Read as StoreRead, ReadWords, RedisStore, Store,
    StoreError, WordsOutcome, WordsStore,
};

pub use ratecore_testkit::redis_server::RedisServer;

/// A store on `server`.
pub fn store(server: &RedisServer) -> RedisStore {
    RedisStore::open(&server.url(), Duration::from_millis(500)).expect("store")
}

/// A current-thread runtime, and a [`TestClock`] over a store on `server`
/// made inside it.
pub fn clocked(server: &RedisServer) -> (tokio::runtime::Runtime, TestClock) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let clock = {
        let _guard = rt.enter();
        TestClock::new(store(server))
    };
    (rt, clock)
}

/// A store wrapper whose clock is the test's: every read and every refusal
/// reports `now_ns` instead of the server's time, and keys expire in that
/// time (a key is deleted before a read at or after its expiry, which is
/// stricter than Redis, which keeps it through its last millisecond).
/// Real Redis expiry is pushed an hour out so it never interferes.
#[derive(Clone)]
pub struct TestClock {
    pub inner: RedisStore,
    pub now_ns: Arc<AtomicU64>,
    expiries: Arc<Mutex<std::collections::HashMap<String, u64>>>,
    pub ttls: Arc<Mutex<Vec<Option<u64>>>>,
}

impl TestClock {
    pub fn new(inner: RedisStore) -> Self {
        Self {
            inner,
            now_ns: Arc::new(AtomicU64::new(0)),
            expiries: Arc::default(),
            ttls: Arc::default(),
        }
    }

    pub fn set_ns(&self, ns: u64) {
        self.now_ns.store(ns, Ordering::SeqCst);
    }

    async fn expire(&self, key: &str) -> Result<(), StoreError> {
        let now = self.now_ns.load(Ordering::SeqCst);
        let due = {
            let expiries = self.expiries.lock().unwrap();
            expiries.get(key).is_some_and(|&at| now >= at)
        };
        if due {
            self.inner.delete(key).await?;
            self.expiries.lock().unwrap().remove(key);
        }
        Ok(())
    }
}

/// A word as a list of one word, through the clocked [`WordsStore`].
impl Store for TestClock {
    async fn read(&self, key: &str) -> Result<StoreRead, StoreError> {
        self.read_one(key).await
    }

    async fn compare_and_set(
        &self,
        key: &str,
        expected: Option<u64>,
        new: u64,
        ttl_ms: Option<u64>,
    ) -> Result<CasOutcome, StoreError> {
        self.compare_and_set_one(key, expected, new, ttl_ms).await
    }

    /// The script decides at the test's time (which must be whole
    /// microseconds, as the server's is), with its real expiry an hour out.
    async fn decide_gcra(
        &self,
        key: &str,
        batch: &GcraBatch,
    ) -> Result<Option<GcraOutcome>, StoreError> {
        self.expire(key).await?;
        let mut batch = batch.clone();
        batch.at_ns = Some(self.now_ns.load(Ordering::SeqCst));
        batch.expiry_floor_ms = 3_600_000;
        let out = self.inner.decide_gcra(key, &batch).await?;
        if let Some(GcraOutcome::Decided {
            stored: Some((_, ttl)),
            ..
        }) = out
        {
            self.stored(key, Some(ttl));
        }
        Ok(out)
    }
}

impl TestClock {
    fn stored(&self, key: &str, ttl_ms: Option<u64>) {
        self.ttls.lock().unwrap().push(ttl_ms);
        let mut expiries = self.expiries.lock().unwrap();
        match ttl_ms {
            Some(ms) => {
                let now = self.now_ns.load(Ordering::SeqCst);
                expiries.insert(key.to_owned(), now + ms * 1_000_000);
            }
            None => {
                expiries.remove(key);
            }
        }
    }
}

impl WordsStore for TestClock {
    async fn read_words(&self, key: &str) -> Result<ReadWords, StoreError> {
        self.expire(key).await?;
        let read = self.inner.read_words(key).await?;
        Ok(ReadWords {
            server_now_ns: self.now_ns.load(Ordering::SeqCst),
            ..read
        })
    }

    async fn compare_and_set_words(
        &self,
        key: &str,
        expected: Option<&[u64]>,
        new: &[u64],
        ttl_ms: Option<u64>,
    ) -> Result<WordsOutcome, StoreError> {
        self.expire(key).await?;
        let out = self
            .inner
            .compare_and_set_words(key, expected, new, ttl_ms.map(|_| 3_600_000))
            .await?;
        match out {
            WordsOutcome::Stored => {
                self.stored(key, ttl_ms);
                Ok(WordsOutcome::Stored)
            }
            WordsOutcome::Conflict(read) => Ok(WordsOutcome::Conflict(ReadWords {
                server_now_ns: self.now_ns.load(Ordering::SeqCst),
                ..read
            })),
        }
    }
}

/// A store wrapper that records the TTL of every stored compare-and-set.
#[derive(Clone)]
pub struct Recording {
    pub inner: RedisStore,
    pub ttls: Arc<Mutex<Vec<Option<u64>>>>,
}

impl Recording {
    pub fn new(inner: RedisStore) -> Self {
        Self {
            inner,
            ttls: Arc::default(),
        }
    }

    pub fn last_ttl(&self) -> Option<u64> {
        self.ttls.lock().unwrap().last().copied().flatten()
    }
}

impl Store for Recording {
    async fn read(&self, key: &str) -> Result<StoreRead, StoreError> {
        self.inner.read(key).await
    }

    async fn compare_and_set(
        &self,
        key: &str,
        expected: Option<u64>,
        new: u64,
        ttl_ms: Option<u64>,
    ) -> Result<CasOutcome, StoreError> {
        let out = self
            .inner
            .compare_and_set(key, expected, new, ttl_ms)
            .await?;
        if out == CasOutcome::Stored {
            self.ttls.lock().unwrap().push(ttl_ms);
        }
        Ok(out)
    }
}

/// The store's time of tick `t`: whole microseconds (as Redis `TIME`), and
/// exactly tick `t` again when converted back, for the rates used here
/// (at most 10^6 Hz, or 10^9 Hz with `t` a multiple of 1,000).
pub fn tick_ns<const HZ: u64>(t: u64) -> u64 {
    if HZ <= 1_000_000 {
        u64::try_from((u128::from(t) * 1_000_000).div_ceil(u128::from(HZ))).unwrap() * 1_000
    } else {
        t * (1_000_000_000 / HZ)
    }
}

/// An operation of the differential tests.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    Check(u32),
    Peek(u32),
    Refund(u32),
    Status,
}

/// Mostly checks, of 0 to `max_n` units.
pub fn op(max_n: u32) -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..=max_n).prop_map(Op::Check),
        1 => (0..=max_n).prop_map(Op::Peek),
        1 => (0..=max_n).prop_map(Op::Refund),
        1 => Just(Op::Status),
    ]
}

/// Ticks to advance before a step, whole multiples of `unit`: often none,
/// often a fraction of `period`, sometimes many periods (so keys expire).
pub fn dt(period: u64, unit: u64) -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => Just(0u64),
        3 => 0..=period / 8 / unit,
        2 => 0..=period * 2 / unit,
        1 => 0..=period * 20 / unit,
    ]
    .prop_map(move |dt| dt * unit)
}

/// A store's answer, or the case's failure.
pub fn decided<T>(answer: Result<T, ratecore_redis::Error>) -> Result<T, TestCaseError> {
    answer.map_err(|e| TestCaseError::fail(e.to_string()))
}

/// The differential tests' runner: `PROPTEST_CASES` cases (default 48), no
/// persistence files.
pub fn runner() -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(48);
    TestRunner::new(PropConfig {
        cases,
        failure_persistence: None,
        ..PropConfig::default()
    })
}

/// The outputs of `tasks`, in the order given (whatever order they finish in).
pub async fn join_in_order<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut outputs = Vec::with_capacity(tasks.len());
    for task in tasks {
        outputs.push(task.await.expect("task"));
    }
    outputs
}
