//! Defects the fuzz targets found, each minimized to the calls that show it.

use ratecore::algorithms::{GcraConfig, TokenBucketConfig};
use ratecore::kernel::{Carry, Reconfigurable, Reconfigure};
use ratecore::{Duration, Instant, Limiter, Quota, RefillMode};

const MS: u64 = 1_000;

fn t(ms: u64) -> Instant<MS> {
    Instant::<MS>::from_ticks(ms)
}

fn quota(count: u32) -> Quota {
    Quota::with_period(count, Duration::<MS>::from_ticks(2_522)).burst(10)
}

/// Units admitted at instant `now` by `checks` of the given sizes.
fn admitted_at<L: Limiter<MS>>(limiter: &L, checks: &[u32], now: u64) -> u32 {
    checks
        .iter()
        .filter(|&&n| limiter.check_n_at(n, t(now)).is_ok())
        .sum()
}

/// Units admitted at 6.151 s by a limiter that admitted 7 units at 10 s,
/// changed to its plan 1 by `Carry::Full` at a stale 4.352 s, admitted what
/// it would of 9 units at 6.151 s, changed back by `Carry::InUse` at a stale
/// 2.311 s, and admitted what it would of 7 more at 6.151 s.
fn after_a_stale_full_change<A: Reconfigure<MS>>(plans: [A; 2]) -> u32 {
    let limiter = Reconfigurable::new(plans);
    limiter.check_n_at(7, t(10_000)).unwrap();
    limiter.switch_at(1, Carry::Full, t(4_352)).unwrap();
    let first = admitted_at(&limiter, &[9], 6_151);
    limiter.switch_at(0, Carry::InUse, t(2_311)).unwrap();
    first + admitted_at(&limiter, &[7], 6_151)
}

/// fuzz target `reconfigure`: a `Carry::Full` change at a stale instant left
/// the state fresh (word 0) although the limiter had seen 10 s, so checks at
/// a stale 6.151 s booked their units there; the next change counted the
/// units in use at 10 s, found them drained, and forgave them. Two plans of
/// burst 10 then admitted 16 units at the one instant 6.151 s. A full start
/// is full from the change's instant (the latest seen) on, and no looser
/// before it.
#[test]
fn a_full_change_at_a_stale_instant_forgives_nothing_later() {
    let gcra = |count| GcraConfig::<MS>::new(quota(count)).unwrap();
    let units = after_a_stale_full_change([gcra(1), gcra(10)]);
    assert!(
        units <= 10,
        "{units} units at one instant, with two plans of burst 10"
    );
    // The same for token buckets of both refill modes.
    for mode in [RefillMode::Greedy, RefillMode::Interval] {
        let bucket = |count| TokenBucketConfig::<MS>::new(quota(count), mode).unwrap();
        let units = after_a_stale_full_change([bucket(1), bucket(10)]);
        assert!(units <= 10, "{mode:?}: {units} units at one instant");
    }
}

/// fuzz target `gcra` (the kit's `requota`): `set_quota_at` at a stale
/// instant to a faster rate forgives units in use at the latest instant.
/// 9 units per 639 ms (71 ms each) with a burst of 11; 3 units at 10 s; a
/// change to 16 per 639 ms (40 ms each) with a burst of 16 at a stale 9.5 s
/// counts 11 units in use there (the 3 units and the 0.5 s before them),
/// books them at 40 ms each from 9.5 s, and they have drained by 9.94 s: at
/// 10 s the new burst is whole again. A plain limiter does not know the
/// latest instant it has seen, and its state word is the same after "3
/// units at 10 s" as after "10 units at 9.5 s", so no rule over the word
/// alone is both exact at a fresh instant and strict at a stale one: the
/// docs of `set_quota_at` state the bound, `(r_new - r_old) * 0.5 s` = 5.5,
/// so at most 6 units, and point to `Reconfigurable`, which keeps the
/// latest instant and forgives nothing. Both are checked here (and over
/// random quotas in `tests/set_quota_stale.rs`).
#[test]
fn a_stale_quota_change_to_a_faster_rate_forgives_at_most_the_stated_bound() {
    let slow = Quota::with_period(9, Duration::<MS>::from_ticks(639)).burst(11);
    let fast = Quota::with_period(16, Duration::<MS>::from_ticks(639)).burst(16);
    // At 10 s, after the change at 10 s itself: 3 units in use, 13 left.
    let fresh = 16 - 3;

    let mut g = ratecore::Gcra::<MS>::new(slow).unwrap();
    g.check_n_at(3, t(10_000)).unwrap();
    g.set_quota_at(fast, t(9_500)).unwrap();
    let more = admitted_at(&g, &[1; 32], 10_000);
    assert!(
        more > fresh,
        "the forgiveness the docs describe: {more} units"
    );
    assert!(
        more <= fresh + 6,
        "{more} units at 10 s, over the stated bound"
    );

    let r = Reconfigurable::new([
        GcraConfig::<MS>::new(slow).unwrap(),
        GcraConfig::<MS>::new(fast).unwrap(),
    ]);
    r.check_n_at(3, t(10_000)).unwrap();
    r.switch_at(1, Carry::InUse, t(9_500)).unwrap();
    assert_eq!(admitted_at(&r, &[1; 32], 10_000), fresh);
}
