//! Issue 17: two server processes of the example (the binary cargo built),
//! on two ports, sharing one `redis-server` started here on a free port of
//! 127.0.0.1, grant one API key its plan once across both, not once each.
//! The same two processes with in-memory limits grant it twice, so the test
//! can tell the difference. Every child process is killed on drop.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use support::{RedisServer, ServerProcess};

/// free: 5 per minute, a burst of 5, one unit every 12 s.
const FREE_MINUTE: usize = 5;
const FREE_MINUTE_T_MS: u64 = 12_000;
/// Requests sent, alternately to each process: bounded, and more than
/// twice the burst, so that two unshared limiters would both run out.
const REQUESTS: usize = 14;

struct Sent {
    status: StatusCode,
    remaining: Option<String>,
    process: usize,
}

async fn alternate(processes: &[&ServerProcess; 2]) -> Vec<Sent> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut sent = Vec::new();
    for i in 0..REQUESTS {
        let process = i % 2;
        let response = client
            .post(processes[process].url("/"))
            .header("x-api-key", "demo-free-key")
            .body("hello")
            .send()
            .await
            .unwrap();
        sent.push(Sent {
            status: response.status(),
            remaining: response
                .headers()
                .get("x-ratelimit-remaining")
                .map(|v| v.to_str().unwrap().to_owned()),
            process,
        });
    }
    sent
}

fn admitted(sent: &[Sent]) -> usize {
    sent.iter().filter(|s| s.status == StatusCode::OK).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_redis_share_the_plan() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let a = ServerProcess::start(&["--port", "0", "--redis", &url]);
    let b = ServerProcess::start(&["--port", "0", "--redis", &url]);
    assert_ne!(a.addr, b.addr);
    assert_eq!(a.limits, format!("limits in Redis at {url}"));

    let before_ms = redis.time_ms();
    let sent = alternate(&[&a, &b]).await;
    let span_ms = redis.time_ms() - before_ms;

    // GCRA's bound on the shared clock: the burst, plus one unit per 12 s
    // that passed on Redis's clock during the run.
    let most = FREE_MINUTE + usize::try_from(span_ms / FREE_MINUTE_T_MS).unwrap();
    let granted = admitted(&sent);
    assert!(
        (FREE_MINUTE..=most).contains(&granted),
        "{granted} admitted across both processes in {span_ms} ms; the plan allows {FREE_MINUTE} to {most}"
    );
    for s in sent.iter().filter(|s| s.status != StatusCode::OK) {
        assert_eq!(s.status, StatusCode::TOO_MANY_REQUESTS);
    }
    if span_ms < FREE_MINUTE_T_MS {
        // The usual case (the run takes milliseconds): exactly the plan,
        // and both processes counted down the same limit, 4, 3, 2, 1, 0,
        // taking turns.
        assert_eq!(granted, FREE_MINUTE);
        let remaining: Vec<(usize, &str)> = sent
            .iter()
            .filter(|s| s.status == StatusCode::OK)
            .map(|s| (s.process, s.remaining.as_deref().unwrap()))
            .collect();
        assert_eq!(
            remaining,
            [(0, "4"), (1, "3"), (0, "2"), (1, "1"), (0, "0")]
        );
    }

    // All of the key's limits are one value in Redis.
    let keys = redis.command(&["KEYS", "*"]).unwrap();
    assert!(keys.starts_with("*1\r\n"), "{keys:?}");
    assert!(
        keys.contains("ratecore-http-server:{name:alice}:tiers-gcra-2:"),
        "{keys:?}"
    );

    // Redis gone: the fail policy answers 503 with Retry-After: 1, within
    // the store's time budget, from both processes.
    redis.stop();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for process in [&a, &b] {
        let response = client
            .post(process.url("/"))
            .header("x-api-key", "demo-pro-key")
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap()),
            Some("1")
        );
    }
}

/// The control: the same two processes with in-memory limits each grant
/// the whole plan, twice the plan in all. This is what the shared store
/// prevents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_in_memory_grant_the_plan_twice() {
    let a = ServerProcess::start(&["--port", "0"]);
    let b = ServerProcess::start(&["--port", "0"]);
    assert_eq!(a.limits, "limits in memory");
    let sent = alternate(&[&a, &b]).await;
    // Each process's own limiter grants at least its burst (more only if a
    // 12 s unit came back meanwhile).
    assert!(admitted(&sent) >= 2 * FREE_MINUTE, "{}", admitted(&sent));
}
