//! A real `redis-server` for the tests of ratecore-redis and of the HTTP
//! server example: started on a free port of 127.0.0.1, with no persistence,
//! in a temporary directory, and killed (its directory removed) on drop.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long the server may take to answer its first `PING` (generous: a
/// CI machine of 2 cores may be busy compiling beside the tests).
const START: Duration = Duration::from_secs(30);

/// How many times a server that exits at once is started again. The free
/// port is found by binding port 0 and closing it, so another process (or
/// an outgoing connection of this one, given the same ephemeral range) may
/// take it before the server binds it; the server then exits, and a new
/// attempt on a new port starts it.
const ATTEMPTS: u32 = 5;

/// A running `redis-server`, killed (and its directory removed) on drop.
pub struct RedisServer {
    child: Option<Child>,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

impl RedisServer {
    /// Starts a server on a free port, in a directory of its own.
    pub fn start() -> Self {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ratecore-redis-server-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut server = Self {
            child: None,
            port: 0,
            dir,
        };
        for _ in 0..ATTEMPTS {
            server.port = free_port();
            if server.try_spawn() {
                return server;
            }
        }
        panic!("redis-server did not start: {}", server.log());
    }

    /// Starts the server on `self.port` and waits for its `PONG`; false if
    /// it exited (the port was taken) before answering.
    fn try_spawn(&mut self) -> bool {
        let log = self.dir.join("redis.log");
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--protected-mode", "yes", "--dir"])
            .arg(&self.dir)
            .arg("--logfile")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed: apt-get install redis-server");
        self.child = Some(child);
        let started = Instant::now();
        while started.elapsed() < START {
            if self.command(&["PING"]).is_ok_and(|r| r.contains("PONG")) {
                return true;
            }
            let exited = self
                .child
                .as_mut()
                .is_none_or(|c| c.try_wait().map_or(true, |status| status.is_some()));
            if exited {
                self.child = None;
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop();
        false
    }

    /// The end of the server's log, for a failure message.
    fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join("\n")
    }

    /// The URL clients connect to.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops the server (its data and script cache are lost).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty. The port is free
    /// again once the old server is gone, but an outgoing connection may
    /// take it in the meantime: a few attempts, a little apart.
    pub fn restart(&mut self) {
        self.stop();
        for _ in 0..ATTEMPTS {
            if self.try_spawn() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "redis-server did not restart on port {}: {}",
            self.port,
            self.log()
        );
    }

    /// Sends one command over a fresh connection and returns the raw reply.
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

    /// The server's `TIME` in milliseconds since the Unix epoch.
    pub fn time_ms(&self) -> u64 {
        self.time_ns() / 1_000_000
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The race `start` survives: a port taken between `free_port` and the
    /// server's bind. The server exits, the attempt says so, and a new
    /// attempt on a free port answers.
    #[test]
    fn a_taken_port_fails_the_attempt_and_a_new_port_serves() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut server = RedisServer {
            child: None,
            port: taken.local_addr().unwrap().port(),
            dir: std::env::temp_dir().join(format!("ratecore-redis-taken-{}", std::process::id())),
        };
        std::fs::create_dir_all(&server.dir).unwrap();
        assert!(
            !server.try_spawn(),
            "a server on a taken port cannot answer"
        );
        assert!(server.child.is_none());
        assert!(
            server.log().contains("Address already in use"),
            "{}",
            server.log()
        );
        drop(server);
        let server = RedisServer::start();
        assert!(server.command(&["PING"]).unwrap().contains("PONG"));
    }
}
