//! A keyed table's switch and unlimited plan: `OrUnlimited::Limited(a)` is
//! `a` exactly, an unlimited plan admits everything and stores nothing, and
//! while switched off a table answers unlimited and changes nothing.

use proptest::prelude::*;
use ratecore::compose::{OrUnlimited, Toggle};
use ratecore::keyed::{Admitted, Plan, WhenFull};
use ratecore::{Duration, Gcra, Instant, KeyedLimiter, Quota};

const MS: u64 = 1_000;

#[derive(Clone, Copy, Debug)]
enum Op {
    Check { key: u8, plan: u8, n: u32, dt: u64 },
    Switch(bool),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        8 => (0u8..6, 0u8..2, 0u32..5, 0u64..300).prop_map(|(key, plan, n, dt)| Op::Check { key, plan, n, dt }),
        1 => any::<bool>().prop_map(Op::Switch),
    ];
    prop::collection::vec(op, 1..150)
}

fn gcra(count: u32, period: u64) -> Gcra<MS> {
    Gcra::new(Quota::with_period(count, Duration::<MS>::from_ticks(period)).burst(count)).unwrap()
}

proptest! {
    #![proptest_config(ratecore_testkit::config(256))]

    /// Two limited plans wrapped in `OrUnlimited`, and a third unlimited plan
    /// for some keys, behind a switch; against a plain table of the two plans
    /// that sees only the checks made while switched on, on limited plans.
    #[test]
    fn switch_and_unlimited_plan_against_a_plain_table(
        (c0, p0, c1, p1) in (1u32..8, 50u64..2_000, 1u32..8, 50u64..2_000),
        ops in ops(),
    ) {
        let plain: KeyedLimiter<Gcra<MS>, MS, 16, 2> =
            KeyedLimiter::new([gcra(c0, p0), gcra(c1, p1)], [5, 6], WhenFull::Deny);
        let wrapped: Toggle<KeyedLimiter<OrUnlimited<Gcra<MS>>, MS, 16, 3>> = Toggle::new(
            KeyedLimiter::new(
                [OrUnlimited::Limited(gcra(c0, p0)), OrUnlimited::Limited(gcra(c1, p1)), OrUnlimited::Unlimited],
                [5, 6],
                WhenFull::Deny,
            ),
            true,
        );
        let mut now = 0;
        for op in ops {
            match op {
                Op::Switch(on) => wrapped.set_enabled(on),
                Op::Check { key, plan, n, dt } => {
                    now += dt;
                    let t = Instant::<MS>::from_ticks(now);
                    // Keys 4 and 5 are on the unlimited plan.
                    if key >= 4 {
                        let got = wrapped.check_n_at(&key, Plan::<3>::new(2).unwrap(), n, t).unwrap();
                        if wrapped.is_enabled() {
                            let status = got.status().unwrap();
                            prop_assert_eq!((status.limit(), status.remaining()), (u32::MAX, u32::MAX));
                        } else {
                            prop_assert_eq!(got, Admitted::Unlimited);
                        }
                        continue;
                    }
                    let got = wrapped.check_n_at(&key, Plan::<3>::new(plan.into()).unwrap(), n, t);
                    if wrapped.is_enabled() {
                        let want = plain.check_n_at(&key, Plan::<2>::new(plan.into()).unwrap(), n, t);
                        prop_assert_eq!(got, want);
                    } else {
                        prop_assert_eq!(got, Ok(Admitted::Unlimited));
                        prop_assert_eq!(wrapped.snapshot_at(&key, Plan::<3>::new(plan.into()).unwrap(), t).remaining(), u32::MAX);
                    }
                }
            }
        }
        // Unlimited keys never held a slot: the tables hold the same keys.
        let t = Instant::<MS>::from_ticks(now);
        prop_assert_eq!(wrapped.inner().occupancy_at(t), plain.occupancy_at(t));
    }
}
