//! A real `redis-server` for the tests: started on a free port of 127.0.0.1,
//! with no persistence, in a temporary directory, and killed on drop.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ratecore_redis::{
    CasOutcome, Read as StoreRead, ReadWords, RedisStore, Store, StoreError, WordsOutcome,
    WordsStore,
};

/// A running `redis-server`, killed (and its directory removed) on drop.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

impl RedisServer {
    /// Starts a server on a free port.
    pub fn start() -> Self {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ratecore-redis-test-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut server = Self {
            child: None,
            port: free_port(),
            dir,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
                "--dir",
            ])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed: apt-get install redis-server");
        self.child = Some(child);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if self.command(&["PING"]).is_ok_and(|r| r.contains("PONG")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    /// The URL clients connect to.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A store on this server.
    pub fn store(&self) -> RedisStore {
        RedisStore::open(&self.url(), Duration::from_millis(500)).expect("store")
    }

    /// Stops the server (its data and script cache are lost).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Sends one command over a fresh connection (inline protocol) and returns
    /// the raw reply.
    pub fn command(&self, args: &[&str]) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut request = format!("*{}\r\n", args.len());
        for a in args {
            request.push_str(&format!("${}\r\n{}\r\n", a.len(), a));
        }
        stream.write_all(request.as_bytes())?;
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// The server's `TIME` in nanoseconds since the Unix epoch.
    pub fn time_ns(&self) -> u64 {
        let reply = self.command(&["TIME"]).expect("TIME");
        let nums: Vec<u64> = reply
            .split("\r\n")
            .filter(|l| !l.is_empty() && !l.starts_with('*') && !l.starts_with('$'))
            .map(|l| l.parse().expect("number"))
            .collect();
        nums[0] * 1_000_000_000 + nums[1] * 1_000
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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

impl Store for TestClock {
    async fn read(&self, key: &str) -> Result<StoreRead, StoreError> {
        self.expire(key).await?;
        let read = self.inner.read(key).await?;
        Ok(StoreRead {
            server_now_ns: self.now_ns.load(Ordering::SeqCst),
            ..read
        })
    }

    async fn compare_and_set(
        &self,
        key: &str,
        expected: Option<u64>,
        new: u64,
        ttl_ms: Option<u64>,
    ) -> Result<CasOutcome, StoreError> {
        self.expire(key).await?;
        let out = self
            .inner
            .compare_and_set(key, expected, new, ttl_ms.map(|_| 3_600_000))
            .await?;
        match out {
            CasOutcome::Stored => {
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
                Ok(CasOutcome::Stored)
            }
            CasOutcome::Conflict(read) => Ok(CasOutcome::Conflict(StoreRead {
                server_now_ns: self.now_ns.load(Ordering::SeqCst),
                ..read
            })),
        }
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
