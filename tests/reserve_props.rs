//! Reservations: ready instants equal the reference model's and respect the
//! rate and the burst; cancelling restores capacity exactly (while the
//! limiter still holds the state the reservation left); a refusal for
//! `max_wait` changes nothing.

use ratecore_testkit::model::tier_gcra as tier_gcra_model;

use proptest::prelude::*;
use ratecore::{
    Denied, Gcra, Limiter, Quota, RefillMode, TokenBucket, kernel::Charge, kernel::Receipt,
};
use ratecore_testkit::at;
use ratecore_testkit::ticks;
use tier_gcra_model::{Answer, Kind, Spec, from_decision, from_status};

const HZ: u64 = 1_000;

fn spec(kinds: &'static [Kind]) -> impl Strategy<Value = Spec> {
    ratecore_testkit::strategy::tier_spec(kinds, 6)
}

/// Both limiters that can book ahead, behind one face.
enum Lim {
    Gcra(Gcra<HZ>),
    Bucket(TokenBucket<HZ>),
}

/// A live reservation, type-erased for the tests: `(units, ready, cancel, settle)`.
struct Booked<'a> {
    n: u32,
    ready: u64,
    cancel: Box<dyn FnOnce(Option<u32>) -> u32 + 'a>,
}

impl Lim {
    fn new(spec: Spec) -> Self {
        let quota = spec.quota::<HZ>();
        match spec.kind {
            Kind::Gcra => Lim::Gcra(Gcra::new(quota).unwrap()),
            Kind::Greedy => Lim::Bucket(TokenBucket::new(quota, RefillMode::Greedy).unwrap()),
            Kind::Interval => Lim::Bucket(TokenBucket::new(quota, RefillMode::Interval).unwrap()),
        }
    }

    fn limiter(&self) -> &dyn Limiter<HZ> {
        match self {
            Lim::Gcra(l) => l,
            Lim::Bucket(l) => l,
        }
    }

    fn charger(&self) -> &dyn Charge<HZ> {
        match self {
            Lim::Gcra(l) => l,
            Lim::Bucket(l) => l,
        }
    }

    /// `reset`: only with no reservation or receipt alive (it takes `&mut`).
    fn reset(&mut self) {
        match self {
            Lim::Gcra(l) => l.reset(),
            Lim::Bucket(l) => l.reset(),
        }
    }

    /// `set_quota_at` to `spec`'s quota (its kind is kept).
    fn set_quota(&mut self, spec: Spec, now: u64) {
        let quota = spec.quota::<HZ>();
        match self {
            Lim::Gcra(l) => l.set_quota_at(quota, at(now)).unwrap(),
            Lim::Bucket(l) => l.set_quota_at(quota, at(now)).unwrap(),
        }
    }

    /// Reserves; on success the booking can later be cancelled (`None`) or
    /// settled (`Some(used)`), returning the units given back.
    fn reserve(&self, n: u32, now: u64, max_wait: u64) -> Result<Booked<'_>, Denied<HZ>> {
        fn finish<'a, const H: u64, A: ratecore::kernel::Algorithm<H>>(
            r: ratecore::kernel::Reservation<'a, H, A>,
        ) -> Booked<'a> {
            Booked {
                n: r.units(),
                ready: r.ready_at().as_ticks(),
                cancel: Box::new(move |used| match used {
                    None => r.cancel(),
                    Some(used) => r.settle(used),
                }),
            }
        }
        match self {
            Lim::Gcra(l) => l.reserve_n_at(n, at(now), ticks(max_wait)).map(finish),
            Lim::Bucket(l) => l.reserve_n_at(n, at(now), ticks(max_wait)).map(finish),
        }
    }

    /// What the limiter reports at a few instants from `now`.
    fn probe(&self, now: u64) -> Vec<Answer> {
        [0, 1, 499, 1_000, 2_999, 60_000, 1_000_000]
            .iter()
            .map(|d| from_status(&self.limiter().snapshot_at(at(now + d))))
            .collect()
    }
}

#[derive(Clone, Debug)]
enum Op {
    Advance(u64),
    /// The clock back (a stale instant; the next `Advance` moves on from it).
    Back(u64),
    /// A charge with a receipt (`Charge::charge_n_at`).
    Charge(u32),
    /// Undo the live receipt at this index (modulo their number).
    Undo(usize),
    /// `reset`, once every live reservation and receipt is gone (kept: their
    /// units stay used).
    Reset,
    /// `set_quota_at(now)`, likewise: to the same quota (`None`), or to
    /// another count and burst over the same period.
    SetQuota(Option<(u32, u32)>),
    Check(u32),
    Reserve(u32, u64),
    /// Reserve with `max_wait` at exactly the wait needed (`false`), or one
    /// tick short of it (`true`).
    ReserveAtEdge(u32, bool),
    /// Cancel (`None`) or settle (`Some(used)`) the live reservation at this
    /// index (modulo their number).
    Cancel(usize, Option<u32>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => prop_oneof![0u64..100, 0u64..5_000, 0u64..70_000].prop_map(Op::Advance),
        2 => (0u32..=3).prop_map(Op::Check),
        4 => (0u32..=7, prop_oneof![Just(0u64), 0u64..3_000, 0u64..200_000]).prop_map(|(n, w)| Op::Reserve(n, w)),
        2 => (0usize..8, prop::option::of(0u32..=7)).prop_map(|(i, u)| Op::Cancel(i, u)),
        2 => (0u32..=7, any::<bool>()).prop_map(|(n, short)| Op::ReserveAtEdge(n, short)),
        1 => prop_oneof![0u64..100, 0u64..5_000, 0u64..70_000].prop_map(Op::Back),
        1 => (0u32..=3).prop_map(Op::Charge),
        1 => (0usize..8).prop_map(Op::Undo),
        1 => Just(Op::Reset),
        1 => prop::option::of((1u32..=5, 1u32..=6)).prop_map(Op::SetQuota),
    ]
}

impl Op {
    /// Whether the operation takes the limiter by `&mut` (so every borrow of
    /// it, reservations and receipts, must be gone first).
    fn is_exclusive(&self) -> bool {
        matches!(self, Op::Reset | Op::SetQuota(_))
    }

    /// The clock after this operation, from `now`.
    fn clock(&self, now: u64) -> u64 {
        match *self {
            Op::Advance(dt) => now + dt,
            Op::Back(dt) => now.saturating_sub(dt),
            _ => now,
        }
    }
}

/// Removes the live item at `i` (modulo their number), if any is live.
fn take<T>(items: &mut Vec<T>, i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items.remove(i % items.len()))
}

/// Splits `ops` into runs of shared-borrow operations, each followed by the
/// exclusive operation that ends it (if any).
fn runs(ops: &[Op]) -> Vec<(&[Op], Option<&Op>)> {
    let mut out = Vec::new();
    let mut rest = ops;
    while !rest.is_empty() {
        let end = rest.iter().position(Op::is_exclusive).unwrap_or(rest.len());
        let (run, tail) = rest.split_at(end);
        out.push((run, tail.first()));
        rest = tail.get(1..).unwrap_or(&[]);
    }
    out
}

fn admits(answer: Answer) -> bool {
    matches!(answer, Answer::Admit { .. })
}

/// A reservation in the model: the GCRA states before and after it.
struct ModelBooking {
    n: u32,
    ready: u64,
    before: tier_gcra_model::Gcra,
    after: tier_gcra_model::Gcra,
}

proptest! {
    #![proptest_config(ratecore_testkit::config(400))]

    /// Every answer (ready instants, refusals, units given back, statuses)
    /// equals the reference GCRA's, where a booking for `r` is a check
    /// admitted at the first instant `r` at which it succeeds, and a cancel
    /// (or an undo) gives everything back iff the limiter still holds the
    /// state the booking (or charge) left. Instants may go back (stale
    /// readings), checks of 0 units are always admitted, and a reset makes
    /// both fresh (only once every reservation and receipt is gone: `reset`
    /// takes `&mut`). A quota change is not modelled here: see
    /// `ready_instants_respect_rate_and_burst`.
    #[test]
    fn reservations_match_the_model(
        spec in spec(&[Kind::Gcra, Kind::Greedy]),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let mut lim = Lim::new(spec);
        let mut model = tier_gcra_model::Gcra::new(spec.count, spec.period, spec.burst);
        let mut now = 0u64;
        for (run, exclusive) in runs(&ops) {
            let mut live: Vec<(Booked<'_>, ModelBooking)> = Vec::new();
            let mut receipts: Vec<(Receipt<'_>, ModelBooking)> = Vec::new();
            for op in run.iter().cloned() {
                match op {
                    Op::Advance(_) | Op::Back(_) => now = op.clock(now),
                    Op::Check(n) => {
                        prop_assert_eq!(from_decision(&lim.limiter().check_n_at(n, at(now))), model.check(n, now));
                    }
                    Op::Charge(n) => {
                        let before = model;
                        let want = model.check(n, now);
                        let got = lim.charger().charge_n_at(n, at(now));
                        let receipt = got.as_ref().ok().map(|&(_, r)| r);
                        prop_assert_eq!(from_decision(&got.map(|(s, _)| s)), want);
                        if let Some(receipt) = receipt {
                            prop_assert_eq!(receipt.units(), n);
                            receipts.push((receipt, ModelBooking { n, ready: now, before, after: model }));
                        }
                    }
                    Op::Undo(i) => {
                        let Some((receipt, m)) = take(&mut receipts, i) else {
                            continue;
                        };
                        // A charge of nothing has nothing to undo; otherwise
                        // exactly while the state is the one it left.
                        let want = m.n == 0 || model == m.after;
                        if want {
                            model = if m.n == 0 { model } else { m.before };
                        }
                        prop_assert_eq!(lim.charger().undo(receipt), want);
                    }
                    Op::Reserve(..) | Op::ReserveAtEdge(..) => {
                        let (n, max_wait) = match op {
                            Op::Reserve(n, max_wait) => (n, max_wait),
                            Op::ReserveAtEdge(n, short) => match model.decide(n, now).0 {
                                Answer::Deny { retry_after, .. } => (n, retry_after - u64::from(short)),
                                _ => (n, 0),
                            },
                            _ => unreachable!(),
                        };
                        let got = lim.reserve(n, now, max_wait);
                        let before = model;
                        let ready = match model.decide(n, now).0 {
                            Answer::Admit { .. } => Some(now),
                            Answer::Deny { retry_after, .. } if retry_after <= max_wait => Some(now + retry_after),
                            _ => None,
                        };
                        match (got, ready) {
                            (Ok(booked), Some(ready)) => {
                                prop_assert_eq!(booked.ready, ready);
                                prop_assert_eq!(booked.n, n);
                                // The first instant at which a check succeeds.
                                prop_assert!(admits(model.check(n, ready)));
                                if ready > now {
                                    prop_assert!(!admits(before.decide(n, ready - 1).0));
                                }
                                live.push((booked, ModelBooking { n, ready, before, after: model }));
                            }
                            (Err(denied), None) => {
                                // The refusal is a check's answer now.
                                prop_assert_eq!(from_decision(&Err(denied)), before.decide(n, now).0);
                            }
                            (got, want) => prop_assert!(false, "got {:?}, want ready {:?}", got.map(|b| b.ready), want),
                        }
                    }
                    Op::Cancel(i, used) => {
                        let Some((booked, m)) = take(&mut live, i) else {
                            continue;
                        };
                        prop_assert_eq!((booked.n, booked.ready), (m.n, m.ready));
                        let given = (booked.cancel)(used);
                        let want = if model == m.after {
                            let used = used.unwrap_or(0).min(m.n);
                            model = m.before;
                            prop_assert!(admits(model.check(used, m.ready)));
                            m.n - used
                        } else {
                            0
                        };
                        prop_assert_eq!(given, want);
                    }
                    Op::Reset | Op::SetQuota(_) => unreachable!("runs() ends a run there"),
                }
                prop_assert_eq!(from_status(&lim.limiter().snapshot_at(at(now))), model.status(now).as_status());
            }
            // Every reservation and receipt of the run is gone (their units
            // stay used): the limiter may be taken by `&mut`.
            drop((live, receipts));
            if let Some(Op::Reset) = exclusive {
                lim.reset();
                model = tier_gcra_model::Gcra::new(spec.count, spec.period, spec.burst);
                prop_assert_eq!(from_status(&lim.limiter().snapshot_at(at(now))), model.status(now).as_status());
            }
        }
    }

    /// Units by the instants they are used at (checks and charges at `now`,
    /// bookings at their ready instant, minus what cancels and undos gave
    /// back): no span `[t0, t1]` holds more than `burst + rate * (t1 - t0)`
    /// (interval refill: `burst + count` per period boundary crossed), with
    /// stale instants, checks of 0 units (always admitted), resets (which
    /// forgive what came before them) and quota changes interleaved. A
    /// change to the same quota, at any instant (stale ones too), keeps the
    /// bound across it and never leaves more remaining at any later instant;
    /// a change to another quota starts a new bound, for the new quota.
    #[test]
    fn ready_instants_respect_rate_and_burst(
        spec in spec(&[Kind::Gcra, Kind::Greedy, Kind::Interval]),
        ops in prop::collection::vec(op(), 1..80),
    ) {
        let mut lim = Lim::new(spec);
        // Stretches of one quota and no reset, with their units by instant.
        let mut stretches: Vec<(Spec, Vec<(u64, u32)>)> = vec![(spec, Vec::new())];
        let mut now = 0u64;
        let mut latest = 0u64;
        for (run, exclusive) in runs(&ops) {
            let (_, used) = stretches.last_mut().unwrap();
            let mut live: Vec<(Booked<'_>, usize)> = Vec::new();
            let mut receipts: Vec<(Receipt<'_>, usize)> = Vec::new();
            for op in run.iter().cloned() {
                match op {
                    Op::Advance(_) | Op::Back(_) => now = op.clock(now),
                    Op::Check(n) => match lim.limiter().check_n_at(n, at(now)) {
                        Ok(_) => used.push((now, n)),
                        Err(denied) => prop_assert!(n > 0, "0 units denied: {}", denied),
                    },
                    Op::Charge(n) => match lim.charger().charge_n_at(n, at(now)) {
                        Ok((_, receipt)) => {
                            used.push((now, n));
                            receipts.push((receipt, used.len() - 1));
                        }
                        Err(denied) => prop_assert!(n > 0, "0 units denied: {}", denied),
                    },
                    Op::Undo(i) => {
                        let Some((receipt, slot)) = take(&mut receipts, i) else {
                            continue;
                        };
                        if lim.charger().undo(receipt) {
                            used[slot].1 -= receipt.units();
                        }
                    }
                    Op::Reserve(..) | Op::ReserveAtEdge(..) => {
                        let (n, max_wait) = match op {
                            Op::Reserve(n, max_wait) => (n, max_wait),
                            Op::ReserveAtEdge(n, _) => (n, 0),
                            _ => unreachable!(),
                        };
                        match lim.reserve(n, now, max_wait) {
                            Ok(booked) => {
                                prop_assert!(booked.ready >= now && booked.ready - now <= max_wait);
                                used.push((booked.ready, n));
                                live.push((booked, used.len() - 1));
                            }
                            Err(denied) => prop_assert!(n > 0, "0 units refused: {}", denied),
                        }
                    }
                    Op::Cancel(i, keep) => {
                        let Some((booked, slot)) = take(&mut live, i) else {
                            continue;
                        };
                        let given = (booked.cancel)(keep);
                        used[slot].1 -= given;
                    }
                    Op::Reset | Op::SetQuota(_) => unreachable!("runs() ends a run there"),
                }
                latest = latest.max(now);
            }
            drop((live, receipts));
            let current = stretches.last().unwrap().0;
            match exclusive {
                Some(Op::Reset) => {
                    lim.reset();
                    stretches.push((current, Vec::new()));
                }
                Some(&Op::SetQuota(change)) => {
                    let probe = |lim: &Lim| -> Vec<u32> {
                        [now, latest]
                            .iter()
                            .flat_map(|&t| [0, 1, 499, 1_000, 2_999, 60_000].map(|d| lim.limiter().snapshot_at(at(t + d)).remaining()))
                            .collect()
                    };
                    let before = probe(&lim);
                    match change {
                        None => {
                            lim.set_quota(current, now);
                            let after = probe(&lim);
                            prop_assert!(
                                after.iter().zip(&before).all(|(a, b)| a <= b),
                                "the same quota at {} (latest {}) loosened: {:?} remaining, was {:?}",
                                now, latest, after, before
                            );
                        }
                        Some((count, burst)) => {
                            let next = Spec { count, burst, ..current };
                            lim.set_quota(next, now);
                            stretches.push((next, Vec::new()));
                        }
                    }
                }
                _ => {}
            }
        }
        for (spec, used) in &stretches {
            let (count, period, burst) = (spec.count as u64, spec.period, spec.burst as u64);
            for &(t0, _) in used {
                for &(t1, _) in used {
                    if t1 < t0 {
                        continue;
                    }
                    let units: u64 = used.iter().filter(|(t, _)| (t0..=t1).contains(t)).map(|&(_, n)| n as u64).sum();
                    match spec.kind {
                        Kind::Interval => {
                            let bound = burst + count * (t1 / period - t0 / period);
                            prop_assert!(units <= bound, "{} units in [{}, {}], bound {}, {:?}", units, t0, t1, bound, spec);
                        }
                        _ => {
                            // units <= burst + count * (t1 - t0) / period, in integers.
                            prop_assert!(
                                units * period <= burst * period + count * (t1 - t0),
                                "{} units in [{}, {}], {:?}", units, t0, t1, spec
                            );
                        }
                    }
                }
            }
        }
    }

    /// A reservation cancelled while nothing else happened since, and a
    /// reservation refused for `max_wait`, leave the limiter exactly as a
    /// twin that never saw them: the same reports at every probed instant
    /// and the same answers to every later operation. A settled reservation
    /// leaves it as a twin that checked only the used units at the ready
    /// instant.
    #[test]
    fn cancel_and_refusal_change_nothing(
        spec in spec(&[Kind::Gcra, Kind::Greedy, Kind::Interval]),
        prefix in prop::collection::vec((0u64..5_000, 0u32..=3), 0..12),
        n in 0u32..=7,
        max_wait in prop_oneof![Just(0u64), 0u64..3_000, 0u64..200_000],
        used in prop::option::of(0u32..=7),
        suffix in prop::collection::vec((0u64..5_000, 0u32..=7), 1..20),
    ) {
        let (a, b) = (Lim::new(spec), Lim::new(spec));
        let mut now = 0;
        for &(dt, m) in &prefix {
            now += dt;
            prop_assert_eq!(a.limiter().check_n_at(m, at(now)), b.limiter().check_n_at(m, at(now)));
        }
        let before = a.probe(now);
        match a.reserve(n, now, max_wait) {
            Ok(booked) => {
                let ready = booked.ready;
                let given = (booked.cancel)(used);
                let kept = used.map_or(0, |u| u.min(n));
                prop_assert_eq!(given, n - kept);
                if kept > 0 {
                    prop_assert!(b.limiter().check_n_at(kept, at(ready)).is_ok());
                } else {
                    prop_assert_eq!(a.probe(now), before, "cancelled, yet changed");
                }
            }
            Err(Denied::RateLimited(limited)) => {
                prop_assert!(limited.retry_after().as_ticks() > max_wait);
                prop_assert_eq!(a.probe(now), before, "refused, yet changed");
            }
            Err(Denied::ExceedsBurst(_)) => {
                prop_assert!(n > spec.burst);
                prop_assert_eq!(a.probe(now), before, "refused, yet changed");
            }
            Err(other) => prop_assert!(false, "unexpected {}", other),
        }
        prop_assert_eq!(a.probe(now), b.probe(now));
        for (dt, m) in suffix {
            now += dt;
            prop_assert_eq!(a.limiter().check_n_at(m, at(now)), b.limiter().check_n_at(m, at(now)));
            prop_assert_eq!(a.probe(now), b.probe(now));
        }
    }
}

/// A cancel after something else was admitted gives nothing back, and
/// leaves the limiter alone; cancelling in reverse order (LIFO) restores
/// each earlier booking's state too.
#[test]
fn cancel_after_others_keeps_the_units() {
    let lim = Gcra::<HZ>::new(Quota::per_second(10).burst(2)).unwrap();
    let t0 = at(0);
    let long = ticks(10_000);
    assert!(lim.check_n_at(2, t0).is_ok());
    let first = lim.reserve_n_at(1, t0, long).unwrap();
    let second = lim.reserve_n_at(1, t0, long).unwrap();
    assert_eq!(
        (first.ready_at().as_ticks(), second.ready_at().as_ticks()),
        (100, 200)
    );
    let snapshot = lim.snapshot_at(t0);
    // `second` was booked on top of `first`: `first` cannot come back exactly.
    assert_eq!(first.cancel(), 0);
    assert_eq!(lim.snapshot_at(t0), snapshot);
    // `second` is the latest: it comes back, and then the next booking is
    // ready where `second` was.
    assert_eq!(second.cancel(), 1);
    let third = lim.reserve_n_at(1, t0, long).unwrap();
    assert_eq!(third.ready_at().as_ticks(), 200);
    // LIFO: cancelling `third` and then a booking made before it works.
    let fourth = lim.reserve_n_at(1, t0, long).unwrap();
    assert_eq!(fourth.cancel(), 1);
    assert_eq!(third.cancel(), 1);
    assert_eq!(
        lim.reserve_n_at(1, t0, long).unwrap().ready_at().as_ticks(),
        200
    );
}

/// Past the horizon (over a century from tick 0) waits are no longer exact:
/// a booking that would not be admitted at its ready instant is refused,
/// and nothing panics or wraps.
#[test]
fn bookings_past_the_horizon_are_refused_not_wrapped() {
    let lim = Gcra::<HZ>::new(Quota::per_second(1).burst(1)).unwrap();
    for now in [lim.horizon().as_ticks(), u64::MAX - 1, u64::MAX] {
        let _ = lim.reserve_n_at(1, at(now), ticks(u64::MAX));
    }
    let late = at(u64::MAX);
    let before = lim.snapshot_at(late);
    for n in [1, 2, u32::MAX] {
        assert!(lim.reserve_n_at(n, late, ticks(u64::MAX)).is_err());
        assert_eq!(lim.snapshot_at(late), before);
    }
}
