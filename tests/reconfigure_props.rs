//! `Reconfigurable`: plan changes through `&self`, at fresh and stale
//! instants, never admit more than the looser of the two plans allows, and a
//! change at a fresh instant is exactly `set_quota_at`.

use proptest::prelude::*;
use ratecore::algorithms::GcraConfig;
use ratecore::kernel::{Carry, Reconfigurable, ReconfigureError};
use ratecore::{Duration, Gcra, Limiter, Quota};
use ratecore_testkit::at;

const MS: u64 = 1_000;

/// A plan: `count` per `period` ms, with a burst.
#[derive(Clone, Copy, Debug)]
struct Plan {
    count: u32,
    period: u64,
    burst: u32,
}

impl Plan {
    fn quota(self) -> Quota {
        Quota::with_period(self.count, Duration::<MS>::from_ticks(self.period)).burst(self.burst)
    }

    fn config(self) -> GcraConfig<MS> {
        GcraConfig::new(self.quota()).unwrap()
    }

    /// The most units a span of `ticks` may admit under this plan alone.
    fn bound(self, ticks: u64) -> u128 {
        u128::from(self.burst)
            + u128::from(ticks) * u128::from(self.count) / u128::from(self.period)
    }
}

fn plans() -> impl Strategy<Value = Plan> {
    (1u32..20, 50u64..3_000, 1u32..20).prop_map(|(count, period, burst)| Plan {
        count,
        period,
        burst,
    })
}

#[derive(Clone, Copy, Debug)]
enum Op {
    /// Move the clock by `dt` (wrapping: a huge step is a step back), then
    /// check `n` units at it.
    Check { n: u32, dt: u64 },
    /// Switch plan at `back` ticks before the clock (a stale instant when
    /// `back > 0`).
    Switch {
        plan: usize,
        carry: Carry,
        back: u64,
    },
}

/// Operations whose switches all carry by `rule`, with at most `switches`
/// switches (the rest become checks).
fn ops(stale: bool) -> impl Strategy<Value = Vec<Op>> {
    ops_with(
        stale,
        prop_oneof![Just(Carry::InUse), Just(Carry::Scaled)].boxed(),
        usize::MAX,
    )
}

fn ops_with(
    stale: bool,
    rule: BoxedStrategy<Carry>,
    switches: usize,
) -> impl Strategy<Value = Vec<Op>> {
    let back = if stale { 0u64..2_000 } else { 0u64..1 };
    let dt = if stale {
        prop_oneof![
            6 => 0u64..200,
            1 => 0u64..3_000,
            1 => (1u64..500).prop_map(u64::wrapping_neg),
        ]
        .boxed()
    } else {
        prop_oneof![6 => 0u64..200, 1 => 0u64..3_000].boxed()
    };
    let op = prop_oneof![
        6 => (0u32..6, dt).prop_map(|(n, dt)| Op::Check { n, dt }),
        1 => (0usize..2, rule, back)
            .prop_map(|(plan, carry, back)| Op::Switch { plan, carry, back }),
    ];
    prop::collection::vec(op, 1..120).prop_map(move |ops| {
        let mut left = switches;
        ops.into_iter()
            .map(|op| match op {
                Op::Switch { .. } if left == 0 => Op::Check { n: 1, dt: 0 },
                Op::Switch { .. } => {
                    left -= 1;
                    op
                }
                check => check,
            })
            .collect()
    })
}

/// Runs `ops` from tick 10,000 and returns the admitted `(instant, n)`,
/// each at the latest instant the limiter has seen so far (an admitted check
/// or a plan switch): a check at a stale instant is
/// decided, at best, as at the latest one (it is stricter than that), so the
/// span bound holds of the instants at which the units are really used.
fn run(limiter: &Reconfigurable<GcraConfig<MS>, 2>, ops: &[Op]) -> Vec<(u64, u32)> {
    let mut now = 10_000u64;
    let mut latest = 0;
    let mut admitted = vec![];
    for op in ops {
        match *op {
            Op::Check { n, dt } => {
                now = if dt > u64::MAX / 2 {
                    now.saturating_sub(dt.wrapping_neg())
                } else {
                    now + dt
                };
                if n > 0 && limiter.check_n_at(n, at(now)).is_ok() {
                    latest = latest.max(now);
                    admitted.push((latest, n));
                }
            }
            Op::Switch { plan, carry, back } => {
                let when = now.saturating_sub(back);
                let previous = limiter.switch_at(plan, carry, at(when)).unwrap();
                // A switch that changes the plan is an instant the limiter
                // has seen too: the state it carries over is counted from
                // there, and a later stale check is decided no looser than at
                // that instant. (A switch to the plan in force writes nothing.)
                if previous != plan {
                    latest = latest.max(when);
                }
            }
        }
    }
    admitted
}

/// No span between two admitted instants admits more than the larger
/// burst plus the larger rate times the span.
fn check_bound(a: Plan, b: Plan, admitted: &[(u64, u32)]) -> Result<(), TestCaseError> {
    let mut sorted = admitted.to_vec();
    sorted.sort_unstable();
    for (i, &(t0, _)) in sorted.iter().enumerate() {
        let mut sum = 0u128;
        for &(t1, n) in &sorted[i..] {
            sum += u128::from(n);
            let bound = u128::from(a.burst.max(b.burst))
                + (a.bound(t1 - t0) - u128::from(a.burst))
                    .max(b.bound(t1 - t0) - u128::from(b.burst));
            prop_assert!(
                sum <= bound,
                "{sum} units in [{t0}, {t1}], bound {bound}: {sorted:?}"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ratecore_testkit::config(1_000))]

    /// Any number of `Carry::InUse` switches at stale and fresh instants, and
    /// stale checks: the span bound of the looser plan holds. (Units in use
    /// never drop at a switch, and drain at the rate in force: the units
    /// admitted in a span are at most those in use at its end, at most the
    /// larger burst, plus those drained in it.)
    #[test]
    fn in_use_is_never_looser_than_both_plans(
        a in plans(),
        b in plans(),
        ops in ops_with(true, Just(Carry::InUse).boxed(), usize::MAX),
    ) {
        let limiter = Reconfigurable::new([a.config(), b.config()]);
        let admitted = run(&limiter, &ops);
        check_bound(a, b, &admitted)?;
    }

    /// One switch of either rule, at a stale or fresh instant: the span bound
    /// of the looser plan holds. (A chain of `Carry::Scaled` switches can
    /// compound, as documented: a small plan drains its burst's fraction
    /// faster, and a scaled switch back to a big plan turns that fraction
    /// into its units.)
    #[test]
    fn one_switch_is_never_looser_than_both_plans(
        a in plans(),
        b in plans(),
        ops in ops_with(true, prop_oneof![Just(Carry::InUse), Just(Carry::Scaled)].boxed(), 1),
    ) {
        let limiter = Reconfigurable::new([a.config(), b.config()]);
        let admitted = run(&limiter, &ops);
        check_bound(a, b, &admitted)?;
    }

    /// At fresh instants, `switch_at(_, Carry::InUse, _)` is `set_quota_at`:
    /// the same decisions and the same state.
    #[test]
    fn a_fresh_switch_is_set_quota_at(a in plans(), b in plans(), ops in ops(false)) {
        let limiter = Reconfigurable::new([a.config(), b.config()]);
        let mut plain = Gcra::<MS>::new(a.quota()).unwrap();
        let mut now = 10_000u64;
        let mut current = 0usize;
        for op in &ops {
            match *op {
                Op::Check { n, dt } => {
                    now += dt;
                    prop_assert_eq!(limiter.check_n_at(n, at(now)), plain.check_n_at(n, at(now)));
                }
                Op::Switch { plan, .. } => {
                    // `set_quota_at` caps the units in use at the new burst,
                    // `Carry::InUse` keeps them all: alike up to the burst.
                    let used = plain.snapshot_at(at(now)).limit() - plain.snapshot_at(at(now)).remaining();
                    if used > [a, b][plan].burst {
                        return Ok(());
                    }
                    limiter.switch_at(plan, Carry::InUse, at(now)).unwrap();
                    let quota = [a, b][plan].quota();
                    // A switch to another plan carries the units over even
                    // when its quota is the same (rounded up to whole units,
                    // as `set_quota_at` does); one to the plan in force is a
                    // no-op.
                    if plan != current {
                        plain.set_quota_at(quota, at(now)).unwrap();
                        current = plan;
                    }
                }
            }
            prop_assert_eq!(limiter.state(), plain.state());
            prop_assert_eq!(limiter.snapshot_at(at(now)), plain.snapshot_at(at(now)));
        }
    }
}

#[test]
fn carry_rules_by_hand() {
    // Standard: 100 per minute, burst 120 (600 ms per unit); Premium ten
    // times that: 1,000 per minute, burst 1,200 (60 ms per unit).
    let standard = GcraConfig::<MS>::new(Quota::per_minute(100).burst(120)).unwrap();
    let premium = GcraConfig::<MS>::new(Quota::per_minute(1_000).burst(1_200)).unwrap();
    for (carry, remaining) in [
        // 60 in use stay in use: 1,140 of 1,200 remain.
        (Carry::InUse, 1_140),
        // Half used stays half used: 600 of 1,200 in use.
        (Carry::Scaled, 600),
        // Afresh.
        (Carry::Full, 1_200),
    ] {
        let limiter = Reconfigurable::new([standard, premium]);
        limiter.check_n_at(60, at(0)).unwrap();
        assert_eq!(limiter.switch_at(1, carry, at(0)), Ok(0));
        assert_eq!(limiter.plan(), 1);
        assert_eq!(
            limiter.snapshot_at(at(0)).remaining(),
            remaining,
            "{carry:?}"
        );
        // And back: the units in use come back down to the Standard burst.
        assert_eq!(limiter.switch_at(0, Carry::InUse, at(0)), Ok(1));
        assert_eq!(
            limiter.snapshot_at(at(0)).remaining(),
            (remaining + 120).saturating_sub(1_200).min(120),
            "{carry:?} and back"
        );
    }
}

#[test]
fn a_stale_switch_counts_at_the_latest_instant() {
    // 1 per second, burst 10; then 1,000 per second, burst 10.
    let slow = GcraConfig::<MS>::new(Quota::per_second(1).burst(10)).unwrap();
    let fast = GcraConfig::<MS>::new(Quota::per_second(1_000).burst(10)).unwrap();
    let limiter = Reconfigurable::new([slow, fast]);
    // 5 units at t = 10 s.
    limiter.check_n_at(5, at(10_000)).unwrap();
    // A switch at a stale 8 s: counted there, 7 units would be in use and
    // would drain (at 1 ms each) by 8.007 s, forgiving the 5 admitted at
    // 10 s. Counted at 10 s, the 5 stay in use.
    limiter.switch_at(1, Carry::InUse, at(8_000)).unwrap();
    assert_eq!(limiter.snapshot_at(at(10_000)).remaining(), 5);
    assert!(limiter.check_n_at(5, at(10_000)).is_ok());
    assert!(limiter.check_at(at(10_000)).is_err());
}

/// `Carry::Scaled`'s documented limit: each change keeps its two plans'
/// bound, a chain over three plans need not. 3 of a burst of 3, scaled to
/// 1 of 1, then kept by `InUse` as 1 of 6: 5 more pass at the same instant.
#[test]
fn a_scaled_chain_over_three_plans_can_forgive() {
    let plan = |burst| GcraConfig::<MS>::new(Quota::per_hour(1).burst(burst)).unwrap();
    let limiter = Reconfigurable::new([plan(3), plan(1), plan(6)]);
    limiter.check_n_at(3, at(10_000)).unwrap();
    limiter.switch_at(1, Carry::Scaled, at(10_000)).unwrap();
    assert_eq!(limiter.snapshot_at(at(10_000)).remaining(), 0);
    limiter.switch_at(2, Carry::InUse, at(10_000)).unwrap();
    assert_eq!(limiter.snapshot_at(at(10_000)).remaining(), 5);
    assert!(limiter.check_n_at(5, at(10_000)).is_ok());
}

#[test]
fn no_such_plan_changes_nothing() {
    let plan = GcraConfig::<MS>::new(Quota::per_second(10)).unwrap();
    let limiter = Reconfigurable::new([plan, plan]);
    limiter.check_n_at(3, at(0)).unwrap();
    let before = (limiter.plan(), limiter.state());
    let error = limiter.switch_at(2, Carry::Full, at(0)).unwrap_err();
    assert_eq!(error, ReconfigureError::NoSuchPlan { plan: 2, plans: 2 });
    assert_eq!(error.to_string(), "no plan 2: the limiter has 2 plans");
    assert_eq!((limiter.plan(), limiter.state()), before);
}

#[test]
fn token_bucket_plans_of_both_refill_modes() {
    use ratecore::RefillMode;
    use ratecore::algorithms::TokenBucketConfig;
    // Greedy 10 per second and interval 10 per second, both holding 10.
    let greedy = TokenBucketConfig::<MS>::new(Quota::per_second(10), RefillMode::Greedy).unwrap();
    let interval =
        TokenBucketConfig::<MS>::new(Quota::per_second(10), RefillMode::Interval).unwrap();
    let bucket = Reconfigurable::new([greedy, interval]);
    bucket.check_n_at(6, at(0)).unwrap();
    // The 6 tokens in use stay in use under interval refill: 4 left, and
    // all 10 back at the next boundary, 1 s.
    bucket.switch_at(1, Carry::InUse, at(0)).unwrap();
    assert_eq!(bucket.snapshot_at(at(0)).remaining(), 4);
    assert_eq!(bucket.snapshot_at(at(999)).remaining(), 4);
    assert_eq!(bucket.snapshot_at(at(1_000)).remaining(), 10);
    // And back to greedy at 1 s: nothing in use.
    bucket.switch_at(0, Carry::InUse, at(1_000)).unwrap();
    assert_eq!(bucket.snapshot_at(at(1_000)).remaining(), 10);
}
