//! Headers for tiers that have no window (a concurrency limit, a per-request
//! cap): their policy carries no `w` and an admitted answer no `t`, rather
//! than an invented window. Expected strings are worked out by hand from the
//! quotas.

use ratecore::compose::Tier;
use ratecore::http::{Policy, ServiceLimit};
use ratecore::{ConcurrencyLimit, Gcra, Instant, Limiter, Quota, Tiers};

const MS: u64 = 1_000;

#[test]
fn a_windowless_tier_has_no_w_and_no_t() {
    // 100 per minute (one unit per 600 ms), and at most 5 in flight.
    let minute = Gcra::<MS>::new(Quota::per_minute(100)).unwrap();
    let inflight = ConcurrencyLimit::new(5).unwrap();
    let tiers = Tiers::new([
        Tier::new("minute", &minute),
        Tier::new("inflight", &inflight),
    ]);
    let policies = [
        Policy::new("minute", 100, 60).unwrap(),
        Policy::windowless("inflight", 5).unwrap(),
    ];
    assert_eq!(policies[0].to_string(), r#""minute";q=100;w=60"#);
    assert_eq!(policies[1].to_string(), r#""inflight";q=5"#);

    let now = Instant::<MS>::from_ticks(0);
    let decision = tiers.check_tiered_n_at(1, now);
    let limits = ServiceLimit::for_tiers(policies, &tiers, &decision, now, now).unwrap();
    // The minute tier: 99 left, full again in 600 ms, rounded up to 1 s.
    assert_eq!(limits[0].to_string(), r#""minute";r=99;t=1"#);
    // In flight: 4 places left, and no time to report.
    assert_eq!(limits[1].to_string(), r#""inflight";r=4"#);
}

#[test]
fn a_windowless_policy_refuses_bad_names_and_huge_quotas() {
    assert!(Policy::windowless("", 5).is_err());
    assert!(Policy::windowless("caf\u{e9}", 5).is_err());
    assert!(Policy::windowless("cap", u64::MAX).is_err());
    assert!(Policy::windowless("cap", 1_000_000).is_ok());
}

#[test]
fn a_refusal_still_carries_t() {
    // A windowless policy on a limiter that did refuse with a wait: `t` is
    // the Retry-After, as for any refusal.
    let limiter = Gcra::<MS>::new(Quota::per_second(1)).unwrap();
    let now = Instant::<MS>::from_ticks(0);
    limiter.check_at(now).unwrap();
    let denied = limiter.check_at(now);
    let policy = Policy::windowless("burst", 1).unwrap();
    let limit = ServiceLimit::from_decision(policy, &denied, now).unwrap();
    assert_eq!(limit.to_string(), r#""burst";r=0;t=1"#);
}
