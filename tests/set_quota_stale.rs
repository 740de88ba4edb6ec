//! `set_quota_at` at a stale instant: what the docs of
//! `Gcra::set_quota_at` and `TokenBucket::set_quota_at` promise, against the
//! same change made at the latest instant. Where the units in use at `now`
//! fit the new burst, the same or a slower rate forgives nothing and a
//! faster one at most `(r_new - r_old) * (latest - now)` units, rounded up;
//! where they are capped at the new burst, at most `r_new * (latest - now)`.
//! `Reconfigurable`, which keeps the latest instant, forgives nothing.

use proptest::prelude::*;
use ratecore::kernel::{Carry, Reconfigurable};
use ratecore::{Duration, Gcra, Limiter, Quota, RefillMode, TokenBucket};
use ratecore_testkit::{at, config};

const MS: u64 = 1_000;

/// A quota of `count` units per `period` ms, burst `burst`.
fn quota((count, period, burst): (u32, u64, u32)) -> Quota {
    Quota::with_period(count, Duration::<MS>::from_ticks(period)).burst(burst)
}

fn quotas() -> impl Strategy<Value = (u32, u64, u32)> {
    (1u32..=20, 1u64..=5_000, 1u32..=20)
}

/// A change from quota `old` to `new` after `used` units at `latest`, made
/// `staleness` ticks before `latest`: what both properties draw.
type Change = ((u32, u64, u32), (u32, u64, u32), u32, u64, u64);

fn changes() -> impl Strategy<Value = Change> {
    (quotas(), quotas(), 0u32..=20, 0u64..=20_000, 0u64..=20_000)
}

/// `count * ticks / period`, rounded up: the units a rate of `count` per
/// `period` ticks refills in `ticks`.
fn refilled(count: u32, period: u64, ticks: u64) -> u128 {
    (u128::from(count) * u128::from(ticks)).div_ceil(u128::from(period))
}

/// The documented most a change at `now`, `staleness` ticks before the
/// latest instant, forgives where `in_use` units of `old` are in use at the
/// latest instant: `(r_new - r_old) * staleness` units, rounded up, where
/// the units in use at `now` fit the new burst (none where that is not
/// positive), and `r_new * staleness` otherwise.
fn forgivable(old: (u32, u64, u32), new: (u32, u64, u32), in_use: u32, staleness: u64) -> u32 {
    let at_now = u128::from(in_use) + refilled(old.0, old.1, staleness);
    let units = if at_now <= u128::from(new.2) {
        let faster = u128::from(new.0) * u128::from(old.1);
        let slower = u128::from(old.0) * u128::from(new.1);
        (u128::from(staleness) * faster.saturating_sub(slower))
            .div_ceil(u128::from(new.1) * u128::from(old.1))
    } else {
        refilled(new.0, new.1, staleness)
    };
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// The units `limiter` has left at `latest` after a check of `used` units
/// there and then `change` (a change of quota at some instant): the one
/// sequence every test here runs, fresh or stale.
fn left_after<L: Limiter<MS>>(
    mut limiter: L,
    used: u32,
    latest: u64,
    change: impl FnOnce(&mut L),
) -> u32 {
    let _ = limiter.check_n_at(used, at(latest));
    change(&mut limiter);
    limiter.snapshot_at(at(latest)).remaining()
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn a_stale_change_forgives_at_most_the_faster_rate_times_the_staleness(
        (old, new, used, latest, staleness) in changes(),
    ) {
        let stale = latest.saturating_sub(staleness);
        // The units the check leaves in use at `latest` (a check above the
        // burst admits nothing).
        let in_use = if used <= old.2 { used } else { 0 };
        let bound = forgivable(old, new, in_use, latest - stale);
        let gcra = |when: u64| {
            left_after(Gcra::<MS>::new(quota(old)).unwrap(), used, latest, |g| {
                g.set_quota_at(quota(new), at(when)).unwrap();
            })
        };
        let (fresh, late) = (gcra(latest), gcra(stale));
        prop_assert!(late <= fresh + bound, "Gcra: {late} left after a stale change, {fresh} after a fresh one, bound {bound}");

        let bucket = |when: u64| {
            let greedy = TokenBucket::<MS>::new(quota(old), RefillMode::Greedy).unwrap();
            left_after(greedy, used, latest, |b| {
                b.set_quota_at(quota(new), at(when)).unwrap();
            })
        };
        let (fresh, late) = (bucket(latest), bucket(stale));
        prop_assert!(late <= fresh + bound, "greedy bucket: {late} left after a stale change, {fresh} after a fresh one, bound {bound}");
    }

    #[test]
    fn reconfigurable_forgives_nothing_at_a_stale_change(
        (old, new, used, latest, staleness) in changes(),
    ) {
        let stale = latest.saturating_sub(staleness);
        let reconfigurable = |when: u64| {
            let plans = [
                Gcra::<MS>::new(quota(old)).unwrap(),
                Gcra::<MS>::new(quota(new)).unwrap(),
            ];
            left_after(Reconfigurable::new(plans), used, latest, |r| {
                r.switch_at(1, Carry::InUse, at(when)).unwrap();
            })
        };
        let (fresh, late) = (reconfigurable(latest), reconfigurable(stale));
        prop_assert!(late <= fresh, "{late} left after a stale switch, {fresh} after a fresh one");
    }
}
