//! Scenario tests: the plan shapes of API providers' rate-limit pages, with
//! every expected number computed by hand in the comments. Millisecond ticks.

use ratecore::{
    ConcurrencyLimit, Denied, Gcra, Limiter, Quota, Tiers, compose::Capped, compose::Tier,
    compose::TierDecision, compose::Toggle, compose::Unlimited,
};
use ratecore_testkit::at;

const MS: u64 = 1_000;

fn admitted(decision: TierDecision<MS>) -> (&'static str, u32) {
    let answer = decision.expect("admitted");
    (answer.name, answer.answer.remaining())
}

fn rate_limited(decision: TierDecision<MS>) -> (&'static str, u32, u64) {
    match decision {
        Err(answer) => match answer.answer {
            Denied::RateLimited(r) => (answer.name, r.remaining(), r.retry_after().as_ticks()),
            other => panic!("not rate limited: {other}"),
        },
        Ok(a) => panic!("admitted: {a:?}"),
    }
}

/// "100 requests per minute with a burst of 120, plus 10,000 per day."
///
/// Minute tier: one request per 60,000 / 100 = 600 ms, at most 120 at once.
/// Day tier: one request per 86,400,000 / 10,000 = 8,640 ms, at most 10,000.
#[test]
fn per_minute_with_burst_plus_per_day() {
    let minute = Gcra::<MS>::new(Quota::per_minute(100).burst(120)).unwrap();
    let day = Gcra::<MS>::new(Quota::per_day(10_000)).unwrap();
    let plan = Tiers::new([Tier::new("burst", &minute), Tier::new("daily", &day)]);

    // The first request leaves 119 of the burst and 9,999 of the day: the
    // burst binds.
    assert_eq!(admitted(plan.check_tiered_n_at(1, at(0))), ("burst", 119));
    for k in 2..=120 {
        assert_eq!(
            admitted(plan.check_tiered_n_at(1, at(0))),
            ("burst", 120 - k)
        );
    }
    // Request 121 at t = 0: the burst is spent; the next unit is 600 ms away.
    assert_eq!(
        rate_limited(plan.check_tiered_n_at(1, at(0))),
        ("burst", 0, 600)
    );
    // It charged neither tier: 10,000 - 120 = 9,880 left today.
    let [burst, daily] = plan.snapshot_all_at(at(0));
    assert_eq!((burst.remaining(), daily.remaining()), (0, 9_880));
    // Full again after 120 * 600 ms = 72 s.
    assert_eq!(burst.reset_after().as_ticks(), 72_000);
    // At 600 ms exactly one more fits.
    assert_eq!(admitted(plan.check_tiered_n_at(1, at(600))), ("burst", 0));
    assert_eq!(
        rate_limited(plan.check_tiered_n_at(1, at(600))),
        ("burst", 0, 600)
    );
    // More than the burst in one request can never pass, whatever the day has.
    let Err(never) = plan.check_tiered_n_at(121, at(1_000_000)) else {
        panic!()
    };
    assert_eq!((never.name, never.answer.retry_after()), ("burst", None));

    // Near the end of the day's quota the daily tier binds. A fresh plan
    // whose day has 9,990 used at t = 0 (10 left, one back every 8,640 ms):
    let minute = Gcra::<MS>::new(Quota::per_minute(100).burst(120)).unwrap();
    let day = Gcra::<MS>::new(Quota::per_day(10_000)).unwrap();
    day.check_n_at(9_990, at(0)).unwrap();
    let plan = Tiers::new([Tier::new("burst", &minute), Tier::new("daily", &day)]);
    for left in (0..10).rev() {
        assert_eq!(admitted(plan.check_tiered_n_at(1, at(0))), ("daily", left));
    }
    // Request 11: the burst has 110 left, but the day is out until 8,640 ms.
    assert_eq!(
        rate_limited(plan.check_tiered_n_at(1, at(0))),
        ("daily", 0, 8_640)
    );
    assert_eq!(plan.snapshot_all_at(at(0))[0].remaining(), 110); // not charged
    // One tick early: still out; on time: one more, and the day binds again.
    assert_eq!(
        rate_limited(plan.check_tiered_n_at(1, at(8_639))),
        ("daily", 0, 1)
    );
    assert_eq!(admitted(plan.check_tiered_n_at(1, at(8_640))), ("daily", 0));
    // The burst refilled meanwhile: 10 used at t = 0 were back after 6 s, so
    // it has 120 - 1 = 119 left.
    assert_eq!(plan.snapshot_all_at(at(8_640))[0].remaining(), 119);
    // When both tiers deny, the longer wait is the answer: a request of 2 at
    // 8,640 ms needs two day units (17,280 ms) and fits the burst at once.
    assert_eq!(
        rate_limited(plan.check_tiered_n_at(2, at(8_640))),
        ("daily", 0, 17_280)
    );
}

/// "60 requests per minute, plus at most 5 running at once."
///
/// Rate: one request per second, 60 at once. The concurrency slot is taken
/// first and held in a permit; if the rate then denies, dropping the permit
/// gives the slot back, so a refused request holds nothing.
#[test]
fn per_minute_plus_concurrent() {
    let rate = Gcra::<MS>::new(Quota::per_minute(60)).unwrap();
    let running = ConcurrencyLimit::new(5).unwrap();

    let start = |now: u64| -> Result<ratecore::algorithms::Permit<'_>, String> {
        let permit = running
            .try_acquire(1)
            .map_err(|busy| format!("{}/{} predictions running", busy.active, busy.limit))?;
        rate.check_at(at(now))
            .map_err(|denied| denied.to_string())?;
        Ok(permit)
    };

    let five: Vec<_> = (0..5).map(|_| start(0).unwrap()).collect();
    assert_eq!(running.active(), 5);
    // The sixth at t = 0: refused for concurrency, and the rate is not charged
    // (60 - 5 = 55 left).
    assert_eq!(start(0).unwrap_err(), "5/5 predictions running");
    assert_eq!(rate.snapshot_at(at(0)).remaining(), 55);
    // One finishes: the sixth runs.
    drop(five);
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(start(0).unwrap());
    }
    // 10 used at t = 0; release them all and use the other 50.
    drop(held);
    for _ in 0..50 {
        start(0).unwrap().release();
    }
    // Request 61 at t = 0: the rate says one second; the slot it took was
    // given back when the permit dropped.
    let refusal = start(0).unwrap_err();
    assert!(refusal.starts_with("rate limited: 0 of 60 units available, retry after 1000 ticks"));
    assert_eq!(running.active(), 0);
    assert!(start(1_000).is_ok());

    // The same plan as tiers: a set of [rate, concurrency] is all or nothing,
    // so a rate refusal takes no slot either.
    let plan = Tiers::new([Tier::new("minute", &rate), Tier::new("running", &running)]);
    assert_eq!(
        rate_limited(plan.check_tiered_n_at(1, at(1_000))),
        ("minute", 0, 1_000)
    );
    assert_eq!(running.active(), 0);
    // Admitted at 2 s: one slot taken (4 left) and the minute at 0: the
    // minute binds. Through tiers the slot is given back with a refund.
    assert_eq!(
        admitted(plan.check_tiered_n_at(1, at(2_000))),
        ("minute", 0)
    );
    assert_eq!(running.active(), 1);
    ratecore::Refund::refund_n_at(&running, 1, at::<MS>(2_000));
    assert_eq!(running.active(), 0);
}

/// "5 requests per minute, plus 100 per day, plus at most 10,000 units
/// (characters, tokens) per request."
///
/// Each request costs 1 on the two rate tiers and its size on the cap tier:
/// one request per 12 s (5 at once), one per 864 s (100 at once), and a cap
/// with no rate behind it.
#[test]
fn per_minute_plus_per_day_plus_per_request_cap() {
    let minute = Gcra::<MS>::new(Quota::per_minute(5)).unwrap();
    let day = Gcra::<MS>::new(Quota::per_day(100)).unwrap();
    let size = Capped::new(Unlimited::new(), 10_000);
    let plan = Tiers::new([
        Tier::new("minute", &minute),
        Tier::new("daily", &day),
        Tier::new("per-request", &size),
    ]);
    let request = |units: u32, now: u64| plan.check_costs_at([1, 1, units], at(now));

    // 8,000 units: admitted; the minute binds (4 left, 99 left, no limit).
    assert_eq!(admitted(request(8_000, 0)), ("minute", 4));
    // 10,001 units is refused for its size, whatever quota remains, and
    // charges nothing.
    let Err(too_big) = request(10_001, 0) else {
        panic!()
    };
    assert_eq!(too_big.name, "per-request");
    let Denied::ExceedsRequestCap(cap) = too_big.answer else {
        panic!()
    };
    assert_eq!((cap.requested, cap.cap), (10_001, 10_000));
    assert_eq!(
        too_big.to_string(),
        "tier 2 (per-request): 10001 units requested but one request may ask for at most 10000"
    );
    assert_eq!(plan.snapshot_all_at(at(0))[0].remaining(), 4);
    // Exactly the cap is fine.
    assert_eq!(admitted(request(10_000, 0)), ("minute", 3));
    for left in (0..3).rev() {
        assert_eq!(admitted(request(1, 0)), ("minute", left));
    }
    // The sixth request at t = 0 waits 12 s.
    assert_eq!(rate_limited(request(1, 0)), ("minute", 0, 12_000));
    // Too big *and* out of quota: the size refusal wins (waiting cannot help).
    assert_eq!(request(20_000, 0).unwrap_err().name, "per-request");

    // The day: a fresh plan with 96 of 100 used at t = 0.
    let minute = Gcra::<MS>::new(Quota::per_minute(5)).unwrap();
    let day = Gcra::<MS>::new(Quota::per_day(100)).unwrap();
    day.check_n_at(96, at(0)).unwrap();
    let plan = Tiers::new([
        Tier::new("minute", &minute),
        Tier::new("daily", &day),
        Tier::new("per-request", &size),
    ]);
    let request = |units: u32, now: u64| plan.check_costs_at([1, 1, units], at(now));
    for left in (0..4).rev() {
        assert_eq!(admitted(request(500, 0)), ("daily", left));
    }
    // The fifth fits the minute (1 left) but not the day: 864 s to wait, and
    // the minute keeps its unit.
    assert_eq!(rate_limited(request(500, 0)), ("daily", 0, 864_000));
    assert_eq!(plan.snapshot_all_at(at(0))[0].remaining(), 1);
}

/// `RATE_LIMIT_ENABLED=false`: the same plan behind a switch admits
/// everything and reports `u32::MAX` (see `Unlimited`); switched on again it
/// is the plan, with nothing counted while it was off.
#[test]
fn deployment_switch_turns_a_plan_off() {
    let minute = Gcra::<MS>::new(Quota::per_minute(100).burst(120)).unwrap();
    let day = Gcra::<MS>::new(Quota::per_day(10_000)).unwrap();
    let plan = Toggle::new(
        Tiers::new([Tier::new("burst", &minute), Tier::new("daily", &day)]),
        false,
    );
    for _ in 0..1_000 {
        let status = plan.check_at(at(0)).unwrap();
        assert_eq!((status.limit(), status.remaining()), (u32::MAX, u32::MAX));
    }
    assert_eq!(plan.snapshot_at(at(0)).reset_after().as_ticks(), 0);
    plan.set_enabled(true);
    assert_eq!(plan.check_at(at(0)).unwrap().remaining(), 119);
    // One tier switched off inside a set: the set reports the tiers still on.
    let day_off = Toggle::new(Gcra::<MS>::new(Quota::per_day(10_000)).unwrap(), false);
    let set = Tiers::new([Tier::new("daily", &day_off), Tier::new("burst", &minute)]);
    assert_eq!(admitted(set.check_tiered_n_at(1, at(0))), ("burst", 118));
}

/// "10 per second in fixed windows, plus 100 per minute": a window limiter is
/// a tier like any other, and a denial by either tier charges neither.
#[test]
fn fixed_window_tier_with_a_rate_tier() {
    use ratecore::FixedWindow;
    let second = FixedWindow::<MS>::new(Quota::per_second(10)).unwrap();
    let minute = Gcra::<MS>::new(Quota::per_minute(100)).unwrap();
    let plan: Tiers<'_, MS, 2> =
        Tiers::new([Tier::new("second", &second), Tier::new("minute", &minute)]);

    // 10 in the first second: the window allows 10, the minute allows 100.
    for i in 0..10 {
        assert_eq!(
            admitted(plan.check_tiered_n_at(1, at(i))),
            ("second", 9 - i as u32)
        );
    }
    // The 11th in the same window: the window refuses until its boundary at
    // 1,000 ms, and the minute tier keeps its 90.
    assert_eq!(
        rate_limited(plan.check_tiered_n_at(1, at(500))),
        ("second", 0, 500)
    );
    assert_eq!(minute.snapshot_at(at(500)).remaining(), 90);
    // At the boundary the window is full again: 10 more, then the minute
    // tier has 80 left (600 ms per unit; 1 s earned 1 more, rounded down).
    for _ in 0..10 {
        assert!(plan.check_at(at(1_000)).is_ok());
    }
    assert_eq!(minute.snapshot_at(at(1_000)).remaining(), 81);
}
