//! Child processes for the tests, each killed when its handle is dropped
//! (however the test ends): a `redis-server` on a free port of 127.0.0.1
//! (the kit's, which ratecore-redis's tests start too: no persistence, a
//! temporary directory), and the example's own binary.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a child may take to start.
const START: Duration = Duration::from_secs(10);

pub use ratecore_testkit::redis_server::RedisServer;

/// The example's binary, running; killed on drop.
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
    /// The second line it printed: where its limits live.
    pub limits: String,
}

impl ServerProcess {
    /// Runs the binary with `args` (and without `RATECORE_REDIS`), and waits
    /// for the address it prints.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_http-server"))
            .args(args)
            .env_remove("RATECORE_REDIS")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the example's binary");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for _ in 0..2 {
                let line = lines.next().and_then(Result::ok).unwrap_or_default();
                if sender.send(line).is_err() {
                    return;
                }
            }
            // Keep reading, so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let mut process = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            limits: String::new(),
        };
        let first = receiver
            .recv_timeout(START)
            .expect("the server prints its address");
        process.addr = first
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .parse()
            .expect("an address");
        process.limits = receiver.recv_timeout(START).expect("a second line");
        process
    }

    /// The base URL.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
