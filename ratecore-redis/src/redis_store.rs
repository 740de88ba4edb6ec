//! The [`Store`] on Redis or Valkey: three Lua scripts, each touching only `KEYS[1]`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Value};

use crate::server_gcra::{GCRA_SCRIPT, GcraBatch, GcraOutcome};
use crate::store::{
    CasOutcome, Read, ReadWords, Store, StoreError, WordsOutcome, WordsStore, decode, decode_words,
    encode_words, time_ns,
};

/// Reads the word and the server's clock in one atomic step.
///
/// The value goes back as the string it is (`''` for a missing key): the
/// script never turns it into a Lua number, whose doubles would round words
/// above 2^53.
pub const READ_SCRIPT: &str = r"
local v = redis.call('GET', KEYS[1])
local t = redis.call('TIME')
if v == false then v = '' end
return {v, t[1], t[2]}
";

/// Compare-and-set: `ARGV = {expected ('' = missing), new, ttl_ms ('' = none)}`.
///
/// Returns `{1}` when stored, else `{0, current ('' = missing), secs, micros}`
/// so a retry needs no separate read. Comparison is on the exact strings:
/// the words are canonical decimals, so equal strings are equal words.
pub const CAS_SCRIPT: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur == false then cur = '' end
if cur == ARGV[1] then
  if ARGV[3] == '' then
    redis.call('SET', KEYS[1], ARGV[2])
  else
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  end
  return {1}
end
local t = redis.call('TIME')
return {0, cur, t[1], t[2]}
";

struct Script {
    source: &'static str,
    sha: String,
}

impl Script {
    fn new(source: &'static str) -> Self {
        Self {
            source,
            sha: redis::Script::new(source).get_hash().to_owned(),
        }
    }
}

/// The scripts a [`RedisStore`] sends.
struct Scripts {
    read: Script,
    cas: Script,
    gcra: Script,
}

/// A [`Store`] on one Redis (or Valkey) server, through a reconnecting
/// [`ConnectionManager`] (one multiplexed connection, shared by clones).
///
/// Scripts are sent with `EVALSHA`; a `NOSCRIPT` reply (the server restarted,
/// failed over, or ran `SCRIPT FLUSH`) is answered by sending the script
/// itself with `EVAL`, which also puts it back in the server's cache.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    scripts: Arc<Scripts>,
    reloads: Arc<AtomicU64>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("script_reloads", &self.script_reloads())
            .finish_non_exhaustive()
    }
}

fn backend(e: RedisError) -> StoreError {
    StoreError::Backend(Arc::new(e))
}

impl RedisStore {
    /// A store on the server at `url` (`redis://127.0.0.1:6379/`), connecting
    /// lazily: building it never fails because the server is down, and the
    /// connection is re-established after it drops.
    ///
    /// Responses are awaited at most `response_timeout`; the limiter's own
    /// time budget bounds every decision in any case.
    ///
    /// Must be called inside a tokio runtime (the connection's tasks run on it).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] for a malformed URL, or outside a tokio runtime.
    pub fn open(url: &str, response_timeout: Duration) -> Result<Self, StoreError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(StoreError::Backend(Arc::new(std::io::Error::other(
                "RedisStore::open must be called inside a tokio runtime",
            ))));
        }
        let client = redis::Client::open(url).map_err(backend)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(response_timeout))
            .set_connection_timeout(Some(response_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(5))
            .set_max_delay(Duration::from_millis(100));
        let conn = client
            .get_connection_manager_lazy(config)
            .map_err(backend)?;
        Ok(Self::with_connection(conn))
    }

    /// A store over an existing connection manager.
    pub fn with_connection(conn: ConnectionManager) -> Self {
        Self {
            conn,
            scripts: Arc::new(Scripts {
                read: Script::new(READ_SCRIPT),
                cas: Script::new(CAS_SCRIPT),
                gcra: Script::new(GCRA_SCRIPT),
            }),
            reloads: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many times a script was missing from the server's cache and was
    /// sent again.
    pub fn script_reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// Deletes `key` (a full key, as [`RedisLimiter::key`](crate::RedisLimiter::key)
    /// builds it): the key's limiter is fresh again.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the server cannot be reached.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(key)
            .query_async::<i64>(&mut conn)
            .await
            .map(|_| ())
            .map_err(backend)
    }

    /// Runs `script` on `key` with `args`.
    async fn eval(&self, script: &Script, key: &str, args: &[&str]) -> Result<Value, StoreError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(&script.sha).arg(1).arg(key).arg(args);
        match cmd.query_async::<Value>(&mut conn).await {
            Err(e) if e.code() == Some("NOSCRIPT") => {
                // The server lost its script cache (restart, failover,
                // SCRIPT FLUSH). NOSCRIPT means the script did not run at
                // all, so sending it again cannot apply anything twice. And
                // even if a reply were lost after the script ran, re-sending
                // the compare-and-set would be harmless: it compares the
                // value it read, which its first run replaced, so the second
                // run is refused and returns the current value instead of
                // charging again. EVAL runs the source and caches it again.
                self.reloads.fetch_add(1, Ordering::Relaxed);
                let mut cmd = redis::cmd("EVAL");
                cmd.arg(script.source).arg(1).arg(key).arg(args);
                cmd.query_async::<Value>(&mut conn).await.map_err(backend)
            }
            other => other.map_err(backend),
        }
    }
}

fn bulk(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) => u64::try_from(*i).ok(),
        other => std::str::from_utf8(bulk(other)?).ok()?.parse().ok(),
    }
}

fn bad(what: &Value) -> StoreError {
    StoreError::BadReply(format!("{what:?}"))
}

/// `{value, secs, micros}` into the raw value and the time in ns.
fn parse_raw(items: &[Value]) -> Result<(&[u8], u64), StoreError> {
    let [v, secs, micros] = items else {
        return Err(StoreError::BadReply(format!("{items:?}")));
    };
    let value = bulk(v).ok_or_else(|| bad(v))?;
    let secs = number(secs).ok_or_else(|| bad(secs))?;
    let micros = number(micros).ok_or_else(|| bad(micros))?;
    Ok((value, time_ns(secs, micros)))
}

/// `{value, secs, micros}` into a [`Read`].
fn parse_read(key: &str, items: &[Value]) -> Result<Read, StoreError> {
    let (value, server_now_ns) = parse_raw(items)?;
    Ok(Read {
        value: decode(key, value)?,
        server_now_ns,
    })
}

/// `{value, secs, micros}` into a [`ReadWords`].
fn parse_read_words(key: &str, items: &[Value]) -> Result<ReadWords, StoreError> {
    let (value, server_now_ns) = parse_raw(items)?;
    Ok(ReadWords {
        value: decode_words(key, value)?,
        server_now_ns,
    })
}

/// A word is stored as a list of one word (the same canonical decimal).
impl Store for RedisStore {
    async fn read(&self, key: &str) -> Result<Read, StoreError> {
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

    async fn decide_gcra(
        &self,
        key: &str,
        batch: &GcraBatch,
    ) -> Result<Option<GcraOutcome>, StoreError> {
        let args = batch.args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let items = match self.eval(&self.scripts.gcra, key, &args).await? {
            Value::Array(items) => items,
            other => return Err(bad(&other)),
        };
        let outcome = match items.split_first() {
            Some((flag, rest)) if number(flag) == Some(0) => {
                GcraOutcome::Refused(parse_read(key, rest)?)
            }
            Some((flag, [value, secs, micros, new, ttl])) if number(flag) == Some(1) => {
                let old = parse_read(key, &[value.clone(), secs.clone(), micros.clone()])?;
                let new = decode(key, bulk(new).ok_or_else(|| bad(new))?)?;
                let stored = match (new, bulk(ttl)) {
                    (None, Some(b"")) => None,
                    (Some(word), _) => Some((word, number(ttl).ok_or_else(|| bad(ttl))?)),
                    _ => return Err(bad(ttl)),
                };
                GcraOutcome::Decided { old, stored }
            }
            _ => return Err(StoreError::BadReply(format!("{items:?}"))),
        };
        Ok(Some(outcome))
    }
}

/// The read and compare-and-set scripts: they compare values as strings,
/// whatever they encode.
impl WordsStore for RedisStore {
    async fn read_words(&self, key: &str) -> Result<ReadWords, StoreError> {
        match self.eval(&self.scripts.read, key, &[]).await? {
            Value::Array(items) => parse_read_words(key, &items),
            other => Err(bad(&other)),
        }
    }

    async fn compare_and_set_words(
        &self,
        key: &str,
        expected: Option<&[u64]>,
        new: &[u64],
        ttl_ms: Option<u64>,
    ) -> Result<WordsOutcome, StoreError> {
        let expected = expected.map(encode_words).unwrap_or_default();
        let new = encode_words(new);
        let ttl = ttl_ms.map(|t| t.max(1).to_string()).unwrap_or_default();
        match self
            .eval(&self.scripts.cas, key, &[&expected, &new, &ttl])
            .await?
        {
            Value::Array(items) => match items.split_first() {
                Some((flag, [])) if number(flag) == Some(1) => Ok(WordsOutcome::Stored),
                Some((flag, rest)) if number(flag) == Some(0) => {
                    Ok(WordsOutcome::Conflict(parse_read_words(key, rest)?))
                }
                _ => Err(StoreError::BadReply(format!("{items:?}"))),
            },
            other => Err(bad(&other)),
        }
    }
}
