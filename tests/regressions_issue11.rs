//! Issue 11: three over-admission defects and two wrong docs, each kept as a
//! regression test. The sequences that no longer compile (a `reset` between
//! a charge and its undo) are `compile_fail` doctests on `Receipt` and
//! `Reservation`; here are the sequences that are still allowed, and that
//! they are exact.

use core::fmt::Write;

use ratecore::http::FixedBuf;
use ratecore::{
    ConcurrencyLimit, FixedWindow, Gcra, Instant, KeyedLimiter, Limiter, Quota, RefillMode,
    SlidingWindow, Tiers, TokenBucket, compose::Tier, kernel::Charge, keyed::Plan, keyed::WhenFull,
};
use ratecore_testkit::{at, ticks};

const MS: u64 = 1_000;

/// The instant `ms` milliseconds after tick 0.
fn t(ms: u64) -> Instant<MS> {
    at(ms)
}

// --- 1. A quota change at a stale instant forgives nothing. ---

/// 1/s, burst 3: `used` units charged at `used_at`, then the same quota set
/// again at t = 0.
fn used_then_same_quota(used: u32, used_at: u64) -> Gcra<MS> {
    let mut g = Gcra::<MS>::new(Quota::per_second(1).burst(3)).unwrap();
    g.check_n_at(used, t(used_at)).unwrap();
    g.set_quota_at(Quota::per_second(1).burst(3), t(0)).unwrap();
    g
}

#[test]
fn gcra_set_quota_at_a_stale_instant_keeps_the_units_in_use() {
    let g = used_then_same_quota(3, 10_000);
    assert_eq!(g.snapshot_at(t(10_000)).remaining(), 0);
    assert!(g.check_at(t(10_000)).is_err());
    // One unit back per second, as before the change.
    assert_eq!(g.snapshot_at(t(11_000)).remaining(), 1);
}

#[test]
fn token_bucket_set_quota_at_a_stale_instant_keeps_the_tokens_in_use() {
    for mode in [RefillMode::Greedy, RefillMode::Interval] {
        let mut b = TokenBucket::<MS>::new(Quota::per_second(1).burst(3), mode).unwrap();
        b.check_n_at(3, t(10_000)).unwrap();
        b.set_quota_at(Quota::per_second(1).burst(3), t(0)).unwrap();
        assert_eq!(b.available_at(t(10_000)), 0, "{mode:?}");
        assert!(b.check_at(t(10_000)).is_err(), "{mode:?}");
        assert_eq!(b.available_at(t(11_000)), 1, "{mode:?}");
    }
}

#[test]
fn set_quota_keeps_units_booked_ahead_by_reservations() {
    // Burst 2 at 1/s: 2 now, and 2 more booked for t = 1 s and 2 s.
    let mut g = Gcra::<MS>::new(Quota::per_second(1).burst(2)).unwrap();
    g.check_n_at(2, t(0)).unwrap();
    let r1 = g.reserve_n_at(1, t(0), ticks(5_000)).unwrap();
    let r2 = g.reserve_n_at(1, t(0), ticks(5_000)).unwrap();
    assert_eq!((r1.ready_at(), r2.ready_at()), (t(1_000), t(2_000)));
    drop((r1, r2)); // used at their instants
    // The same quota again, at t = 0: nothing is forgiven, so the next unit
    // still waits for t = 3 s (it used to be t = 1 s, a unit used twice).
    g.set_quota_at(Quota::per_second(1).burst(2), t(0)).unwrap();
    ratecore_testkit::assert_next_unit_at(&g, 0, 3_000);
}

#[test]
fn set_quota_at_a_fresh_instant_is_unchanged() {
    // The stale fix moves nothing for a current instant: 2 of 3 used at
    // t = 0, carried over at t = 0.
    let g = used_then_same_quota(2, 0);
    assert_eq!(g.snapshot_at(t(0)).remaining(), 1);
    assert_eq!(g.snapshot_at(t(2_000)).remaining(), 3);
}

// --- 2. No undo gives back units it did not take. ---

#[test]
fn cancel_then_reset_is_exact() {
    // The allowed order of the sequence: the cancel before the reset.
    let mut g = Gcra::<MS>::new(Quota::per_second(1).burst(2)).unwrap();
    let r = g.reserve_n_at(2, t(0), ticks(0)).unwrap();
    assert_eq!(r.cancel(), 2);
    g.reset();
    g.check_n_at(2, t(0)).unwrap();
    assert!(g.check_n_at(1, t(0)).is_err(), "2 units at t = 0, burst 2");
}

#[test]
fn undo_then_reset_is_exact() {
    let mut w = FixedWindow::<MS>::new(Quota::per_second(1)).unwrap();
    let (_, rc) = w.charge_n_at(1, t(10)).unwrap();
    assert!(w.undo(rc));
    w.reset();
    w.check_at(t(10)).unwrap();
    assert!(
        w.check_at(t(10)).is_err(),
        "2 in window 0 with a limit of 1"
    );
}

#[test]
fn a_dropped_receipt_frees_the_limiter_for_a_reset() {
    let mut g = Gcra::<MS>::new(Quota::per_second(1).burst(2)).unwrap();
    let (_, receipt) = g.charge_n_at(2, t(0)).unwrap();
    assert_eq!(receipt.units(), 2);
    let _ = receipt; // the charge is kept
    g.reset();
    assert_eq!(g.snapshot_at(t(0)).remaining(), 2);
}

#[test]
fn an_undo_after_another_check_keeps_the_charge() {
    // Without a reset, the state cannot come back to the charged word
    // except through units operations: a later check leaves the charge kept.
    let g = Gcra::<MS>::new(Quota::per_second(1).burst(3)).unwrap();
    let (_, receipt) = g.charge_n_at(1, t(0)).unwrap();
    g.check_at(t(0)).unwrap();
    assert!(!g.undo(receipt));
    assert_eq!(g.snapshot_at(t(0)).remaining(), 1);
}

#[test]
fn receipt_nothing_is_a_receipt_of_any_lifetime() {
    let g = Gcra::<MS>::new(Quota::per_second(1)).unwrap();
    assert!(g.undo(ratecore::kernel::Receipt::NOTHING));
    let (_, receipt) = g.charge_n_at(0, t(0)).unwrap();
    assert_eq!(receipt, ratecore::kernel::Receipt::NOTHING);
}

// --- 3. A check of 0 units is always admitted and changes nothing. ---

#[test]
fn zero_units_after_a_reservation_past_the_burst() {
    let g = Gcra::<MS>::new(Quota::per_second(10).burst(2)).unwrap();
    g.check_n_at(2, t(0)).unwrap();
    let _r = g.reserve_n_at(1, t(0), ticks(1_000)).unwrap();
    let status = g.check_n_at(0, t(0)).unwrap();
    assert_eq!(status.remaining(), 0);
    assert_eq!(status.reset_after().as_ticks(), 300);
    assert_eq!(g.peek_n_at(0, t(0)), Ok(status));
    let (charged, receipt) = g.charge_n_at(0, t(0)).unwrap();
    assert_eq!((charged, receipt.units()), (status, 0));
    // Nothing changed: the next unit is still due at 200 ms.
    let denied = g.check_at(t(0)).unwrap_err();
    assert_eq!(denied.retry_after().unwrap().as_ticks(), 200);
    // Reserving nothing is ready at once.
    let none = g.reserve_n_at(0, t(0), ticks(0)).unwrap();
    assert_eq!((none.ready_at(), none.cancel()), (t(0), 0));
}

#[test]
fn zero_units_at_a_stale_instant() {
    let g = Gcra::<MS>::new(Quota::per_second(1).burst(2)).unwrap();
    g.check_n_at(2, t(10_000)).unwrap();
    assert_eq!(g.check_n_at(0, t(0)).unwrap().remaining(), 0);
    for mode in [RefillMode::Greedy, RefillMode::Interval] {
        let b = TokenBucket::<MS>::new(Quota::per_second(1).burst(2), mode).unwrap();
        b.check_n_at(2, t(10_000)).unwrap();
        assert_eq!(b.check_n_at(0, t(0)).unwrap().remaining(), 0, "{mode:?}");
        assert_eq!(b.peek_n_at(0, t(0)).unwrap().remaining(), 0, "{mode:?}");
    }
    // A sliding window weighs the previous count fully at the start of a
    // window and at stale instants: 2 + 1 in use against a limit of 2.
    let s = SlidingWindow::<MS>::new(Quota::per_second(2)).unwrap();
    s.check_n_at(2, t(500)).unwrap();
    s.check_n_at(1, t(1_999)).unwrap();
    for stale in [t(1_000), t(500)] {
        assert_eq!(s.check_n_at(0, stale).unwrap().remaining(), 0);
        assert_eq!(s.peek_n_at(0, stale).unwrap().remaining(), 0);
        assert!(s.check_at(stale).is_err());
    }
    let w = FixedWindow::<MS>::new(Quota::per_second(2)).unwrap();
    w.check_n_at(2, t(1_500)).unwrap();
    assert_eq!(w.check_n_at(0, t(0)).unwrap().remaining(), 0);
    let c = ConcurrencyLimit::new(1).unwrap();
    Limiter::<MS>::check_n_at(&c, 1, t(0)).unwrap();
    assert!(Limiter::<MS>::check_n_at(&c, 0, t(0)).is_ok());
}

#[test]
fn zero_units_in_a_keyed_table_at_a_stale_instant() {
    let gcra = Gcra::<MS>::new(Quota::per_second(1).burst(2)).unwrap();
    let table = KeyedLimiter::<_, MS, 4>::new([gcra], [1, 2], WhenFull::Deny);
    table.check_n_at(&"k", Plan::FIRST, 2, t(10_000)).unwrap();
    assert!(table.check_n_at(&"k", Plan::FIRST, 0, t(0)).is_ok());
    assert!(table.check_n_at(&"k", Plan::FIRST, 1, t(10_000)).is_err());
}

#[test]
fn a_tier_asked_for_nothing_does_not_veto() {
    let minute = Gcra::<MS>::new(Quota::per_second(10).burst(2)).unwrap();
    let tokens = Gcra::<MS>::new(Quota::per_second(10).burst(2)).unwrap();
    tokens.check_n_at(2, t(0)).unwrap();
    let _booked = tokens.reserve_n_at(1, t(0), ticks(1_000)).unwrap();
    let plan = Tiers::new([Tier::new("requests", &minute), Tier::new("tokens", &tokens)]);
    let admitted = plan.check_costs_at([1, 0], t(0)).unwrap();
    assert_eq!(admitted.name, "tokens"); // the one with nothing left binds
    assert_eq!(minute.snapshot_at(t(0)).remaining(), 1);
    // The tokens tier still owes its booking: a unit is still refused.
    assert!(plan.check_costs_at([0, 1], t(0)).is_err());
    assert_eq!(minute.snapshot_at(t(0)).remaining(), 1);
}

// --- 4. FixedBuf is all or nothing per formatted value. ---

#[test]
fn a_failed_write_leaves_the_buffer_as_it_was() {
    let mut buf = FixedBuf::<8>::new();
    write!(buf, "ab").unwrap();
    let (name, value) = ("Ret", "ry-After");
    assert!(write!(buf, "{name}: {value}").is_err());
    assert_eq!(buf.as_str(), "ab");
    // What fits is written whole.
    let (name, value) = ("R", 12);
    write!(buf, "{name}: {value}").unwrap();
    assert_eq!(buf.as_str(), "abR: 12");
}
