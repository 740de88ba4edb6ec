//! Decisions per second and p99 latency against a real redis-server on
//! 127.0.0.1, started by the bench itself, for three clients:
//!
//! - `lua`: GCRA computed server-side in Lua with doubles, as go-redis's
//!   redis_rate does (for comparison only);
//! - `get/set`: a plain `GET` then `SET` per request (no atomicity at all):
//!   the floor of any read-then-write client;
//! - `ratecore`: this crate, read + compare-and-set, batched, with the deny
//!   cache, contended keys decided by its server-side GCRA script (the
//!   default configuration);
//! - `ratecore-nocache`: the same without the deny cache, so every check
//!   goes to the store;
//! - `ratecore-cas`: the default without the server-side script
//!   (`ServerDecide::Never`): every batch read and compare-and-set.
//!
//! Workloads: 1,000 keys mostly denied; one hot key mostly denied; one hot
//! key all admitted. With 1, 8 and 32 tasks per process and 1 and 4
//! processes (the bench re-runs itself as the worker processes).
//!
//! `BENCH_SECS` sets the seconds per case (default 1); `BENCH_SMOKE=1` runs
//! every case for 0.1 s, for CI; `BENCH_ONLY=many|hotdeny|hotadmit` runs one
//! workload, `BENCH_PROCESSES=n` and `BENCH_TASKS=n` one process or task
//! count; `BENCH_METRICS=1` prints each ratecore-redis process's metrics.

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ratecore::{Gcra, Quota};
use ratecore_redis::{Answer, Config, RedisLimiter, RedisStore, ServerDecide};

const WORKER_ENV: &str = "RATECORE_REDIS_BENCH_WORKER";

/// go-redis/redis_rate's allowN, in spirit: GCRA in Lua doubles, seconds
/// since 2017, TTL rounded to whole seconds.
const LUA_GCRA: &str = r#"
local key = KEYS[1]
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local emission_interval = period / rate
local increment = emission_interval * cost
local burst_offset = emission_interval * burst
local now = redis.call("TIME")
now = (now[1] - 1483228800) + (now[2] / 1000000)
local tat = redis.call("GET", key)
if not tat then tat = now else tat = tonumber(tat) end
tat = math.max(tat, now)
local new_tat = tat + increment
local allow_at = new_tat - burst_offset
local diff = now - allow_at
local remaining = diff / emission_interval
if remaining < 0 then
  return {0, 0, tostring(-diff), tostring(tat - now)}
end
local reset_after = new_tat - now
if reset_after > 0 then
  redis.call("SET", key, new_tat, "EX", math.ceil(reset_after))
end
return {cost, remaining, "-1", tostring(reset_after)}
"#;

#[derive(Clone, Copy, Debug)]
enum Workload {
    ManyDenied,
    HotDenied,
    HotAdmitted,
}

impl Workload {
    const ALL: [Self; 3] = [Self::ManyDenied, Self::HotDenied, Self::HotAdmitted];

    fn name(self) -> &'static str {
        match self {
            Self::ManyDenied => "1,000 keys, mostly denied",
            Self::HotDenied => "1 hot key, mostly denied",
            Self::HotAdmitted => "1 hot key, all admitted",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Self::ManyDenied => "many",
            Self::HotDenied => "hotdeny",
            Self::HotAdmitted => "hotadmit",
        }
    }

    fn from_tag(tag: &str) -> Self {
        match tag {
            "many" => Self::ManyDenied,
            "hotdeny" => Self::HotDenied,
            _ => Self::HotAdmitted,
        }
    }

    fn keys(self) -> usize {
        match self {
            Self::ManyDenied => 1_000,
            _ => 1,
        }
    }

    /// (count per second, burst)
    fn quota(self) -> (u32, u32) {
        match self {
            // 1 per minute, burst 1: after the first request of a key
            // nearly all are denied.
            Self::ManyDenied | Self::HotDenied => (1, 1),
            // A billion per second: never denied.
            Self::HotAdmitted => (1_000_000_000, 1_000_000),
        }
    }
}

const IMPLS: [&str; 5] = [
    "lua",
    "get/set",
    "ratecore",
    "ratecore-nocache",
    "ratecore-cas",
];

struct Stats {
    ops: u64,
    failed: u64,
    latencies_us: Vec<u32>,
}

async fn worker(
    url: String,
    imp: String,
    workload: Workload,
    tasks: usize,
    start_at_ms: u64,
    secs: f64,
) {
    let client = redis::Client::open(url.as_str()).unwrap();
    let conn = client.get_connection_manager().await.unwrap();
    let (rate, burst) = workload.quota();
    let quota = match workload {
        Workload::HotAdmitted => Quota::per_second(rate),
        _ => Quota::per_minute(rate),
    };
    let gcra = Gcra::<{ ratecore::time::NANOS }>::new(quota.burst(burst)).unwrap();
    let config = Config::new("bench").time_budget(Duration::from_millis(250));
    let config = match imp.as_str() {
        "ratecore-nocache" => config.deny_cache(None),
        "ratecore-cas" => config.server_decide(ServerDecide::Never),
        _ => config,
    };
    let limiter = RedisLimiter::new(gcra, RedisStore::with_connection(conn.clone()), config);
    let script = redis::Script::new(LUA_GCRA);
    // Start together with the other processes.
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    tokio::time::sleep(Duration::from_millis(start_at_ms.saturating_sub(now_ms))).await;
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let seq = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (limiter, script, imp, seq) = (
                limiter.clone(),
                script.clone(),
                imp.clone(),
                Arc::clone(&seq),
            );
            let mut conn = conn.clone();
            tokio::spawn(async move {
                let mut stats = Stats {
                    ops: 0,
                    failed: 0,
                    latencies_us: Vec::new(),
                };
                while Instant::now() < end {
                    let i = seq.fetch_add(1, Ordering::Relaxed);
                    let key = format!("k{}", i % workload.keys() as u64);
                    let started = Instant::now();
                    match imp.as_str() {
                        "lua" => {
                            let _: redis::Value = script
                                .key(format!("lua:{key}"))
                                .arg(burst)
                                .arg(rate)
                                .arg(match workload {
                                    Workload::HotAdmitted => 1,
                                    _ => 60,
                                })
                                .arg(1)
                                .invoke_async(&mut conn)
                                .await
                                .unwrap();
                        }
                        "get/set" => {
                            let k = format!("gs:{key}");
                            let v: Option<String> = redis::cmd("GET")
                                .arg(&k)
                                .query_async(&mut conn)
                                .await
                                .unwrap();
                            let next = v.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) + 1;
                            let _: () = redis::cmd("SET")
                                .arg(&k)
                                .arg(next)
                                .arg("EX")
                                .arg(60)
                                .query_async(&mut conn)
                                .await
                                .unwrap();
                        }
                        _ => {
                            if let Answer::Failed { .. } = limiter.check(&key).await {
                                stats.failed += 1;
                            }
                        }
                    }
                    stats.ops += 1;
                    stats
                        .latencies_us
                        .push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
                stats
            })
        })
        .collect();
    let mut all = Stats {
        ops: 0,
        failed: 0,
        latencies_us: Vec::new(),
    };
    for h in handles {
        let s = h.await.unwrap();
        all.ops += s.ops;
        all.failed += s.failed;
        all.latencies_us.extend(s.latencies_us);
    }
    all.latencies_us.sort_unstable();
    let p99 = all
        .latencies_us
        .get(all.latencies_us.len() * 99 / 100)
        .copied()
        .unwrap_or(0);
    if std::env::var("BENCH_METRICS").is_ok_and(|v| v == "1") && imp.starts_with("ratecore") {
        eprintln!(
            "{imp} {tasks} tasks: {:?}, {} script reloads",
            limiter.metrics(),
            limiter.store().script_reloads()
        );
    }
    println!("RESULT {} {} {}", all.ops, p99, all.failed);
}

fn run_case(
    url: &str,
    imp: &str,
    workload: Workload,
    processes: usize,
    tasks: usize,
    secs: f64,
) -> (f64, u32, u64) {
    let exe = std::env::current_exe().unwrap();
    let start_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 400;
    let children: Vec<_> = (0..processes)
        .map(|_| {
            Command::new(&exe)
                .env(
                    WORKER_ENV,
                    format!("{url}|{imp}|{}|{tasks}|{start_at}|{secs}", workload.tag()),
                )
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let (mut ops, mut p99, mut failed) = (0u64, 0u32, 0u64);
    for child in children {
        let out = child.wait_with_output().unwrap();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            if w.first() == Some(&"RESULT") {
                ops += w[1].parse::<u64>().unwrap();
                p99 = p99.max(w[2].parse().unwrap());
                failed += w[3].parse::<u64>().unwrap();
            }
        }
    }
    (ops as f64 / secs, p99, failed)
}

fn main() {
    if let Ok(spec) = std::env::var(WORKER_ENV) {
        let p: Vec<&str> = spec.split('|').collect();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(worker(
            p[0].to_owned(),
            p[1].to_owned(),
            Workload::from_tag(p[2]),
            p[3].parse().unwrap(),
            p[4].parse().unwrap(),
            p[5].parse().unwrap(),
        ));
        return;
    }
    let smoke = std::env::var("BENCH_SMOKE").is_ok_and(|v| v == "1");
    let secs: f64 = if smoke {
        0.1
    } else {
        std::env::var("BENCH_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1.0)
    };
    let server = support::RedisServer::start();
    println!(
        "{} s per case, redis-server on 127.0.0.1; decisions/s (p99 latency)\n",
        secs
    );
    println!(
        "| workload | processes x tasks | lua (redis_rate-style) | get/set floor | ratecore-redis | ratecore-redis, no deny cache | ratecore-redis, compare-and-set only | fail-policy answers (ratecore-redis, no deny cache, compare-and-set only) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let only = std::env::var("BENCH_ONLY").ok();
    for workload in Workload::ALL {
        if only.as_deref().is_some_and(|tag| tag != workload.tag()) {
            continue;
        }
        for processes in [1, 4] {
            if only_n("BENCH_PROCESSES", processes) {
                continue;
            }
            for tasks in [1, 8, 32] {
                if only_n("BENCH_TASKS", tasks) {
                    continue;
                }
                let mut cells = Vec::new();
                let mut failed_rc = Vec::new();
                for imp in IMPLS {
                    let _ = server.command(&["FLUSHALL"]);
                    let (rate, p99, failed) =
                        run_case(&server.url(), imp, workload, processes, tasks, secs);
                    if imp.starts_with("ratecore") {
                        failed_rc.push(failed.to_string());
                    }
                    cells.push(format!("{:.0} ({} us)", rate, p99));
                }
                println!(
                    "| {} | {} x {} | {} | {} |",
                    workload.name(),
                    processes,
                    tasks,
                    cells.join(" | "),
                    failed_rc.join(", ")
                );
            }
        }
    }
}

/// Whether the environment variable `name` names a number other than `n`.
fn only_n(name: &str, n: usize) -> bool {
    std::env::var(name).is_ok_and(|v| v != n.to_string())
}
