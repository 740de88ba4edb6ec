//! The deny cache shared by [`RedisLimiter`](crate::RedisLimiter) and
//! [`RedisTiers`](crate::RedisTiers): the state of a key's last timed denial,
//! to answer the key locally while that state still denies.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use ratecore::Instant;

use crate::store::{duration_to_ticks, ticks_to_duration};

/// Entries kept at most; beyond, expired ones are dropped (or all).
const CAPACITY: usize = 65_536;

/// A denial's state (`W`: one word, or a tier's words), kept to answer the
/// same key locally for a while.
struct Entry<W> {
    state: W,
    /// The store's time of `state`, in ticks.
    at: u64,
    /// The local time the store's answer arrived.
    read_local: StdInstant,
    until: StdInstant,
}

/// Keys denied recently, with their states (see `Config::deny_cache`).
pub(crate) struct DenyCache<W> {
    max_age: Option<StdDuration>,
    entries: Mutex<HashMap<String, Entry<W>>>,
}

impl<W: Clone> DenyCache<W> {
    /// A cache keeping an entry at most `max_age` (`None`: no cache).
    pub(crate) fn new(max_age: Option<StdDuration>) -> Self {
        Self {
            max_age,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry<W>>> {
        // Every update is a single insert or remove: a poisoned lock still
        // holds a consistent map.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state of `key`'s last timed denial, if still fresh, and the
    /// store's instant estimated now: its time then plus the local time
    /// since (never later than the store's time now).
    pub(crate) fn get<const HZ: u64>(&self, key: &str) -> Option<(W, Instant<HZ>)> {
        self.max_age?;
        let entries = self.lock();
        let entry = entries.get(key)?;
        let local = StdInstant::now();
        if local >= entry.until {
            return None;
        }
        let since = local.saturating_duration_since(entry.read_local);
        let at = entry.at.saturating_add(duration_to_ticks::<HZ>(since));
        Some((entry.state.clone(), Instant::<HZ>::from_ticks(at)))
    }

    /// Keeps `state` (read at the store's `now`, answered locally at
    /// `read_local`) for `key` after a denial whose `retry_after` is `wait`
    /// ticks (the longest of a batch's), for that long at most and at most
    /// the maximum age; forgets the key when `wait` is `None` (no timed
    /// denial).
    pub(crate) fn remember<const HZ: u64>(
        &self,
        key: &str,
        wait: Option<u64>,
        state: &W,
        now: Instant<HZ>,
        read_local: StdInstant,
    ) {
        let Some(max_age) = self.max_age else {
            return;
        };
        let mut entries = self.lock();
        let Some(wait) = wait else {
            entries.remove(key);
            return;
        };
        let until = read_local + ticks_to_duration::<HZ>(wait).min(max_age);
        if entries.len() >= CAPACITY {
            let local = StdInstant::now();
            entries.retain(|_, e| e.until > local);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        let entry = Entry {
            state: state.clone(),
            at: now.as_ticks(),
            read_local,
            until,
        };
        entries.insert(key.to_owned(), entry);
    }

    /// Forgets `key` (after a refund, say).
    pub(crate) fn forget(&self, key: &str) {
        self.lock().remove(key);
    }
}
