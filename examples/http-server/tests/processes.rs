//! Issue 17: two server processes of the example (the binary cargo built),
//! on two ports, sharing one `redis-server` started here on a free port of
//! 127.0.0.1, grant one API key its plan once across both, not once each.
//! The same two processes with in-memory limits grant it twice, so the test
//! can tell the difference. Likewise for the cap of 5 requests in flight:
//! one cap across both on Redis, one per process in memory. Every child
//! process is killed on drop.

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

    // All of the key's rate limits are one value in Redis; beside it, at
    // most its count of requests in flight (0 once the responses are done,
    // which expires at once, or is still being released).
    let keys = redis.command(&["KEYS", "*"]).unwrap();
    let keys: Vec<&str> = keys
        .split("\r\n")
        .filter(|line| line.starts_with("ratecore-http-server:"))
        .collect();
    let (rates, others): (Vec<&str>, Vec<&str>) = keys
        .iter()
        .partition(|k| k.starts_with("ratecore-http-server:{name:alice}:tiers-gcra-2:"));
    assert_eq!(rates.len(), 1, "{keys:?}");
    for other in others {
        assert!(
            other.starts_with("ratecore-http-server:{name:alice}:concurrency:"),
            "{keys:?}"
        );
    }

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

/// Holds 5 slow streams of the pro key (a minute each), alternately on
/// each process, their headers received (each holds its place until its
/// body ends or is dropped); then answers the status of one more request
/// of the key on each process.
async fn five_streams_then_one_more(
    processes: &[&ServerProcess; 2],
) -> (Vec<reqwest::Response>, [StatusCode; 2]) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let post = |process: usize, body: String| {
        client
            .post(processes[process].url(if body.len() > 1 { "/stream" } else { "/" }))
            .header("x-api-key", "demo-pro-key")
            .body(body)
            .send()
    };
    let long = "x".repeat(600 * ratecore_http_server::STREAM_CHUNK);
    let mut held = Vec::new();
    for i in 0..5 {
        let response = post(i % 2, long.clone()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        held.push(response);
    }
    let mut more = [StatusCode::OK; 2];
    for (process, status) in more.iter_mut().enumerate() {
        *status = post(process, String::new()).await.unwrap().status();
    }
    (held, more)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_redis_share_the_concurrency_cap() {
    let redis = RedisServer::start();
    let url = redis.url();
    let a = ServerProcess::start(&["--port", "0", "--redis", &url]);
    let b = ServerProcess::start(&["--port", "0", "--redis", &url]);
    let (mut held, more) = five_streams_then_one_more(&[&a, &b]).await;
    // 3 streams on one process and 2 on the other: the cap of 5 is reached
    // across both, so neither admits a sixth.
    assert_eq!(more, [StatusCode::TOO_MANY_REQUESTS; 2]);
    // A stream dropped by the client gives its place back (the server
    // notices at its next write, and releases it in Redis): poll, boundedly.
    drop(held.pop());
    let client = reqwest::Client::new();
    let mut back = false;
    for _ in 0..100 {
        let response = client
            .post(b.url("/"))
            .header("x-api-key", "demo-pro-key")
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::OK {
            back = true;
            break;
        }
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(back, "a place comes back after a stream is dropped");
    drop(held);
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
    // And each its own 5 in flight: with 3 and 2 streams held, both admit
    // one more.
    let (held, more) = five_streams_then_one_more(&[&a, &b]).await;
    assert_eq!(more, [StatusCode::OK; 2]);
    drop(held);
}
