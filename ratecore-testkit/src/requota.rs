//! Quota changes (`set_quota_at`) of the limiters that have them (`Gcra`,
//! `TokenBucket` of both refill modes), at fresh and stale instants,
//! interleaved with checks (`n = 0` included), reservations and their
//! cancels and settles, charges and their undos, and resets.
//!
//! Checked, at every step: GCRA and the greedy bucket answer as the
//! reference GCRA (with [`set_quota`] for a change); a cancel, a settle or an
//! undo gives back exactly what the model says (all while the state is the
//! one its booking left, else nothing) and never more, at any instant; a
//! change to the same quota never leaves more remaining anywhere; and no
//! span holds more units (by the instants they are used at, less what was
//! given back) than the looser of the quotas in force across it allows, over
//! one change to another quota at a fresh instant (a second one may forgive
//! what the first capped, as documented, and one at a stale instant to a
//! faster rate forgives units in use, an open defect: the bound starts over
//! there, and at a reset).

use ratecore::kernel::{Algorithm, Charge, Receipt, Reservation, WordLimiter};
use ratecore::{Duration, Gcra, Limiter, Quota, RefillMode, TokenBucket};

use crate::at;
use crate::model::reconfigured::set_quota;
use crate::model::tier_gcra::{Answer, Gcra as Reference, Kind, Spec, from_decision, from_status};

/// Ticks per second.
pub const MS: u64 = 1_000;

/// One step of a script.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Op {
    /// Check `n % 20` units (0, within and above the bursts).
    Check(u8),
    /// `charge_n_at(n % 20)`, keeping the receipt.
    Charge(u8),
    /// Undo the live receipt at this index (modulo their number).
    Undo(u8),
    /// Reserve `n % 20` units with this `max_wait` in ms.
    Reserve(u8, u16),
    /// Cancel (`None`) or settle (`Some(used)`) the live reservation at this
    /// index (modulo their number).
    Cancel(u8, Option<u8>),
    /// The clock forwards, up to about 4 s.
    Forward(u16),
    /// The clock backwards (a stale instant), up to about 4 s.
    Back(u16),
    /// Drop every reservation and receipt (their units stay used), `reset`.
    Reset,
    /// Likewise, then `set_quota_at(now - back % 4096)`: to the same quota,
    /// or to `count % 16 + 1` per the same period with a burst of
    /// `burst % 16 + 1`.
    SetQuota {
        same: bool,
        count: u8,
        burst: u8,
        back: u16,
    },
}

impl Op {
    /// Whether it takes the limiter by `&mut`, so that every reservation
    /// and receipt must be gone first.
    fn exclusive(&self) -> bool {
        matches!(self, Op::Reset | Op::SetQuota { .. })
    }
}

/// The limiters with `set_quota_at`.
pub trait SetQuota {
    fn set_quota(&mut self, quota: Quota, now: u64);
}

macro_rules! set_quota {
    ($($limiter:ident),*) => {$(
        impl SetQuota for $limiter<MS> {
            fn set_quota(&mut self, quota: Quota, now: u64) {
                self.set_quota_at(quota, at(now)).expect("a valid quota");
            }
        }
    )*};
}

set_quota!(Gcra, TokenBucket);

/// Units by the instant they are used at, since the bound last started
/// over, and the quotas in force across them.
struct Stretch {
    quotas: Vec<Spec>,
    units: Vec<(u64, u32)>,
}

impl Stretch {
    fn new(spec: Spec) -> Self {
        Self {
            quotas: vec![spec],
            units: Vec::new(),
        }
    }

    fn check(&self) {
        within_looser(&self.quotas, &self.units);
    }
}

/// No span of `units` (by the instants they are used at) holds more than
/// the looser of `quotas` allows: the larger burst plus the larger of what
/// each earns over the span (its rate times the span; interval refill: its
/// count per period boundary crossed).
pub fn within_looser(quotas: &[Spec], units: &[(u64, u32)]) {
    // In units of `1 / (product of the periods)`, so nothing rounds.
    let scale: u128 = quotas.iter().map(|s| u128::from(s.period)).product();
    let burst = quotas
        .iter()
        .map(|s| u128::from(s.burst))
        .max()
        .unwrap_or(0)
        * scale;
    let earned = |t0: u64, t1: u64| {
        let each = quotas.iter().map(|s| {
            let (count, period) = (u128::from(s.count), u128::from(s.period));
            match s.kind {
                Kind::Interval => u128::from(t1 / s.period - t0 / s.period) * count * scale,
                _ => u128::from(t1 - t0) * count * (scale / period),
            }
        });
        each.max().unwrap_or(0)
    };
    let mut sorted = units.to_vec();
    sorted.sort_unstable();
    // Units up to each entry, so a span's sum is a difference.
    let upto: Vec<u128> = sorted
        .iter()
        .scan(0u128, |sum, &(_, n)| {
            *sum += u128::from(n);
            Some(*sum)
        })
        .collect();
    for first in 0..sorted.len() {
        for last in first..sorted.len() {
            let (t0, t1) = (sorted[first].0, sorted[last].0);
            let held = upto[last] - upto[first] + u128::from(sorted[first].1);
            assert!(
                held * scale <= burst + earned(t0, t1),
                "{held} units in [{t0}, {t1}], more than {quotas:?} allow"
            );
        }
    }
}

/// What was known when a booking or a charge was made.
#[derive(Clone)]
struct Booked {
    n: u32,
    ready: u64,
    /// The reference before and after it.
    before: Option<Reference>,
    after: Option<Reference>,
    /// Its units' entry in the stretch.
    entry: usize,
    /// The limiter's remaining units before it, at the [`probe`] instants
    /// of `(now, latest)`.
    was: (u64, u64, Vec<u32>),
}

impl Booked {
    fn new(
        n: u32,
        ready: u64,
        model: [Option<Reference>; 2],
        entry: usize,
        was: (u64, u64, Vec<u32>),
    ) -> Self {
        let [before, after] = model;
        Self {
            n,
            ready,
            before,
            after,
            entry,
            was,
        }
    }
}

/// The remaining units at a few instants around `now`.
fn probe<L: Limiter<MS>>(limiter: &L, now: u64, latest: u64) -> Vec<u32> {
    [now, latest]
        .into_iter()
        .flat_map(|t| [0, 1, 499, 1_000, 2_999, 60_000].map(|d| t + d))
        .map(|t| limiter.snapshot_at(at(t)).remaining())
        .collect()
}

/// Whatever it gave back, a cancel, a settle or an undo left the limiter no
/// looser than before its booking or charge, at any instant (there are no
/// refunds in these scripts). A booking of 0 units stored nothing and gives
/// nothing back: `around` is the limiter just before its cancel or undo,
/// and it must be as it was (an older booking may have been undone since
/// it was made, so the state before it is no bound).
fn no_looser<L: Limiter<MS>>(limiter: &L, booked: &Booked, around: &[u32]) {
    if booked.n == 0 {
        let (now, latest, _) = &booked.was;
        assert_eq!(
            probe(limiter, *now, *latest),
            around,
            "0 units gave something back"
        );
        return;
    }
    let (now, latest, was) = &booked.was;
    for (b, a) in was.iter().zip(probe(limiter, *now, *latest)) {
        assert!(
            a <= *b,
            "{a} remaining after giving back, {b} before the booking"
        );
    }
}

/// `spec`'s limiter (its kind: GCRA or a token bucket) through `ops`.
pub fn run(spec: Spec, ops: &[Op]) {
    let quota = spec.quota::<MS>();
    match spec.kind {
        Kind::Gcra => drive(Gcra::<MS>::new(quota).expect("a valid quota"), spec, ops),
        Kind::Greedy => drive(bucket(quota, RefillMode::Greedy), spec, ops),
        Kind::Interval => drive(bucket(quota, RefillMode::Interval), spec, ops),
    }
}

fn bucket(quota: Quota, mode: RefillMode) -> TokenBucket<MS> {
    TokenBucket::new(quota, mode).expect("a valid quota")
}

fn drive<A: Algorithm<MS>>(mut limiter: WordLimiter<A>, mut spec: Spec, ops: &[Op])
where
    WordLimiter<A>: SetQuota,
{
    let exact = spec.kind != Kind::Interval;
    let fresh = |s: Spec| exact.then(|| Reference::new(s.count, s.period, s.burst));
    let mut model = fresh(spec);
    let (mut now, mut latest) = (10_000u64, 0u64);
    let mut stretch = Stretch::new(spec);
    for run in ops.split_inclusive(Op::exclusive) {
        let shared = &limiter;
        let mut bookings: Vec<(Reservation<'_, MS, A>, Booked)> = Vec::new();
        let mut receipts: Vec<(Receipt<'_>, Booked)> = Vec::new();
        for &op in run.iter().filter(|op| !op.exclusive()) {
            match op {
                Op::Forward(dt) => now += u64::from(dt % 4_096),
                Op::Back(dt) => now = now.saturating_sub(u64::from(dt % 4_096)),
                Op::Check(n) | Op::Charge(n) => {
                    let n = u32::from(n % 20);
                    let (before, was) = (model, (now, latest, probe(shared, now, latest)));
                    let (got, receipt) = if matches!(op, Op::Charge(_)) {
                        let charged = shared.charge_n_at(n, at(now));
                        let receipt = charged.as_ref().ok().map(|c| c.1);
                        (from_decision(&charged.map(|c| c.0)), receipt)
                    } else {
                        (from_decision(&shared.check_n_at(n, at(now))), None)
                    };
                    if let Some(m) = model.as_mut() {
                        assert_eq!(got, m.check(n, now), "check of {n} at {now}");
                    }
                    match got {
                        Answer::Admit { .. } => stretch.units.push((now, n)),
                        denied => assert!(n > 0, "0 units denied: {denied:?}"),
                    }
                    if let Some(receipt) = receipt {
                        let entry = stretch.units.len() - 1;
                        let booked = Booked::new(n, now, [before, model], entry, was);
                        receipts.push((receipt, booked));
                    }
                }
                Op::Undo(i) if !receipts.is_empty() => {
                    let (receipt, booked) = receipts.remove(usize::from(i) % receipts.len());
                    let around = probe(shared, booked.was.0, booked.was.1);
                    let undone = shared.undo(receipt);
                    if let (Some(m), Some(after)) = (model.as_mut(), booked.after) {
                        // Exactly while the state is the one the charge left.
                        assert_eq!(undone, booked.n == 0 || *m == after, "undo of {}", booked.n);
                        if undone && booked.n > 0 {
                            *m = booked.before.expect("a model before");
                        }
                    }
                    let given = if undone { booked.n } else { 0 };
                    stretch.units[booked.entry].1 -= given;
                    no_looser(shared, &booked, &around);
                }
                Op::Reserve(n, wait) => {
                    let (n, max_wait) = (u32::from(n % 20), u64::from(wait));
                    let was = (now, latest, probe(shared, now, latest));
                    let booked =
                        shared.reserve_n_at(n, at(now), Duration::<MS>::from_ticks(max_wait));
                    let before = model;
                    let want = model.as_mut().map(|m| match m.decide(n, now).0 {
                        Answer::Admit { .. } => Ok(now),
                        Answer::Deny { retry_after, .. } if retry_after <= max_wait => {
                            Ok(now + retry_after)
                        }
                        refused => Err(refused),
                    });
                    match booked {
                        Ok(reservation) => {
                            let ready = reservation.ready_at().as_ticks();
                            assert!(ready >= now && ready - now <= max_wait, "ready at {ready}");
                            assert!(n > 0 || ready == now, "nothing to book, yet not ready");
                            if let Some(m) = model.as_mut() {
                                assert_eq!(want, Some(Ok(ready)), "booking {n} at {now}");
                                assert!(matches!(m.check(n, ready), Answer::Admit { .. }));
                            }
                            stretch.units.push((ready, n));
                            let entry = stretch.units.len() - 1;
                            let booked = Booked::new(n, ready, [before, model], entry, was);
                            bookings.push((reservation, booked));
                        }
                        Err(denied) => {
                            assert!(n > 0, "0 units refused: {denied}");
                            if let Some(want) = want {
                                assert_eq!(
                                    want,
                                    Err(from_decision(&Err(denied))),
                                    "booking {n} at {now}"
                                );
                            }
                        }
                    }
                }
                Op::Cancel(i, used) if !bookings.is_empty() => {
                    let (reservation, booked) = bookings.remove(usize::from(i) % bookings.len());
                    let around = probe(shared, booked.was.0, booked.was.1);
                    let used = used.map(u32::from);
                    let given = match used {
                        None => reservation.cancel(),
                        Some(used) => reservation.settle(used),
                    };
                    if let (Some(m), Some(after)) = (model.as_mut(), booked.after) {
                        let kept = used.unwrap_or(0).min(booked.n);
                        let want = if *m == after {
                            *m = booked.before.expect("a model before");
                            assert!(matches!(m.check(kept, booked.ready), Answer::Admit { .. }));
                            booked.n - kept
                        } else {
                            0
                        };
                        assert_eq!(given, want, "cancel of {} (settled: {used:?})", booked.n);
                    }
                    stretch.units[booked.entry].1 -= given;
                    no_looser(shared, &booked, &around);
                }
                Op::Undo(_) | Op::Cancel(..) | Op::Reset | Op::SetQuota { .. } => {}
            }
            latest = latest.max(now);
            if let Some(m) = model {
                let status = from_status(&shared.snapshot_at(at(now)));
                assert_eq!(status, m.status(now).as_status(), "status at {now}");
            }
        }
        // Every reservation and receipt of the run is gone (their units
        // stay used): the limiter may be taken by `&mut`.
        drop((bookings, receipts));
        match run.last() {
            Some(Op::Reset) => {
                limiter.reset();
                model = fresh(spec);
                stretch.check();
                stretch = Stretch::new(spec);
            }
            Some(&Op::SetQuota {
                same,
                count,
                burst,
                back,
            }) => {
                let when = now.saturating_sub(u64::from(back % 4_096));
                let next = if same {
                    spec
                } else {
                    Spec {
                        count: u32::from(count % 16) + 1,
                        burst: u32::from(burst % 16) + 1,
                        ..spec
                    }
                };
                let was = probe(&limiter, now, latest);
                limiter.set_quota(next.quota::<MS>(), when);
                model = model.map(|m| set_quota(&m, spec, next, when));
                if same {
                    for (b, a) in was.iter().zip(probe(&limiter, now, latest)) {
                        assert!(
                            a <= *b,
                            "the same quota at {when} loosened: {a} remaining, was {b}"
                        );
                    }
                } else if stretch.quotas.len() > 1 || !exact || when < latest {
                    // A change to another quota at a stale instant starts the
                    // bound over: a plain limiter does not know the latest
                    // instant, and one to a faster rate forgives units in use
                    // there (OPEN: tests/regressions_fuzz.rs, ignored).
                    stretch.check();
                    stretch = Stretch::new(next);
                } else {
                    stretch.quotas.push(next);
                }
                spec = next;
                latest = latest.max(when);
            }
            _ => {}
        }
    }
    stretch.check();
}

/// The fuzz targets `gcra` (`bucket` false) and `token_bucket`: the same
/// bytes drive the differential harness ([`crate::model::harness`]) at one
/// of three clock rates, and this module's scripts of quota changes.
#[cfg(feature = "arbitrary")]
pub fn fuzz_bytes(data: &[u8], bucket: bool) {
    use crate::model::harness::{run_bucket, run_gcra};
    use crate::model::trace::Bytes;
    use arbitrary::Arbitrary;

    let mut input = Bytes(data);
    let spec = input.quota_spec();
    let setup = input.u8();
    let ops = input.ops(256);
    let mode = if setup & 4 == 0 {
        RefillMode::Greedy
    } else {
        RefillMode::Interval
    };
    // A quota the crate refuses has nothing to run (tests/quota_props.rs
    // checks the refusals).
    let _ = match (bucket, setup % 3) {
        (false, 0) => run_gcra::<1_000>(&spec, &ops, true),
        (false, 1) => run_gcra::<32_768>(&spec, &ops, true),
        (false, _) => run_gcra::<1_000_000_000>(&spec, &ops, true),
        (true, 0) => run_bucket::<1_000>(&spec, mode, &ops, true),
        (true, 1) => run_bucket::<32_768>(&spec, mode, &ops, true),
        (true, _) => run_bucket::<1_000_000_000>(&spec, mode, &ops, true),
    };
    let kind = match (bucket, mode) {
        (false, _) => Kind::Gcra,
        (true, RefillMode::Greedy) => Kind::Greedy,
        (true, _) => Kind::Interval,
    };
    let mut raw = arbitrary::Unstructured::new(data);
    if let Ok((plan, script)) = <((u8, u16, u8), Vec<Op>)>::arbitrary(&mut raw) {
        let spec = Spec {
            kind,
            ..crate::keyed_tiers::spec(plan)
        };
        run(spec, &script[..script.len().min(256)]);
    }
}
