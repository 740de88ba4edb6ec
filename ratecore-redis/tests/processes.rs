//! Several OS processes (this test binary, re-run as workers), each with
//! several tokio tasks, share one quota per key on a real redis-server. On
//! the server's clock, the total admitted never exceeds GCRA's bound
//! `burst + span / T` (span from server times observed before and after the
//! run), nor a fixed window's limit in any window; and no check ends in the
//! fail policy because of contention alone. GCRA runs with contended keys
//! decided on the server (the default), with every batch decided there, and
//! at a rate high enough that contention is certain.

mod support;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ratecore::kernel::Algorithm;
use ratecore::{FixedWindow, Gcra, Quota};
use ratecore_redis::{Answer, Config, RedisLimiter, RedisStore, ServerDecide};
use support::RedisServer;

const WORKER_ENV: &str = "RATECORE_REDIS_WORKER";
const PROCESSES: usize = 3;
const TASKS: usize = 6;
const RUN: Duration = Duration::from_millis(1_200);

/// The algorithms the workers run, by name.
fn gcra() -> Gcra<1_000_000_000> {
    // T = 2 ms.
    Gcra::new(Quota::per_second(500).burst(20)).unwrap()
}

fn gcra_fast() -> Gcra<1_000_000_000> {
    // T = 200 us: the processes' writes collide all the time.
    Gcra::new(Quota::per_second(5_000).burst(20)).unwrap()
}

fn gcra_many() -> Gcra<1_000_000_000> {
    // T = 20 ms per key.
    Gcra::new(Quota::per_second(50).burst(5)).unwrap()
}

fn window() -> FixedWindow<1_000_000_000> {
    // 40 per 100 ms window.
    FixedWindow::new(Quota::with_period(
        40,
        ratecore::Duration::<1_000>::from_ticks(100),
    ))
    .unwrap()
}

/// Runs `TASKS` tasks checking `keys` round-robin until `RUN` has passed;
/// prints one line per admitted check: `ADMIT key at_ticks`, and the
/// fail-policy answers as `FAILED n`.
async fn work<A>(algorithm: A, url: &str, keys: usize, server: ServerDecide)
where
    A: Algorithm<1_000_000_000> + Send + Sync + 'static,
{
    let store = RedisStore::open(url, Duration::from_millis(500)).unwrap();
    let config = Config::new("procs")
        .time_budget(Duration::from_secs(5))
        .server_decide(server);
    let limiter = RedisLimiter::new(algorithm, store, config);
    let failed = Arc::new(AtomicU64::new(0));
    let admitted = Arc::new(std::sync::Mutex::new(Vec::new()));
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let limiter = limiter.clone();
            let failed = Arc::clone(&failed);
            let admitted = Arc::clone(&admitted);
            tokio::spawn(async move {
                let mut i = task;
                while started.elapsed() < RUN {
                    let key = format!("key{}", i % keys);
                    i += 1;
                    match limiter.check(&key).await {
                        Answer::Decided {
                            decision: Ok(_),
                            at,
                        } => admitted.lock().unwrap().push((key, at.as_ticks())),
                        Answer::Decided { .. } => {}
                        Answer::Failed { .. } => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        other => panic!("{other:?}"),
                    }
                    // Denials come back from the deny cache in microseconds;
                    // yield so the tasks interleave.
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    for (key, at) in admitted.lock().unwrap().iter() {
        println!("ADMIT {key} {at}");
    }
    println!("FAILED {}", failed.load(Ordering::Relaxed));
    let m = limiter.metrics();
    println!(
        "METRICS checks={} batches={} conflicts={} local={} server={} refused={}",
        m.checks, m.batches, m.cas_conflicts, m.denied_locally, m.server_batches, m.server_refused
    );
}

/// The worker's entry point: does nothing unless started by a test below.
#[test]
#[ignore = "run by the multi-process tests as a worker"]
fn worker() {
    let Ok(spec) = std::env::var(WORKER_ENV) else {
        return;
    };
    let mut parts = spec.split('|');
    let (url, mode) = (parts.next().unwrap(), parts.next().unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        match mode {
            "gcra-one" => work(gcra(), url, 1, ServerDecide::WhenContended).await,
            "gcra-one-server" => work(gcra(), url, 1, ServerDecide::Always).await,
            "gcra-fast" => work(gcra_fast(), url, 1, ServerDecide::WhenContended).await,
            "gcra-many" => work(gcra_many(), url, 16, ServerDecide::WhenContended).await,
            "window" => work(window(), url, 1, ServerDecide::WhenContended).await,
            other => panic!("unknown mode {other}"),
        }
    });
}

struct Run {
    admitted: Vec<(String, u64)>,
    failed: u64,
    /// Batches decided on the server, over all processes.
    server_batches: u64,
    t0: u64,
    t1: u64,
}

fn run_workers(mode: &str) -> Run {
    let server = RedisServer::start();
    let t0 = server.time_ns();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "worker",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(WORKER_ENV, format!("{}|{mode}", server.url()))
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut admitted = Vec::new();
    let mut failed = 0;
    let mut server_batches = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "worker failed");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("ADMIT") => {
                    let key = words.next().unwrap().to_owned();
                    admitted.push((key, words.next().unwrap().parse().unwrap()));
                }
                Some("FAILED") => failed += words.next().unwrap().parse::<u64>().unwrap(),
                Some("METRICS") => {
                    eprintln!("{line}");
                    let server = words.find_map(|w| w.strip_prefix("server=")).unwrap();
                    server_batches += server.parse::<u64>().unwrap();
                }
                _ => {}
            }
        }
    }
    let t1 = server.time_ns();
    Run {
        admitted,
        failed,
        server_batches,
        t0,
        t1,
    }
}

fn check_gcra(run: &Run, burst: u64, t_ns: u64, keys: usize) {
    let mut per_key: HashMap<&str, u64> = HashMap::new();
    for (key, at) in &run.admitted {
        assert!(run.t0 <= *at && *at <= run.t1, "decision outside the run");
        *per_key.entry(key).or_default() += 1;
    }
    assert_eq!(per_key.len(), keys);
    let bound = burst + (run.t1 - run.t0) / t_ns;
    for (key, &n) in &per_key {
        eprintln!("{key}: {n} admitted, bound {bound}");
        assert!(n <= bound, "{key}: {n} admitted > bound {bound}");
        assert!(n >= burst, "{key}: only {n} admitted");
    }
    assert_eq!(run.failed, 0, "fail policy applied under contention alone");
}

#[test]
fn processes_share_one_gcra_quota_on_one_key() {
    let run = run_workers("gcra-one");
    check_gcra(&run, 20, 2_000_000, 1);
}

/// Every batch decided on the server; and at 5,000/s, where the processes'
/// writes collide all the time and contention moves the key there.
#[test]
fn processes_share_one_gcra_quota_decided_on_the_server() {
    for (mode, t_ns) in [("gcra-one-server", 2_000_000), ("gcra-fast", 200_000)] {
        let run = run_workers(mode);
        assert!(
            run.server_batches > 0,
            "{mode}: nothing decided on the server"
        );
        check_gcra(&run, 20, t_ns, 1);
    }
}

#[test]
fn processes_share_gcra_quotas_on_many_keys() {
    let run = run_workers("gcra-many");
    check_gcra(&run, 5, 20_000_000, 16);
}

#[test]
fn processes_share_a_fixed_window() {
    let run = run_workers("window");
    let width = 100_000_000u64;
    let mut per_window: HashMap<u64, u64> = HashMap::new();
    for (_, at) in &run.admitted {
        *per_window.entry(at / width).or_default() += 1;
    }
    assert!(per_window.len() >= 5);
    for (w, &n) in &per_window {
        assert!(n <= 40, "window {w}: {n} admitted > 40");
    }
    assert_eq!(run.failed, 0, "fail policy applied under contention alone");
}
