//! The limiter traits are dyn-compatible: tiers and generic code hold
//! `&dyn Limiter<HZ>` and `&dyn Charge<HZ>` of any algorithm.

use ratecore::kernel::Charge;
use ratecore::{Gcra, Instant, Limiter, Quota};

#[test]
fn limiter_is_dyn_compatible() {
    let gcra = Gcra::<1_000>::new(Quota::per_second(1)).unwrap();
    let limiter: &dyn Limiter<1_000> = &gcra;
    let now = Instant::<1_000>::from_ticks(0);
    assert!(limiter.check_at(now).is_ok());
    assert!(limiter.check_at(now).is_err());
}

#[test]
fn charge_is_dyn_compatible() {
    let gcra = Gcra::<1_000>::new(Quota::per_second(1)).unwrap();
    let charge: &dyn Charge<1_000> = &gcra;
    let now = Instant::<1_000>::from_ticks(0);
    let (_, receipt) = charge.charge_n_at(1, now).unwrap();
    assert!(charge.peek_n_at(1, now).is_err());
    assert!(charge.undo(receipt));
    assert!(charge.peek_n_at(1, now).is_ok());
}
