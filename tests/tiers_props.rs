//! Tiers against tiers of reference limiters: identical answers (which tier
//! bound, and its numbers) under random operation sequences, and a denied
//! tiered check leaves every tier exactly as it was.

use ratecore_testkit::model::tier_gcra as tier_gcra_model;

use proptest::prelude::*;
use ratecore::{
    Gcra, Instant, Limiter, Quota, RefillMode, Tiers, TokenBucket, compose::Tier, kernel::Charge,
};
use ratecore_testkit::at;
use tier_gcra_model::{
    Answer, Kind, Model, Spec, check_tiers, from_decision, from_status, from_tiers,
};

const HZ: u64 = 1_000;
type Boxed = Box<dyn Charge<HZ> + Sync>;

fn build(spec: Spec) -> (Boxed, Model) {
    let q = spec.quota::<HZ>();
    let limiter: Boxed = match spec.kind {
        Kind::Gcra => Box::new(Gcra::<HZ>::new(q).unwrap()),
        Kind::Greedy => Box::new(TokenBucket::<HZ>::new(q, RefillMode::Greedy).unwrap()),
        Kind::Interval => Box::new(TokenBucket::<HZ>::new(q, RefillMode::Interval).unwrap()),
    };
    (limiter, spec.model())
}

fn spec() -> impl Strategy<Value = Spec> {
    ratecore_testkit::strategy::tier_spec(&[Kind::Gcra, Kind::Greedy, Kind::Interval], 8)
}

#[derive(Clone, Debug)]
enum Op {
    /// Time moves forward.
    Advance(u64),
    /// A tiered check with a cost per tier.
    Tiered(Vec<u32>),
    /// A check on one tier alone (so the tiers' states drift apart).
    Direct(usize, u32),
}

fn op(n: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop_oneof![0u64..50, 0u64..5_000, 0u64..120_000].prop_map(Op::Advance),
        6 => prop::collection::vec(prop_oneof![3 => 0u32..=3, 1 => 0u32..=10], n).prop_map(Op::Tiered),
        2 => (0..n, 0u32..=4).prop_map(|(i, c)| Op::Direct(i, c)),
    ]
}

/// What every tier reports at a few instants from `now`: equal before and
/// after an operation means the operation left the states alone (together
/// with the model comparisons that follow, which would catch any change).
fn probe<const N: usize, C: Charge<HZ> + ?Sized>(
    tiers: &Tiers<'_, HZ, N, C>,
    now: u64,
) -> Vec<Answer> {
    let mut out = Vec::new();
    for tier in tiers.tiers() {
        for later in [0, 1, 999, 60_000, 10_000_000] {
            out.push(from_status(&tier.limiter().snapshot_at(at(now + later))));
        }
    }
    out
}

const NAMES: [&str; 8] = ["t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"];

/// Tiers of any algorithms, each behind `dyn Charge` (`Tier::new`).
fn run<const N: usize>(specs: [Spec; N], ops: Vec<Op>) -> Result<(), TestCaseError> {
    let (limiters, models): (Vec<Boxed>, Vec<Model>) = specs.iter().map(|&s| build(s)).unzip();
    let tiers: Tiers<'_, HZ, N> =
        Tiers::new(core::array::from_fn(|i| Tier::new(NAMES[i], &*limiters[i])));
    run_on(&tiers, models, ops)
}

/// Tiers of one type, `Gcra` (`Tier::of`): the same checks inlined, the
/// same answers.
fn run_typed<const N: usize>(specs: [Spec; N], ops: Vec<Op>) -> Result<(), TestCaseError> {
    let limiters: Vec<Gcra<HZ>> = specs
        .iter()
        .map(|spec| Gcra::<HZ>::new(spec.quota::<HZ>()).unwrap())
        .collect();
    let models = specs.iter().map(|spec| spec.model()).collect();
    let tiers: Tiers<'_, HZ, N, Gcra<HZ>> =
        Tiers::new(core::array::from_fn(|i| Tier::of(NAMES[i], &limiters[i])));
    run_on(&tiers, models, ops)
}

fn run_on<const N: usize, C: Charge<HZ> + ?Sized>(
    tiers: &Tiers<'_, HZ, N, C>,
    mut models: Vec<Model>,
    ops: Vec<Op>,
) -> Result<(), TestCaseError> {
    let limiter = |i: usize| tiers.tiers()[i].limiter();
    let mut now = 0u64;
    for op in ops {
        match op {
            Op::Advance(dt) => now += dt,
            Op::Tiered(costs) => {
                let costs: [u32; N] = costs.try_into().unwrap();
                let before = probe(tiers, now);
                let got = tiers.check_costs_at(costs, at(now));
                let want = check_tiers(&mut models, &costs, now);
                prop_assert_eq!(from_tiers(&got), want, "costs {:?} at {}", costs, now);
                if let Err(denied) = &got {
                    prop_assert_eq!(denied.name, NAMES[denied.tier]);
                    prop_assert_eq!(
                        probe(tiers, now),
                        before,
                        "a denied tiered check changed a tier"
                    );
                }
            }
            Op::Direct(i, n) => {
                let got = limiter(i).check_n_at(n, at(now));
                prop_assert_eq!(from_decision(&got), models[i].check(n, now));
            }
        }
        for (i, m) in models.iter().enumerate() {
            prop_assert_eq!(from_status(&limiter(i).snapshot_at(at(now))), m.status(now));
        }
        // The set's own status is its binding tier's.
        let binding = tiers.snapshot_tiered_at(at(now));
        prop_assert_eq!(
            from_status(&binding.answer),
            models[binding.tier].status(now)
        );
        prop_assert_eq!(Limiter::snapshot_at(tiers, at(now)), binding.answer);
    }
    Ok(())
}

fn gcra_spec() -> impl Strategy<Value = Spec> {
    ratecore_testkit::strategy::tier_spec(&[Kind::Gcra], 8)
}

proptest! {
    #![proptest_config(ratecore_testkit::config(300))]

    #[test]
    fn two_tiers_match_the_model(specs in [spec(), spec()], ops in prop::collection::vec(op(2), 1..60)) {
        run(specs, ops)?;
    }

    #[test]
    fn three_tiers_match_the_model(specs in [spec(), spec(), spec()], ops in prop::collection::vec(op(3), 1..60)) {
        run(specs, ops)?;
    }

    #[test]
    fn two_typed_tiers_match_the_model(specs in [gcra_spec(), gcra_spec()], ops in prop::collection::vec(op(2), 1..60)) {
        run_typed(specs, ops)?;
    }

    #[test]
    fn three_typed_tiers_match_the_model(specs in [gcra_spec(), gcra_spec(), gcra_spec()], ops in prop::collection::vec(op(3), 1..60)) {
        run_typed(specs, ops)?;
    }
}

proptest! {
    #![proptest_config(ratecore_testkit::config(60))]

    #[test]
    fn eight_tiers_match_the_model(
        specs in [spec(), spec(), spec(), spec(), spec(), spec(), spec(), spec()],
        ops in prop::collection::vec(op(8), 1..60),
    ) {
        run(specs, ops)?;
    }

    /// Time may also run backwards (stale readings): GCRA tiers, whose
    /// model takes any instant.
    #[test]
    fn stale_instants_match_the_model(
        bursts in [1u32..=6, 1u32..=6],
        counts in [1u32..=4, 1u32..=4],
        steps in prop::collection::vec((0u64..200_000, prop::collection::vec(0u32..=3, 2)), 1..60),
    ) {
        let limiters: Vec<Gcra<HZ>> = (0..2)
            .map(|i| Gcra::new(Quota::per_minute(counts[i]).burst(bursts[i])).unwrap())
            .collect();
        let mut models: Vec<Model> = (0..2)
            .map(|i| Model::Gcra(tier_gcra_model::Gcra::new(counts[i], 60_000, bursts[i])))
            .collect();
        let tiers = Tiers::new([Tier::new("a", &limiters[0]), Tier::new("b", &limiters[1])]);
        for (now, costs) in steps {
            let costs: [u32; 2] = costs.try_into().unwrap();
            let got = tiers.check_costs_at(costs, at(now));
            prop_assert_eq!(from_tiers(&got), check_tiers(&mut models, &costs, now));
            // The plain `Limiter` answer is the tiered one without the tier
            // (a zero-unit check: it charges nothing, and at a stale instant
            // it can be denied).
            let plain = Limiter::check_n_at(&tiers, 0, at(now));
            let want = check_tiers(&mut models, &[0, 0], now).map_or_else(|(_, a)| a, |(_, a)| a);
            prop_assert_eq!(from_decision(&plain), want);
        }
    }
}

/// A tier that lets scripted "concurrent callers" act on the real limiters
/// just before it is charged: the only way a single thread can make a tier
/// deny after every peek admitted, which is what exercises the rollback.
struct Racing<'a> {
    inner: &'a (dyn Charge<HZ> + Sync),
    all: &'a [Boxed],
    interference: std::sync::Mutex<Vec<(usize, u32)>>,
}

impl Limiter<HZ> for Racing<'_> {
    fn check_n_at(&self, n: u32, now: Instant<HZ>) -> ratecore::Decision<HZ> {
        self.inner.check_n_at(n, now)
    }
    fn snapshot_at(&self, now: Instant<HZ>) -> ratecore::Status<HZ> {
        self.inner.snapshot_at(now)
    }
}

impl Charge<HZ> for Racing<'_> {
    fn peek_n_at(&self, n: u32, now: Instant<HZ>) -> ratecore::Decision<HZ> {
        self.inner.peek_n_at(n, now)
    }
    fn charge_n_at(
        &self,
        n: u32,
        now: Instant<HZ>,
    ) -> Result<(ratecore::Status<HZ>, ratecore::kernel::Receipt<'_>), ratecore::Denied<HZ>> {
        for (j, m) in self.interference.lock().unwrap().drain(..) {
            let _ = self.all[j].check_n_at(m, now);
        }
        self.inner.charge_n_at(n, now)
    }
    fn undo(&self, receipt: ratecore::kernel::Receipt<'_>) -> bool {
        self.inner.undo(receipt)
    }
}

/// Small bursts, so that the interfering checks often exhaust a tier.
fn small_spec() -> impl Strategy<Value = Spec> {
    (spec(), 1u32..=4).prop_map(|(s, burst)| Spec { burst, ..s })
}

proptest! {
    #![proptest_config(ratecore_testkit::config(400))]

    /// Races between the peek and the charge: answers, rollbacks and kept
    /// charges are those documented (the model of the protocol), a rollback
    /// of an untouched tier is exact, and a kept charge is at most the
    /// check's units and never looser than the honest state (the admitted
    /// concurrent checks alone).
    #[test]
    fn races_roll_back_as_documented(
        specs in [small_spec(), small_spec(), small_spec()],
        steps in prop::collection::vec(
            (
                0u64..3_000,
                prop::collection::vec(0u32..=3, 3),
                0usize..3,
                prop::collection::vec((0usize..3, 1u32..=4), 0..5),
            ),
            1..40,
        ),
    ) {
        let (limiters, mut models): (Vec<Boxed>, Vec<Model>) = specs.iter().map(|&s| build(s)).unzip();
        let racing: Vec<Racing<'_>> = limiters
            .iter()
            .map(|l| Racing { inner: &**l, all: &limiters, interference: Default::default() })
            .collect();
        let tiers = Tiers::new([
            Tier::new("a", &racing[0]),
            Tier::new("b", &racing[1]),
            Tier::new("c", &racing[2]),
        ]);
        let mut now = 0;
        for (dt, costs, race, interference) in steps {
            now += dt;
            let costs: [u32; 3] = costs.try_into().unwrap();
            *racing[race].interference.lock().unwrap() = interference.clone();
            let mut honest = models.clone();
            let got = tiers.check_costs_at(costs, at(now));
            let (want, kept, admitted) =
                tier_gcra_model::check_tiers_racing(&mut models, &costs, now, race, &interference);
            // Interference that did not run (a peek denied) is dropped.
            racing[race].interference.lock().unwrap().clear();
            prop_assert_eq!(from_tiers(&got), want);
            for (l, m) in limiters.iter().zip(&models) {
                for later in [0, 1, 60_000] {
                    prop_assert_eq!(from_status(&l.snapshot_at(at(now + later))), m.status(now + later));
                }
            }
            if got.is_err() {
                // What was admitted, without our charge: the concurrent
                // checks that got through (some were denied only because our
                // charge was in flight: the documented window).
                for &(j, n) in &admitted {
                    let admit = matches!(honest[j].check(n, now), Answer::Admit { .. });
                    prop_assert!(admit, "admitted under load, so admitted without it");
                }
                for (i, (m, h)) in models.iter().zip(&honest).enumerate() {
                    let extra = m.used_more_than(h, now);
                    prop_assert!(extra.is_some(), "tier {} looser than honest", i);
                    if kept[i] {
                        prop_assert!(extra.unwrap() <= costs[i]);
                    } else {
                        prop_assert_eq!(m, h, "tier {} not exactly rolled back", i);
                    }
                }
            }
        }
    }
}

/// The rollback of a charge on an idle GCRA (`tat < now`) restores the old
/// `tat` exactly, where a refund would leave `tat = now`: the same for
/// readers at `now`, stricter for a reader with a stale instant. (The same
/// limiter twice in a set: both peeks admit, the second charge is refused.)
#[test]
fn rollback_of_an_idle_gcra_is_exact_where_a_refund_is_not() {
    let history = |g: &Gcra<HZ>| g.check_at(at(0)).unwrap(); // tat = 1,000
    let g = Gcra::<HZ>::new(Quota::per_second(1).burst(1)).unwrap();
    history(&g);
    let (stale, now) = (at(500), at(5_000));
    let before = (g.snapshot_at(stale), g.snapshot_at(now));
    let tiers = Tiers::new([Tier::new("a", &g), Tier::new("a again", &g)]);
    let denied = tiers.check_tiered_n_at(1, now).unwrap_err();
    assert_eq!((denied.tier, denied.name), (1, "a again"));
    assert_eq!((g.snapshot_at(stale), g.snapshot_at(now)), before);
    assert_eq!(before.0.reset_after().as_ticks(), 500);

    // Charge and refund instead: exact at `now`, not at the stale instant.
    let twin = Gcra::<HZ>::new(Quota::per_second(1).burst(1)).unwrap();
    history(&twin);
    twin.check_at(now).unwrap();
    ratecore::Refund::refund_n_at(&twin, 1, now);
    assert_eq!(twin.snapshot_at(now), before.1);
    assert_eq!(twin.snapshot_at(stale).reset_after().as_ticks(), 4_500);
}
