//! Scenario tests: the seed plans of issue 14, per key, switched off and
//! on, and changed while running. Every expected number is worked out by
//! hand in the comments. Millisecond ticks.

use ratecore::algorithms::{GcraConfig, LogLimiter, LogVerdict};
use ratecore::compose::{OrUnlimited, Toggle};
use ratecore::kernel::{Algorithm, Carry, Reconfigurable, Saved};
use ratecore::keyed::{Admitted, KeyedTier, KeyedTiers, Plan, WhenFull};
use ratecore::{Denied, Duration, Gcra, KeyedLimiter, Limiter, Quota, const_unwrap};
use ratecore_testkit::at;
use ratecore_testkit::gcra_table;

const MS: u64 = 1_000;

fn retry_after(denied: Denied<MS>) -> u64 {
    match denied {
        Denied::RateLimited(limited) => limited.retry_after().as_ticks(),
        other => panic!("not rate limited: {other}"),
    }
}

fn remaining(admitted: Admitted<MS>) -> u32 {
    admitted.status().expect("limited").remaining()
}

/// "Standard: 100 per minute with a burst of 120, per API key" ...
const STANDARD: Plan<2> = const_unwrap!(Plan::new(0));
/// ... "Premium ten times that".
const PREMIUM: Plan<2> = const_unwrap!(Plan::new(1));

/// A table of [`STANDARD`] and [`PREMIUM`]'s minute limits, hashing keys with
/// `seed`.
fn standard_and_premium_per_minute(seed: [u64; 2]) -> KeyedLimiter<Gcra<MS>, MS, 64, 2> {
    gcra_table(
        [
            Quota::per_minute(100).burst(120),
            Quota::per_minute(1_000).burst(1_200),
        ],
        seed,
    )
}

/// `key` spends `n` units of `plan` at t = 0, all it has left, and its next
/// unit waits `wait` ms.
#[track_caller]
fn spend_then_wait<A: Algorithm<MS>, const N: usize, const P: usize>(
    keys: &KeyedLimiter<A, MS, N, P>,
    key: &str,
    plan: Plan<P>,
    n: u32,
    wait: u64,
) {
    assert_eq!(remaining(keys.check_n_at(key, plan, n, at(0)).unwrap()), 0);
    assert_eq!(
        retry_after(keys.check_at(key, plan, at(0)).unwrap_err()),
        wait
    );
}

/// "Standard: 100 per minute with a burst of 120, per API key; Premium ten
/// times that."
///
/// Standard: one request per 600 ms, at most 120 at once. Premium: one per
/// 60 ms, at most 1,200 at once.
#[test]
fn standard_and_premium_per_api_key() {
    let keys = standard_and_premium_per_minute([11, 12]);
    // Key A spends its Standard burst at t = 0; request 121 waits 600 ms.
    spend_then_wait(&keys, "A", STANDARD, 120, 600);
    // Key B, Premium, is untouched by A: 1,200 at once, then 60 ms apart.
    spend_then_wait(&keys, "B", PREMIUM, 1_200, 60);
    // At 600 ms, A has one request back, B ten.
    assert_eq!(remaining(keys.check_at("A", STANDARD, at(600)).unwrap()), 0);
    assert_eq!(
        remaining(keys.check_n_at("B", PREMIUM, 10, at(600)).unwrap()),
        0
    );
}

/// The same customer upgrades from Standard to Premium while its limiter is
/// in use, and later downgrades: a `static` limiter changed through `&self`.
#[test]
fn standard_changed_to_premium_while_running() {
    const STANDARD: GcraConfig<MS> =
        const_unwrap!(GcraConfig::new(Quota::per_minute(100).burst(120)));
    const PREMIUM: GcraConfig<MS> =
        const_unwrap!(GcraConfig::new(Quota::per_minute(1_000).burst(1_200)));
    static CUSTOMER: Reconfigurable<GcraConfig<MS>, 2> = Reconfigurable::new([STANDARD, PREMIUM]);

    // 120 at t = 0: Standard's burst is spent.
    CUSTOMER.check_n_at(120, at(0)).unwrap();
    assert!(CUSTOMER.check_at(at(0)).is_err());
    // Upgrade at 6 s: 10 units drained (600 ms each), 110 still in use.
    // Premium keeps them: 1,200 - 110 = 1,090 remain.
    assert_eq!(CUSTOMER.switch_at(1, Carry::InUse, at(6_000)), Ok(0));
    assert_eq!(CUSTOMER.snapshot_at(at(6_000)).remaining(), 1_090);
    // Spend them all: 1,200 in use at 6 s.
    CUSTOMER.check_n_at(1_090, at(6_000)).unwrap();
    // Downgrade at 6 s: all 1,200 stay in use under Standard, so the
    // limiter stays empty until 1,081 drain at 600 ms each (648.6 s): the
    // downgrade forgives nothing.
    assert_eq!(CUSTOMER.switch_at(0, Carry::InUse, at(6_000)), Ok(1));
    let denied = CUSTOMER.check_at(at(6_000)).unwrap_err();
    assert_eq!(retry_after(denied), 1_081 * 600);
    // Scaled instead would have kept "full" as full: 120 of 120 in use, the
    // next unit 600 ms away.
    CUSTOMER.switch_at(1, Carry::InUse, at(6_000)).unwrap();
    CUSTOMER.switch_at(0, Carry::Scaled, at(6_000)).unwrap();
    assert_eq!(retry_after(CUSTOMER.check_at(at(6_000)).unwrap_err()), 600);
}

/// "Free: 5 per minute; Pro: 60 per minute; Enterprise: unlimited", per key,
/// in one table.
#[test]
fn free_pro_and_unlimited_per_key() {
    const FREE: Plan<3> = const_unwrap!(Plan::new(0));
    const PRO: Plan<3> = const_unwrap!(Plan::new(1));
    const ENTERPRISE: Plan<3> = const_unwrap!(Plan::new(2));
    let keys: KeyedLimiter<OrUnlimited<Gcra<MS>>, MS, 16, 3> = KeyedLimiter::new(
        [
            OrUnlimited::Limited(Gcra::new(Quota::per_minute(5)).unwrap()),
            OrUnlimited::Limited(Gcra::new(Quota::per_minute(60)).unwrap()),
            OrUnlimited::Unlimited,
        ],
        [21, 22],
        WhenFull::Deny,
    );
    // Free: 5 at once, then one per 12 s.
    spend_then_wait(&keys, "free", FREE, 5, 12_000);
    // Pro: 60 at once, then one per second.
    assert_eq!(
        remaining(keys.check_n_at("pro", PRO, 59, at(0)).unwrap()),
        1
    );
    // Enterprise: anything, with true metadata, and no slot taken.
    let admitted = keys.check_n_at("ent", ENTERPRISE, u32::MAX, at(0)).unwrap();
    assert_eq!(
        admitted.status().map(|s| (s.limit(), s.remaining())),
        Some((u32::MAX, u32::MAX))
    );
    assert_eq!(keys.occupancy_at(at(0)), 2);
    // Pro's 59 units drain by 59 s, Free's 5 by 60 s: then each key is
    // idle and gives its slot up.
    assert_eq!(keys.occupancy_at(at(58_999)), 2);
    assert_eq!(keys.occupancy_at(at(59_000)), 1);
    assert_eq!(keys.occupancy_at(at(60_000)), 0);
}

/// "A per-organisation limit per minute, default 100, configurable per
/// organisation, and a switch to turn rate limiting off."
#[test]
fn per_organisation_with_a_switch_off_and_on() {
    const DEFAULT: Plan<2> = const_unwrap!(Plan::new(0));
    const RAISED: Plan<2> = const_unwrap!(Plan::new(1));
    let orgs: Toggle<KeyedLimiter<Gcra<MS>, MS, 32, 2>> = Toggle::new(
        gcra_table([Quota::per_minute(100), Quota::per_minute(500)], [31, 32]),
        true,
    );
    // acme on the default: 100, then one per 600 ms.
    assert!(orgs.check_n_at("acme", DEFAULT, 100, at(0)).is_ok());
    assert_eq!(
        retry_after(orgs.check_at("acme", DEFAULT, at(0)).unwrap_err()),
        600
    );
    // globex configured to 500.
    assert!(orgs.check_n_at("globex", RAISED, 500, at(0)).is_ok());
    // Switched off: everything passes, nothing is counted, the metadata
    // says unlimited.
    orgs.set_enabled(false);
    for _ in 0..1_000 {
        assert_eq!(
            orgs.check_at("acme", DEFAULT, at(100)),
            Ok(Admitted::Unlimited)
        );
    }
    assert_eq!(orgs.snapshot_at("acme", DEFAULT, at(100)).limit(), u32::MAX);
    // Switched on again at 600 ms: acme has exactly what it had, one unit
    // back since t = 0.
    orgs.set_enabled(true);
    assert_eq!(
        remaining(orgs.check_at("acme", DEFAULT, at(600)).unwrap()),
        0
    );
    assert!(orgs.check_at("acme", DEFAULT, at(600)).is_err());
}

/// A driver's error path behind the kernel's default, 10 messages per 5 s.
#[test]
fn kernel_log_limiting() {
    static LINK: LogLimiter<MS> = const_unwrap!(LogLimiter::from_interval(
        Duration::<MS>::from_ticks(5_000),
        10
    ));
    // An error every 100 ms from t = 250 ms for 12 s: the windows open at
    // 250 (events 250..=1,150 emitted, 1,250..=5,250 suppressed: 41), at
    // 5,350 (5,350..=6,250 emitted, 6,350..=10,350 suppressed: 41) and at
    // 10,450.
    let mut log = vec![];
    for k in 0..120 {
        let t = 250 + 100 * k;
        if let LogVerdict::Emit { suppressed_before } = LINK.check_at(at(t)) {
            log.push((t, suppressed_before));
        }
    }
    assert_eq!(log.len(), 30);
    assert_eq!(&log[..2], &[(250, 0), (350, 0)]);
    assert_eq!(log[9], (1_150, 0));
    assert_eq!(log[10], (5_350, 41));
    assert_eq!(log[20], (10_450, 41));
    assert_eq!(LINK.suppressed(), 120 - 30 - 41 - 41);
}

/// Free's minute limit, saved across a restart; refused under Pro's.
#[test]
fn a_minute_limit_across_a_restart() {
    let free = Gcra::<MS>::new(Quota::per_minute(5)).unwrap();
    free.check_n_at(4, at(0)).unwrap();
    let bytes = free.save().to_bytes();
    // Restarted at 12 s: one unit back, so 2 remain.
    let mut restarted = Gcra::<MS>::new(Quota::per_minute(5)).unwrap();
    restarted.restore(Saved::from_bytes(bytes)).unwrap();
    assert_eq!(restarted.check_at(at(12_000)).unwrap().remaining(), 1);
    let mut pro = Gcra::<MS>::new(Quota::per_minute(60)).unwrap();
    assert!(pro.restore(Saved::from_bytes(bytes)).is_err());
}

/// "Standard: 100 per minute with a burst of 120 and 10,000 per day, per API
/// key; Premium ten times that": two tiers per key, two plans per tier.
///
/// Standard minute: 600 ms per request, 120 at once; Standard day: 8,640 ms
/// per request, 10,000 at once. Premium: 60 ms, 1,200; 864 ms, 100,000.
#[test]
fn minute_and_day_tiers_per_api_key() {
    let minute = standard_and_premium_per_minute([41, 42]);
    let day: KeyedLimiter<Gcra<MS>, MS, 64, 2> =
        gcra_table([Quota::per_day(10_000), Quota::per_day(100_000)], [43, 44]);
    let plan = KeyedTiers::new([
        KeyedTier::new("minute", &minute),
        KeyedTier::new("daily", &day),
    ]);

    // Standard key A: the burst binds first (119 left of it, 9,999 of the day).
    let first = plan.check_at("A", STANDARD, at(0)).unwrap();
    assert_eq!((first.name, first.answer.remaining()), ("minute", 119));
    assert!(plan.check_n_at("A", STANDARD, 119, at(0)).is_ok());
    let denied = plan.check_at("A", STANDARD, at(0)).unwrap_err();
    assert_eq!(denied.name, "minute");
    assert_eq!(retry_after(denied.answer), 600);
    // Nothing was charged to the day by the denial: 10,000 - 120.
    assert_eq!(
        plan.snapshot_all_at("A", STANDARD, at(0))
            .map(|s| s.remaining()),
        [0, 9_880]
    );

    // Standard key C at the minute's full rate, one request per 600 ms
    // after its burst: the minute admits 144,000 a day, the day 10,000, so
    // the day binds once 120 + t / 600 > 10,000 + t / 8,640, near
    // t = 6,370 s. The denial names the day and charges the minute nothing.
    assert!(plan.check_n_at("C", STANDARD, 120, at(0)).is_ok());
    let mut t = 0;
    let denied = loop {
        t += 600;
        match plan.check_at("C", STANDARD, at(t)) {
            // The tightest tier: the minute, until the day's last units.
            Ok(admitted) => assert!(admitted.answer.remaining() <= 1 || admitted.name == "minute"),
            Err(denied) => break denied,
        }
    };
    assert_eq!(denied.name, "daily");
    assert!((6_300_000..6_400_000).contains(&t), "{t}");
    assert!(retry_after(denied.answer) <= 8_640);
    assert_eq!(plan.snapshot_all_at("C", STANDARD, at(t))[0].remaining(), 1);

    // Premium key B: 1,200 at once, every 72 s (the minute refills 1,200 *
    // 60 ms); a second 1,200 at the same instant is refused by the minute
    // and charges the day nothing.
    for k in 0..8 {
        assert!(plan.check_n_at("B", PREMIUM, 1_200, at(k * 72_000)).is_ok());
    }
    let before = plan.snapshot_all_at("B", PREMIUM, at(504_000));
    let denied = plan
        .check_n_at("B", PREMIUM, 1_200, at(504_000))
        .unwrap_err();
    assert_eq!(denied.name, "minute");
    assert_eq!(plan.snapshot_all_at("B", PREMIUM, at(504_000)), before);
    // A's state is its own.
    assert_eq!(
        plan.snapshot_all_at("A", STANDARD, at(0))
            .map(|s| s.remaining()),
        [0, 9_880]
    );
}
