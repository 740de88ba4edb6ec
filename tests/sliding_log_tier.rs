//! The exact log as a tier: peeks change nothing, and an undo takes back
//! exactly the units of its charge, whatever was recorded since, against
//! the log model with that charge's units removed (its instant stays: stale
//! readings are still evaluated at the latest instant recorded).

use proptest::prelude::*;
use ratecore::algorithms::SharedSlidingLog;
use ratecore::compose::Tier;
use ratecore::kernel::{Charge, Receipt};
use ratecore::{Gcra, Limiter, Quota, Tiers};
use ratecore_testkit::model::sliding_log::SlidingLogModel;
use ratecore_testkit::window::Outcome;
use ratecore_testkit::{at, config, window_quota};

const LIMIT: u32 = 4;
const WIDTH: u64 = 20;

#[derive(Clone, Copy, Debug)]
enum Op {
    /// Charge `n` units `dt` ticks later (or earlier: a stale reading).
    Charge { n: u32, dt: i8 },
    /// Undo the charge made `back` charges ago, if it is still held.
    Undo { back: usize },
    /// Peek `n` units now.
    Peek { n: u32 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..=LIMIT + 1, -3i8..8).prop_map(|(n, dt)| Op::Charge { n, dt }),
        2 => (0usize..4).prop_map(|back| Op::Undo { back }),
        1 => (0..=LIMIT + 1).prop_map(|n| Op::Peek { n }),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn undo_is_exact(ops in prop::collection::vec(op(), 1..60)) {
        let log = SharedSlidingLog::<1, 8>::new(window_quota(LIMIT, WIDTH)).unwrap();
        let mut model = SlidingLogModel::new(LIMIT, WIDTH);
        // Charges still held: the receipt and the model's entry.
        let mut held: Vec<(Receipt<'_>, (u64, u32))> = Vec::new();
        let mut now: u64 = 100;
        for op in ops {
            match op {
                Op::Charge { n, dt } => {
                    now = now.saturating_add_signed(i64::from(dt));
                    let before = model.admitted.len();
                    let want = model.check(n, now);
                    let got = log.charge_n_at(n, at(now));
                    prop_assert_eq!(Outcome::of(&got.map(|(s, _)| s)), want);
                    if let Ok((_, receipt)) = got {
                        if model.admitted.len() > before {
                            held.push((receipt, *model.admitted.last().unwrap()));
                        }
                    }
                }
                Op::Undo { back } => {
                    if back < held.len() {
                        let index = held.len() - 1 - back;
                        let (receipt, entry) = held.remove(index);
                        // The model forgets the units but not the instant: a
                        // log evaluates stale readings at the latest instant it
                        // recorded, undone or not.
                        let position = model.admitted.iter().position(|e| *e == entry).unwrap();
                        model.admitted[position].1 = 0;
                        log.undo(receipt);
                    }
                }
                Op::Peek { n } => {
                    let want = model.clone().check(n, now);
                    prop_assert_eq!(Outcome::of(&log.peek_n_at(n, at(now))), want);
                }
            }
            let (remaining, reset_after) = model.peek(now);
            let status = log.snapshot_at(at(now));
            prop_assert_eq!((status.remaining(), status.reset_after().as_ticks()), (remaining, reset_after));
        }
    }
}

#[test]
fn a_log_tier_is_all_or_nothing() {
    // 3 per 10 ticks, exactly; and a GCRA of 2 per 10 ticks: the GCRA binds
    // on the third unit, and the log keeps only what was admitted.
    let log = SharedSlidingLog::<1, 4>::new(window_quota(3, 10)).unwrap();
    let gcra = Gcra::<1>::new(Quota::with_period(
        2,
        ratecore::Duration::<1>::from_ticks(10),
    ))
    .unwrap();
    let tiers = Tiers::new([Tier::new("log", &log), Tier::new("gcra", &gcra)]);
    assert!(tiers.check_tiered_n_at(2, at(0)).is_ok());
    let refused = tiers.check_tiered_n_at(1, at(0)).unwrap_err();
    assert_eq!(refused.name, "gcra");
    // The refusal charged the log nothing: one unit is still free there.
    assert_eq!(log.snapshot_at(at(0)).remaining(), 1);
}
