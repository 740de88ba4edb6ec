//! Every header value against expectations computed by hand from the
//! limiters' documented semantics (not from the formatter's code).

use core::fmt::Write;

use ratecore::http::{
    FixedBuf, Headers, Policy, QuotaUnit, RETRY_AFTER, ServiceLimit, TooManyRequests, Usage,
};
use ratecore::{
    Decision, Denied, Duration, Gcra, Instant, Limiter, Quota, RefillMode, TokenBucket,
};
use ratecore_testkit::at;

const MS: u64 = ratecore::time::MILLIS;
/// The wall clock at limiter tick 0: 2023-11-14T22:13:20Z in Unix milliseconds.
const WALL_ORIGIN_MS: u64 = 1_700_000_000_000;

fn wall(ms: u64) -> Instant<MS> {
    Instant::<MS>::from_ticks(WALL_ORIGIN_MS + ms)
}

/// All headers of one response as `name: value` lines.
fn lines(headers: Headers<'_>) -> String {
    headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\n"))
        .collect()
}

fn limit_of<'a>(policy: Policy<'a>, decision: &Decision<MS>, now_ms: u64) -> ServiceLimit<'a> {
    ServiceLimit::from_decision(policy, decision, wall(now_ms)).expect("admitted or rate limited")
}

#[test]
fn gcra_free_plan_admitted_then_refused() {
    // 5 per minute: one unit per 12 s, burst 5.
    let quota = Quota::per_minute(5);
    let gcra = Gcra::<MS>::new(quota).unwrap();
    let policy = Policy::from_quota("free", &quota).unwrap();

    // First request at 0: 4 left, full again 12 s later.
    let first = limit_of(policy, &gcra.check_at(at(0)), 0);
    assert_eq!(
        lines(Headers::single(&first)),
        "X-RateLimit-Limit: 5\n\
         X-RateLimit-Remaining: 4\n\
         X-RateLimit-Reset: 1700000012\n\
         RateLimit-Policy: \"free\";q=5;w=60\n\
         RateLimit: \"free\";r=4;t=12\n"
    );

    for _ in 0..4 {
        assert!(gcra.check_at(at(0)).is_ok());
    }
    // Sixth request 2.5 s later: the next unit comes at 12 s, so the exact
    // wait is 9.5 s -> Retry-After 10; full again at 60 s -> reset at
    // 1 700 000 060; t of a refusal is its Retry-After.
    let refused = limit_of(policy, &gcra.check_at(at(2_500)), 2_500);
    assert_eq!(
        lines(Headers::single(&refused)),
        "X-RateLimit-Limit: 5\n\
         X-RateLimit-Remaining: 0\n\
         X-RateLimit-Reset: 1700000060\n\
         RateLimit-Policy: \"free\";q=5;w=60\n\
         RateLimit: \"free\";r=0;t=10\n\
         Retry-After: 10\n"
    );
    let body = Headers::single(&refused).too_many_requests().unwrap();
    assert_eq!(
        (
            body.limit,
            body.remaining,
            body.retry_after_secs,
            body.reset_at_unix,
            body.policy
        ),
        (5, 0, 10, 1_700_000_060, Some("free"))
    );
    assert_eq!(body.reset_at().unwrap().to_string(), "2023-11-14T22:14:20Z");
}

#[test]
fn gcra_pro_plan_with_burst() {
    // 100 per minute, burst 120: one unit per 600 ms.
    let quota = Quota::per_minute(100).burst(120);
    let gcra = Gcra::<MS>::new(quota).unwrap();
    let policy = Policy::from_quota("pro", &quota).unwrap();
    for _ in 0..119 {
        assert!(gcra.check_at(at(1_000)).is_ok());
    }
    // The 120th at 1 s: 0 left, full again after 120 * 600 ms = 72 s.
    let last = limit_of(policy, &gcra.check_at(at(1_000)), 1_000);
    let headers = Headers::single(&last);
    assert_eq!(headers.x_ratelimit_limit(), Some(120));
    assert_eq!(headers.x_ratelimit_remaining(), Some(0));
    assert_eq!(headers.x_ratelimit_reset(), Some(1_700_000_073)); // 1 s + 72 s
    assert_eq!(headers.retry_after(), None);
    assert_eq!(headers.ratelimit().unwrap().to_string(), "\"pro\";r=0;t=72");
    assert_eq!(
        headers.ratelimit_policy().unwrap().to_string(),
        "\"pro\";q=100;w=60"
    );
    // The 121st 100 ms later: the next unit is 500 ms away -> Retry-After 1.
    let refused = limit_of(policy, &gcra.check_at(at(1_100)), 1_100);
    let headers = Headers::single(&refused);
    assert_eq!(headers.retry_after(), Some(1));
    assert_eq!(headers.ratelimit().unwrap().to_string(), "\"pro\";r=0;t=1");
    // Full again at 73 s, 71.9 s from 1.1 s.
    assert_eq!(headers.x_ratelimit_reset(), Some(1_700_000_073));
    // A caller that knows the next unit is 600 ms away can say so.
    let tight = last.with_effective_window(Duration::<MS>::from_ticks(600));
    assert_eq!(tight.to_string(), "\"pro\";r=0;t=1");
    // ...which a refusal ignores: its t stays its Retry-After.
    let refused_tight = refused.with_effective_window(Duration::<MS>::from_ticks(5_000));
    assert_eq!(refused_tight.to_string(), "\"pro\";r=0;t=1");
}

#[test]
fn interval_token_bucket() {
    // 3 tokens at every whole second, at most 5 saved.
    let quota = Quota::per_second(3).burst(5);
    let bucket = TokenBucket::<MS>::new(quota, RefillMode::Interval).unwrap();
    let policy = Policy::from_quota("bucket", &quota).unwrap();
    // Spend all 5 at 10 ms: +3 at 1 s, +2 (capped) at 2 s -> full in 1990 ms.
    let spent = limit_of(policy, &bucket.check_n_at(5, at(10)), 10);
    assert_eq!(spent.to_string(), "\"bucket\";r=0;t=2");
    assert_eq!(spent.reset_at_unix(), 1_700_000_002);
    // One more at 500 ms: the next tokens come at 1 s, 500 ms away.
    let refused = limit_of(policy, &bucket.check_at(at(500)), 500);
    assert_eq!(refused.retry_after_secs(), Some(1));
    assert_eq!(refused.reset_at_unix(), 1_700_000_002);
    // Two at 1 s: one token left; +3 at 2 s makes 4, +3 at 3 s makes 5 (capped):
    // full 2 s later.
    let two = limit_of(policy, &bucket.check_n_at(2, at(1_000)), 1_000);
    assert_eq!(two.to_string(), "\"bucket\";r=1;t=2");
    assert_eq!(two.reset_at_unix(), 1_700_000_003);
}

#[test]
fn exceeds_burst_is_no_429() {
    let quota = Quota::per_minute(5);
    let gcra = Gcra::<MS>::new(quota).unwrap();
    let policy = Policy::from_quota("free", &quota).unwrap();
    let decision = gcra.check_n_at(6, at(0));
    let Err(Denied::ExceedsBurst(exceeds)) = decision else {
        panic!("{decision:?}")
    };
    assert_eq!(
        ServiceLimit::from_decision(policy, &decision, wall(0)),
        Err(Denied::ExceedsBurst(exceeds))
    );
}

#[test]
fn seconds_round_up_at_other_tick_rates() {
    // 32.768 kHz: 32 769 ticks is one tick over a second -> 2 s.
    let policy = Policy::new("rtc", 1, 1).unwrap();
    let limit = ServiceLimit::new(
        policy,
        1,
        0,
        Duration::<32_768>::from_ticks(32_769),
        Some(Duration::<32_768>::from_ticks(32_768)),
        Instant::<32_768>::from_ticks(32_768 * 10 + 1),
    );
    assert_eq!(limit.retry_after_secs(), Some(1));
    assert_eq!(limit.reset_after_secs(), 2);
    // 10 s + 1 tick + 1 s + 1 tick -> 12 s.
    assert_eq!(limit.reset_at_unix(), 12);
    // A zero wait is still a one-second Retry-After.
    let zero = ServiceLimit::new(
        policy,
        1,
        0,
        Duration::<1>::from_ticks(0),
        Some(Duration::from_ticks(0)),
        Instant::from_ticks(0),
    );
    assert_eq!(zero.retry_after_secs(), Some(1));
    assert_eq!(
        Headers::single(&zero)
            .iter()
            .last()
            .map(|(n, v)| (n, v.to_string())),
        Some((RETRY_AFTER, "1".into()))
    );
}

fn state<'a>(
    policy: Policy<'a>,
    limit: u32,
    remaining: u32,
    reset_s: u64,
    retry_s: Option<u64>,
) -> ServiceLimit<'a> {
    ServiceLimit::new(
        policy,
        limit,
        remaining,
        Duration::<1>::from_ticks(reset_s),
        retry_s.map(Duration::<1>::from_ticks),
        Instant::<1>::from_ticks(1_000),
    )
}

#[test]
fn several_policies_admitted() {
    let burst = Policy::new("burst", 100, 60).unwrap();
    let daily = Policy::new("daily", 1_000, 86_400).unwrap();
    let limits = [
        state(burst, 100, 50, 30, None),
        state(daily, 1_000, 40, 36_000, None),
    ];
    // The daily policy has fewer units left: it binds the X- headers.
    assert_eq!(
        lines(Headers::new(&limits)),
        "X-RateLimit-Limit: 1000\n\
         X-RateLimit-Remaining: 40\n\
         X-RateLimit-Reset: 37000\n\
         RateLimit-Policy: \"burst\";q=100;w=60, \"daily\";q=1000;w=86400\n\
         RateLimit: \"burst\";r=50;t=30, \"daily\";r=40;t=36000\n"
    );
    // A tie on remaining keeps the first.
    let tie = [
        state(burst, 100, 40, 30, None),
        state(daily, 1_000, 40, 36_000, None),
    ];
    assert_eq!(
        Headers::new(&tie).binding().unwrap().policy().name(),
        "burst"
    );
}

#[test]
fn several_policies_refused() {
    let burst = Policy::new("burst", 100, 60).unwrap();
    let hourly = Policy::new("hourly", 500, 3_600).unwrap();
    let daily = Policy::new("daily", 1_000, 86_400).unwrap();
    // Only the burst policy refused: RateLimit lists it alone, so no listed
    // t exceeds Retry-After.
    let one = [
        state(burst, 100, 0, 60, Some(2)),
        state(hourly, 500, 7, 3_000, None),
        state(daily, 1_000, 500, 36_000, None),
    ];
    assert_eq!(
        lines(Headers::new(&one)),
        "X-RateLimit-Limit: 100\n\
         X-RateLimit-Remaining: 0\n\
         X-RateLimit-Reset: 1060\n\
         RateLimit-Policy: \"burst\";q=100;w=60, \"hourly\";q=500;w=3600, \"daily\";q=1000;w=86400\n\
         RateLimit: \"burst\";r=0;t=2\n\
         Retry-After: 2\n"
    );
    // Two refused: the longer wait binds; both are listed.
    let two = [
        state(burst, 100, 0, 60, Some(2)),
        state(hourly, 500, 0, 3_000, Some(7)),
        state(daily, 1_000, 500, 36_000, None),
    ];
    let headers = Headers::new(&two);
    assert_eq!(headers.retry_after(), Some(7));
    assert_eq!(headers.x_ratelimit_limit(), Some(500));
    assert_eq!(
        headers.ratelimit().unwrap().to_string(),
        "\"burst\";r=0;t=2, \"hourly\";r=0;t=7"
    );
    assert_eq!(headers.too_many_requests().unwrap().policy, Some("hourly"));
    assert_eq!(headers.usage(), Some(Usage::new(500, 0)));
}

#[test]
fn no_policies_no_headers() {
    let headers = Headers::new(&[]);
    assert_eq!(headers.iter().count(), 0);
    assert_eq!(headers.binding(), None);
    assert_eq!(headers.too_many_requests(), None);
}

#[test]
fn admitted_has_no_body() {
    let limit = state(Policy::new("p", 1, 1).unwrap(), 1, 1, 0, None);
    assert_eq!(TooManyRequests::from_limit(&limit), None);
    assert_eq!(Headers::single(&limit).too_many_requests(), None);
}

#[test]
fn unit_and_partition_key_reach_both_fields() {
    let policy = Policy::new("bytes", 300_000_000, 60)
        .unwrap()
        .with_unit(QuotaUnit::ContentBytes)
        .with_partition_key(b"App-999");
    let limit = state(policy, 300_000_000, 300_000_000, 60, None);
    let headers = Headers::single(&limit);
    // The draft's section 4.2 example: "default";r=300000000;t=60;pk=:QXBwLTk5OQ==:
    assert_eq!(
        headers.ratelimit().unwrap().to_string(),
        "\"bytes\";r=300000000;t=60;pk=:QXBwLTk5OQ==:"
    );
    assert_eq!(
        headers.ratelimit_policy().unwrap().to_string(),
        "\"bytes\";q=300000000;qu=\"content-bytes\";w=60;pk=:QXBwLTk5OQ==:"
    );
}

#[test]
fn huge_windows_are_clamped_to_fifteen_digits() {
    let policy = Policy::new("p", 1, 1).unwrap();
    let admitted = ServiceLimit::new(
        policy,
        1,
        0,
        Duration::<1>::from_ticks(u64::MAX),
        None,
        Instant::<1>::from_ticks(u64::MAX),
    );
    assert_eq!(admitted.to_string(), "\"p\";r=0;t=999999999999999");
    assert_eq!(admitted.reset_at_unix(), u64::MAX); // saturated, late
    // Retry-After is not clamped (delay-seconds has no upper bound), and t
    // (clamped downwards) stays below it.
    let refused = ServiceLimit::new(
        policy,
        1,
        0,
        Duration::<1>::from_ticks(u64::MAX),
        Some(Duration::from_ticks(u64::MAX)),
        Instant::<1>::from_ticks(0),
    );
    assert_eq!(refused.retry_after_secs(), Some(u64::MAX));
    assert_eq!(refused.to_string(), "\"p\";r=0;t=999999999999999");
}

#[test]
fn headers_fit_a_fixed_buffer() {
    let quota = Quota::per_minute(5);
    let gcra = Gcra::<MS>::new(quota).unwrap();
    let limit = limit_of(
        Policy::from_quota("free", &quota).unwrap(),
        &gcra.check_at(at(0)),
        0,
    );
    let mut buf = FixedBuf::<256>::new();
    for (name, value) in Headers::single(&limit) {
        write!(buf, "{name}: {value}\r\n").unwrap();
    }
    assert!(buf.as_str().starts_with("X-RateLimit-Limit: 5\r\n"));
    assert!(buf.as_str().ends_with("RateLimit: \"free\";r=4;t=12\r\n"));
    // Too small a buffer fails cleanly and keeps what fitted.
    let mut small = FixedBuf::<24>::new();
    let result = Headers::single(&limit)
        .iter()
        .try_for_each(|(name, value)| write!(small, "{name}: {value}\r\n"));
    assert!(result.is_err());
    assert_eq!(small.as_str(), "X-RateLimit-Limit: 5\r\n");
}

#[test]
fn usage_by_hand() {
    // 4 of 5 spent: 800 per-mille, at the 80 % alert, not at 81 %.
    let usage = Usage::new(5, 1);
    assert_eq!((usage.used(), usage.remaining(), usage.limit()), (4, 1, 5));
    assert_eq!(usage.utilization_per_mille(), 800);
    assert!(usage.is_near_limit_percent(80));
    assert!(!usage.is_near_limit_percent(81));
    assert!(usage.is_near_limit_per_mille(800));
    assert!(!usage.is_near_limit_per_mille(801));
    // 2 of 3 spent: 666.67 per-mille, shown as 666; the test is exact.
    let usage = Usage::new(3, 1);
    assert_eq!(usage.utilization_per_mille(), 666);
    assert!(usage.is_near_limit_per_mille(666));
    assert!(!usage.is_near_limit_per_mille(667));
    // Nothing spent; remaining above the limit is capped.
    assert_eq!(Usage::new(3, 10).used(), 0);
    assert_eq!(Usage::new(3, 10).utilization_per_mille(), 0);
    // A zero limit admits nothing: fully used.
    assert_eq!(Usage::new(0, 0).utilization_per_mille(), 1_000);
    assert!(Usage::new(0, 0).is_near_limit_percent(100));
    // From a real answer: the pro plan after 97 requests.
    let quota = Quota::per_minute(100).burst(120);
    let gcra = Gcra::<MS>::new(quota).unwrap();
    for _ in 0..96 {
        gcra.check_at(at(0)).unwrap();
    }
    let usage = Usage::from(gcra.check_at(at(0)).unwrap());
    assert_eq!((usage.used(), usage.utilization_per_mille()), (97, 808));
    assert!(usage.is_near_limit_percent(80));
}
