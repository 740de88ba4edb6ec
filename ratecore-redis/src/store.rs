//! The storage protocol: one read and one compare-and-set, with the store's time.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::server_gcra::{GcraBatch, GcraOutcome};

/// A state word as read, with the store's clock at the moment of the read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Read {
    /// The stored word; `None` when the key does not exist (never used, or
    /// expired): the algorithm's fresh state.
    pub value: Option<u64>,
    /// The store's time in nanoseconds since the Unix epoch, read in the same
    /// atomic operation as `value` (one clock for every client machine).
    pub server_now_ns: u64,
}

/// The result of a [`Store::compare_and_set`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CasOutcome {
    /// The key held the expected value and now holds the new one.
    Stored,
    /// The key held another value; nothing was written. The current value
    /// and the store's time come back with the refusal, so a retry needs no
    /// further read.
    Conflict(Read),
}

/// Where the shared state words live: Redis ([`RedisStore`](crate::RedisStore)),
/// or any other store with an atomic compare-and-set and a clock.
///
/// A key names one `u64` word. Both operations touch that key alone (so a
/// cluster can route them by it) and are atomic on the store's side.
pub trait Store: Send + Sync + 'static {
    /// Reads the word at `key` and the store's time, atomically.
    fn read(&self, key: &str) -> impl Future<Output = Result<Read, StoreError>> + Send;

    /// Sets `key` to `new`, expiring `ttl_ms` milliseconds later (`None`:
    /// never), if and only if it holds `expected` (`None`: if it does not
    /// exist). Otherwise writes nothing and returns the current value and time.
    fn compare_and_set(
        &self,
        key: &str,
        expected: Option<u64>,
        new: u64,
        ttl_ms: Option<u64>,
    ) -> impl Future<Output = Result<CasOutcome, StoreError>> + Send;

    /// Decides a batch of GCRA checks on the store, atomically, with
    /// [`GCRA_SCRIPT`](crate::GCRA_SCRIPT)'s transition: for a contended key
    /// (see [`Config::server_decide`](crate::Config::server_decide)).
    /// `Ok(None)` when this store cannot (the default): the limiter then
    /// keeps to read and compare-and-set.
    fn decide_gcra(
        &self,
        key: &str,
        batch: &GcraBatch,
    ) -> impl Future<Output = Result<Option<GcraOutcome>, StoreError>> + Send {
        let _ = (key, batch);
        async { Ok(None) }
    }
}

/// Several state words as read (one per tier), with the store's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadWords {
    /// The stored words; `None` when the key does not exist.
    pub value: Option<Vec<u64>>,
    /// The store's time in nanoseconds since the Unix epoch, read in the
    /// same atomic operation as `value`.
    pub server_now_ns: u64,
}

impl ReadWords {
    /// The read of a value of one word, as a [`Store`] reads it:
    /// [`StoreError::Corrupt`] if `key` holds several.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] for a value of more than one word.
    pub fn into_single(self, key: &str) -> Result<Read, StoreError> {
        let value = match self.value.as_deref() {
            None => None,
            Some(&[word]) => Some(word),
            Some(words) => {
                let mut value = encode_words(words);
                value.truncate(64);
                return Err(StoreError::Corrupt {
                    key: key.to_owned(),
                    value,
                });
            }
        };
        Ok(Read {
            value,
            server_now_ns: self.server_now_ns,
        })
    }
}

/// The result of a [`WordsStore::compare_and_set_words`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WordsOutcome {
    /// The key held the expected words and now holds the new ones.
    Stored,
    /// The key held something else; nothing was written.
    Conflict(ReadWords),
}

impl WordsOutcome {
    /// The outcome for a value of one word, as a [`Store`] reports it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] when a refusal returns several words.
    pub fn into_single(self, key: &str) -> Result<CasOutcome, StoreError> {
        Ok(match self {
            Self::Stored => CasOutcome::Stored,
            Self::Conflict(read) => CasOutcome::Conflict(read.into_single(key)?),
        })
    }
}

/// A [`Store`] for values of several words (one per tier of a
/// [`RedisTiers`](crate::RedisTiers)), read and compared as one value.
pub trait WordsStore: Send + Sync + 'static {
    /// Reads the words at `key` and the store's time, atomically.
    fn read_words(&self, key: &str) -> impl Future<Output = Result<ReadWords, StoreError>> + Send;

    /// Sets `key` to `new` (expiring after `ttl_ms`; `None`: never) iff it
    /// holds `expected` (`None`: iff it does not exist).
    fn compare_and_set_words(
        &self,
        key: &str,
        expected: Option<&[u64]>,
        new: &[u64],
        ttl_ms: Option<u64>,
    ) -> impl Future<Output = Result<WordsOutcome, StoreError>> + Send;

    /// [`Store::read`] on this store: a word is stored as a list of one.
    fn read_one(&self, key: &str) -> impl Future<Output = Result<Read, StoreError>> + Send {
        async move { self.read_words(key).await?.into_single(key) }
    }

    /// [`Store::compare_and_set`] on this store: a word is stored as a list of one.
    fn compare_and_set_one(
        &self,
        key: &str,
        expected: Option<u64>,
        new: u64,
        ttl_ms: Option<u64>,
    ) -> impl Future<Output = Result<CasOutcome, StoreError>> + Send {
        async move {
            let expected = expected.as_ref().map(std::slice::from_ref);
            let new = [new];
            let out = self.compare_and_set_words(key, expected, &new, ttl_ms);
            out.await?.into_single(key)
        }
    }
}

/// A store that could not answer.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The client or the connection failed (refused, dropped, timed out).
    Backend(Arc<dyn std::error::Error + Send + Sync>),
    /// The key holds something other than a canonical decimal `u64`: written
    /// by something else than this crate.
    Corrupt {
        /// The key.
        key: String,
        /// What it holds (at most 64 bytes of it).
        value: String,
    },
    /// The store's reply did not have the expected shape.
    BadReply(String),
    /// The store decided a batch (see [`Store::decide_gcra`]) otherwise than
    /// ratecore's kernel on the same word at the same instant: a bug, never
    /// expected; the batch is answered by the fail policy.
    Diverged(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Backend(e) => write!(f, "store unavailable: {e}"),
            Self::Corrupt { key, value } => {
                write!(
                    f,
                    "key {key:?} holds {value:?}, not a rate-limit state word"
                )
            }
            Self::BadReply(what) => write!(f, "unexpected reply from the store: {what}"),
            Self::Diverged(what) => {
                write!(f, "the store decided otherwise than the kernel: {what}")
            }
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Backend(e) => Some(&**e),
            _ => None,
        }
    }
}

/// Encodes a state word as stored: canonical decimal ASCII.
pub(crate) fn encode(word: u64) -> String {
    word.to_string()
}

/// Decodes a stored word: `""` is a missing key; anything else must be the
/// canonical decimal form (so that comparing strings, as the compare-and-set
/// script does, is comparing words).
pub(crate) fn decode(key: &str, text: &[u8]) -> Result<Option<u64>, StoreError> {
    if text.is_empty() {
        return Ok(None);
    }
    let corrupt = || StoreError::Corrupt {
        key: key.to_owned(),
        value: String::from_utf8_lossy(text.get(..64).unwrap_or(text)).into_owned(),
    };
    let s = std::str::from_utf8(text).map_err(|_| corrupt())?;
    let word: u64 = s.parse().map_err(|_| corrupt())?;
    if encode(word) != s {
        return Err(corrupt());
    }
    Ok(Some(word))
}

/// Encodes several words as stored: canonical decimals joined by commas.
pub(crate) fn encode_words(words: &[u64]) -> String {
    words
        .iter()
        .map(|w| encode(*w))
        .collect::<Vec<_>>()
        .join(",")
}

/// Decodes several words: `""` is a missing key; anything else must be the
/// canonical form of [`encode_words`].
pub(crate) fn decode_words(key: &str, text: &[u8]) -> Result<Option<Vec<u64>>, StoreError> {
    if text.is_empty() {
        return Ok(None);
    }
    let mut words = Vec::new();
    for part in text.split(|&b| b == b',') {
        match decode(key, part)? {
            Some(word) => words.push(word),
            None => {
                return Err(StoreError::Corrupt {
                    key: key.to_owned(),
                    value: String::from_utf8_lossy(text.get(..64).unwrap_or(text)).into_owned(),
                });
            }
        }
    }
    Ok(Some(words))
}

/// Nanoseconds since the Unix epoch from Redis `TIME` (seconds, microseconds),
/// saturating (it fits `u64` until the year 2554).
pub(crate) fn time_ns(secs: u64, micros: u64) -> u64 {
    secs.saturating_mul(1_000_000_000)
        .saturating_add(micros.saturating_mul(1_000))
}

/// Ticks of `1 / HZ` s in `ns` nanoseconds, rounded down, saturating.
pub(crate) const fn ns_to_ticks<const HZ: u64>(ns: u64) -> u64 {
    let ticks = (ns as u128) * (HZ as u128) / 1_000_000_000;
    if ticks > u64::MAX as u128 {
        u64::MAX
    } else {
        ticks as u64
    }
}

/// Ticks of `1 / HZ` s in a `std` duration, rounded down, saturating.
pub(crate) fn duration_to_ticks<const HZ: u64>(d: std::time::Duration) -> u64 {
    let ticks = d.as_nanos().saturating_mul(u128::from(HZ)) / 1_000_000_000;
    u64::try_from(ticks).unwrap_or(u64::MAX)
}

/// A `std` duration for `ticks` of `1 / HZ` s, rounded up.
pub(crate) fn ticks_to_duration<const HZ: u64>(ticks: u64) -> std::time::Duration {
    let hz = u128::from(HZ.max(1));
    let ns = (u128::from(ticks) * 1_000_000_000).div_ceil(hz);
    std::time::Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

/// The expiry for a state that is idle `ticks` from now: whole milliseconds,
/// rounded up, at least 1 (Redis would refuse 0), so a key never vanishes
/// before its state decides as a fresh one would.
pub(crate) fn ttl_ms<const HZ: u64>(ticks: u64) -> u64 {
    let hz = u128::from(HZ.max(1));
    let ms = (u128::from(ticks) * 1_000).div_ceil(hz);
    u64::try_from(ms).unwrap_or(u64::MAX).max(1)
}

/// The expiry of a lease: whole milliseconds, rounded up, at least 1.
pub(crate) fn lease_ms(lease: std::time::Duration) -> u64 {
    let ms = lease.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_canonically() {
        for w in [0, 1, 42, u64::MAX] {
            assert_eq!(decode("k", encode(w).as_bytes()).unwrap(), Some(w));
        }
        assert_eq!(decode("k", b"").unwrap(), None);
        for bad in [
            &b"007"[..],
            b"-1",
            b"1e3",
            b"18446744073709551616",
            b" 1",
            b"\xff",
        ] {
            assert!(matches!(decode("k", bad), Err(StoreError::Corrupt { .. })));
        }
    }

    #[test]
    fn word_lists_round_trip_canonically() {
        let words = [0, 7, u64::MAX];
        assert_eq!(encode_words(&words), "0,7,18446744073709551615");
        assert_eq!(
            decode_words("k", b"0,7,18446744073709551615")
                .unwrap()
                .unwrap(),
            words
        );
        assert_eq!(decode_words("k", b"").unwrap(), None);
        for bad in [&b"1,"[..], b",1", b"1,,2", b"1, 2", b"01,2"] {
            assert!(decode_words("k", bad).is_err());
        }
    }

    #[test]
    fn ttl_rounds_up_to_whole_ms_and_at_least_one() {
        assert_eq!(ttl_ms::<1_000_000_000>(0), 1);
        assert_eq!(ttl_ms::<1_000_000_000>(1), 1);
        assert_eq!(ttl_ms::<1_000_000_000>(100_000), 1); // 10,000/s: 100 us
        assert_eq!(ttl_ms::<1_000_000_000>(1_000_001), 2);
        assert_eq!(ttl_ms::<1_000>(7), 7);
        assert_eq!(ttl_ms::<32_768>(33), 2);
        assert_eq!(ttl_ms::<1>(u64::MAX), u64::MAX);
        let ms = std::time::Duration::from_millis;
        assert_eq!(lease_ms(ms(0)), 1);
        assert_eq!(lease_ms(std::time::Duration::from_micros(1_001)), 2);
        assert_eq!(lease_ms(ms(30_000)), 30_000);
    }

    #[test]
    fn time_converts_to_ticks() {
        let ns = time_ns(1_700_000_000, 123_456);
        assert_eq!(ns, 1_700_000_000_123_456_000);
        assert_eq!(ns_to_ticks::<1_000_000_000>(ns), ns);
        assert_eq!(ns_to_ticks::<1_000>(ns), 1_700_000_000_123);
        assert_eq!(ns_to_ticks::<32_768>(1_000_000_000), 32_768);
        assert_eq!(time_ns(u64::MAX, 0), u64::MAX);
        assert_eq!(
            ticks_to_duration::<1_000>(3),
            std::time::Duration::from_millis(3)
        );
        assert_eq!(
            duration_to_ticks::<1_000>(std::time::Duration::from_micros(2_999)),
            2
        );
    }
}
