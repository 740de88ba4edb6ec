//! The in-memory store's check across a plan's limits: all or nothing.

use ratecore_tower::{InMemoryStore, Key, Outcome, Plan, Plans, Quota, StoreRequest, WhenFull};

/// The remaining units of every limit after a check.
fn remaining(store: &InMemoryStore, request: &StoreRequest) -> (Outcome, Vec<u32>) {
    let verdict = store.check_now(request);
    let left = verdict.states.as_slice().iter().map(|s| s.remaining);
    (verdict.outcome, left.collect())
}

/// `minute` is 10 per minute (a burst of 10), `day` 3 per day (a burst of
/// 3). At one instant the day admits three requests and refuses the rest;
/// the minute, which has room, is charged for the three admitted only:
/// 10 - 3 = 7 left however many the day refuses.
#[test]
fn a_refusal_by_one_limit_charges_no_other() {
    let mut plans = Plans::new();
    let plan = Plan::new("p")
        .limit("minute", Quota::per_minute(10))
        .limit("day", Quota::per_day(3));
    let p = plans.add(plan).unwrap();
    let store = InMemoryStore::new(&plans, 1_024, WhenFull::Deny);
    let request = StoreRequest {
        key: Key::Id(7),
        plan: p,
        cost: 0,
        now_ms: 0,
    };
    for n in 1..=3 {
        assert_eq!(
            remaining(&store, &request),
            (Outcome::Admitted, vec![10 - n, 3 - n])
        );
    }
    for _ in 0..5 {
        let (outcome, left) = remaining(&store, &request);
        assert!(
            matches!(outcome, Outcome::RateLimited { limit: 1, .. }),
            "{outcome:?}"
        );
        assert_eq!(left, [7, 0]);
    }
    // Another key has its own limits.
    let other = StoreRequest {
        key: Key::Id(8),
        ..request
    };
    assert_eq!(remaining(&store, &other), (Outcome::Admitted, vec![9, 2]));
}
