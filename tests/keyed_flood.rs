//! A key flood: one million distinct attacker keys against a 1,024-slot
//! table while 100 legitimate keys keep up steady traffic.
//!
//! Simulated time in milliseconds. The 100 legitimate keys (plan "pro", 20
//! per second, burst 20) each check every 40 ms, a little faster than their
//! rate, so they stay active (never idle) and no attacker can take their
//! slots. From 40 ms on, 20 new attacker keys a millisecond (plan "free", 10
//! per second: each holds a slot for 100 ms after its one check) want about
//! 2,000 slots at once: the table is full most of the time.
//!
//! Demands: every legitimate decision equals its reference limiter's
//! (tests/model/keyed_gcra.rs); every attacker is either admitted as a fresh
//! key or refused for want of room, never charged to another key; a refusal
//! happens only with at least a window's worth of active keys; the
//! full-table counter equals the refusals seen; and every second the table
//! holds exactly the keys the model says are active.

use ratecore_testkit::model::keyed_gcra as keyed_gcra_model;

use std::collections::VecDeque;

use keyed_gcra_model::{Answer, PlanSpec, RefGcra, observe};
use ratecore::{Gcra, Instant, KeyedLimiter, keyed::Plan, keyed::WhenFull};

const HZ: u64 = 1_000;
const SLOTS: usize = 1_024;
const LEGIT: u64 = 100;
const ATTACKERS: u64 = 1_000_000;
const ATTACKERS_PER_MS: u64 = 20;
const LEGIT_EVERY_MS: u64 = 40;

const FREE_SPEC: PlanSpec = PlanSpec {
    count: 10,
    period: 1_000,
    burst: 10,
};
const PRO_SPEC: PlanSpec = PlanSpec {
    count: 20,
    period: 1_000,
    burst: 20,
};

fn gcra(spec: PlanSpec) -> Gcra<HZ> {
    Gcra::new(spec.quota::<HZ>()).unwrap()
}

#[test]
fn a_million_attacker_keys_change_no_legitimate_decision() {
    let free: Plan<2> = Plan::new(0).unwrap();
    let pro: Plan<2> = Plan::new(1).unwrap();
    let table: KeyedLimiter<Gcra<HZ>, HZ, SLOTS, 2> = KeyedLimiter::new(
        [gcra(FREE_SPEC), gcra(PRO_SPEC)],
        [0x5eed_0000_dead_beef, 0x0123_4567_89ab_cdef],
        WhenFull::Deny,
    );
    let mut legit: Vec<RefGcra> = (0..LEGIT).map(|_| RefGcra::new(PRO_SPEC)).collect();
    let fresh_attacker = RefGcra::new(FREE_SPEC).clone().check(1, 0);
    // Instants (ms) at which admitted attackers go idle, oldest first.
    let mut attackers_active: VecDeque<u64> = VecDeque::new();
    let (mut next_attacker, mut admitted, mut refused) = (0u64, 0u64, 0u64);
    let (mut legit_checks, mut legit_denied) = (0u64, 0u64);

    let mut now = 0u64;
    while next_attacker < ATTACKERS {
        let at = Instant::<HZ>::from_ticks(now);
        while attackers_active.front().is_some_and(|&idle| idle <= now) {
            attackers_active.pop_front();
        }
        // Legitimate keys, staggered over the 40 ms period.
        for key in (0..LEGIT).filter(|key| now % LEGIT_EVERY_MS == key % LEGIT_EVERY_MS) {
            let observed = observe(&table.check_at(&key, pro, at));
            let expected = legit[key as usize].check(1, now);
            assert_eq!(observed, expected, "legitimate key {key} at {now} ms");
            legit_checks += 1;
            legit_denied += u64::from(matches!(expected, Answer::RateLimited { .. }));
        }
        // The flood starts once every legitimate key has been seen.
        if now >= LEGIT_EVERY_MS {
            for _ in 0..ATTACKERS_PER_MS {
                let key = u64::MAX - next_attacker; // never a legitimate key
                next_attacker += 1;
                match observe(&table.check_at(&key, free, at)) {
                    Answer::NoRoom => {
                        refused += 1;
                        let active = attackers_active.len() + LEGIT as usize;
                        assert!(
                            active >= table.probe_window(),
                            "refused with only {active} active keys at {now} ms"
                        );
                    }
                    answer => {
                        // Like a fresh limiter at any instant (remaining and
                        // reset_after are relative): never another key's state.
                        assert_eq!(answer, fresh_attacker, "attacker {key} at {now} ms");
                        admitted += 1;
                        attackers_active.push_back(now + 100);
                    }
                }
            }
        }
        if now % 1_000 == 999 {
            while attackers_active.front().is_some_and(|&idle| idle <= now) {
                attackers_active.pop_front();
            }
            assert_eq!(
                table.occupancy_at(at),
                attackers_active.len() + LEGIT as usize,
                "the table holds exactly the active keys at {now} ms"
            );
        }
        now += 1;
    }

    assert_eq!(table.full_count(), refused);
    assert_eq!(admitted + refused, ATTACKERS);
    // The flood filled the table, and idle attacker slots were reused
    // hundreds of times each.
    assert!(refused > 100_000, "refused only {refused}");
    assert!(admitted > 300 * SLOTS as u64, "admitted only {admitted}");
    // Legitimate traffic ran above its rate: some of it was rate limited.
    assert!(legit_denied > 0 && legit_checks > 100_000);
    eprintln!(
        "{ATTACKERS} attackers: {admitted} admitted, {refused} refused (table full); \
         {legit_checks} legitimate checks, {legit_denied} rate limited, all as the model"
    );
}
