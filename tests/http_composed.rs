//! Header values from tiered and keyed answers, against hand-computed
//! expectations (millisecond ticks; the wall clock at 1,700,000,000 s).

use ratecore::http::{Headers, Policy, ServiceLimit};
use ratecore::{
    Denied, Gcra, Instant, KeyedLimiter, Quota, Tiers, compose::Capped, compose::Tier,
    compose::Unlimited, keyed::Plan, keyed::WhenFull,
};
use ratecore_testkit::at;

const MS: u64 = 1_000;
const MINUTE: Quota = Quota::per_minute(100).burst(120);
const DAY: Quota = Quota::per_day(10_000);

fn wall(ms: u64) -> Instant<MS> {
    Instant::<MS>::from_ticks(1_700_000_000_000 + ms)
}

fn policies() -> [Policy<'static>; 2] {
    [
        Policy::from_quota("minute", &MINUTE).unwrap(),
        Policy::from_quota("daily", &DAY).unwrap(),
    ]
}

#[test]
fn a_tiered_refusal_names_the_binding_tier_with_its_exact_wait() {
    let minute = Gcra::<MS>::new(MINUTE).unwrap();
    let day = Gcra::<MS>::new(DAY).unwrap();
    let plan = Tiers::new([Tier::new("minute", &minute), Tier::new("daily", &day)]);
    for _ in 0..120 {
        plan.check_tiered_n_at(1, at(0)).unwrap();
    }
    // The 121st at t = 0: the minute tier (600 ms per unit) refuses for 600
    // ms, so Retry-After is 1 s; it is full again after 120 * 600 ms = 72 s.
    let decision = plan.check_tiered_n_at(1, at(0));
    let limits = ServiceLimit::for_tiers(policies(), &plan, &decision, at(0), wall(0)).unwrap();
    let headers = Headers::new(&limits);
    assert_eq!(headers.retry_after(), Some(1));
    assert_eq!(headers.x_ratelimit_limit(), Some(120));
    assert_eq!(headers.x_ratelimit_remaining(), Some(0));
    assert_eq!(headers.x_ratelimit_reset(), Some(1_700_000_072));
    // The daily tier kept its 120 charges and nothing more: 9,880 left.
    assert_eq!(limits[1].remaining(), 9_880);
    assert_eq!(
        headers.ratelimit_policy().unwrap().to_string(),
        r#""minute";q=100;w=60, "daily";q=10000;w=86400"#
    );
    // On a refusal only the refusing tier is listed, with t = Retry-After.
    assert_eq!(
        headers.ratelimit().unwrap().to_string(),
        r#""minute";r=0;t=1"#
    );
}

#[test]
fn a_request_cap_refusal_is_not_a_429() {
    let minute = Gcra::<MS>::new(MINUTE).unwrap();
    let size = Capped::new(Unlimited::new(), 20_000);
    let plan = Tiers::new([Tier::new("minute", &minute), Tier::new("size", &size)]);
    let decision = plan.check_costs_at([1, 25_000], at(0));
    let policies = [
        Policy::from_quota("minute", &MINUTE).unwrap(),
        Policy::new("size", 20_000, 1).unwrap(),
    ];
    let result = ServiceLimit::for_tiers(policies, &plan, &decision, at(0), wall(0));
    assert!(
        matches!(result, Err(Denied::ExceedsRequestCap(_))),
        "{result:?}"
    );
}

#[test]
fn keyed_answers_become_headers_and_an_unlimited_admission_has_none() {
    const FREE: Quota = Quota::per_minute(5);
    let policy = Policy::from_quota("free", &FREE).unwrap();
    let table: KeyedLimiter<Gcra<MS>, MS, 1> =
        KeyedLimiter::new([Gcra::<MS>::new(FREE).unwrap()], [7, 11], WhenFull::Allow);
    for _ in 0..5 {
        table.check_at("alice", Plan::FIRST, at(0)).unwrap();
    }
    // The 6th of 5 per minute at t = 0: one unit per 12 s, so Retry-After 12.
    let decision = table.check_at("alice", Plan::FIRST, at(0));
    let limit = ServiceLimit::for_key(policy, &decision, wall(0))
        .unwrap()
        .unwrap();
    assert_eq!(Headers::single(&limit).retry_after(), Some(12));
    // The one-slot table holds alice (not idle): bob is admitted unlimited,
    // and no rate-limit headers describe that.
    let decision = table.check_at("bob", Plan::FIRST, at(0));
    assert_eq!(ServiceLimit::for_key(policy, &decision, wall(0)), Ok(None));
    assert_eq!(table.full_count(), 1);
}
