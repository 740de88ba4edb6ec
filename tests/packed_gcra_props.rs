//! `PackedGcra` decides as `Gcra` does, bit for bit: against the testkit's
//! GCRA model on its traces (beside `Gcra`), and word for word through the
//! `Algorithm` trait on arbitrary states and instants, the horizon and the
//! end of the time line included.

use proptest::prelude::*;
use ratecore::algorithms::{GcraConfig, PackedGcra, PackedGcraConfig};
use ratecore::kernel::{Algorithm, Carry, Reconfigure};
use ratecore::time::NANOS;
use ratecore::{Duration, Gcra, Instant};
use ratecore_testkit::model::harness::run_gcra_beside;
use ratecore_testkit::model::spec::QuotaSpec;
use ratecore_testkit::model::subject::Subject;
use ratecore_testkit::model::trace::Op;
use ratecore_testkit::{rules, strategy};

/// `spec` refused by both or by neither, and, accepted, a `PackedGcra` and
/// its configuration through the `Algorithm` trait held to the model beside
/// a `Gcra` on `ops`.
fn beside_model<const HZ: u64>(spec: &QuotaSpec, ops: &[Op]) -> Result<(), TestCaseError> {
    let quota = spec.quota();
    let packed = PackedGcra::<HZ>::new(quota);
    prop_assert_eq!(packed.as_ref().err().copied(), Gcra::<HZ>::new(quota).err());
    let (Ok(mut packed), Ok(config)) = (packed, PackedGcraConfig::<HZ>::new(quota)) else {
        return Ok(());
    };
    let mut word = Subject::fresh(&config);
    strategy::valid_quota(run_gcra_beside::<HZ>(
        spec,
        ops,
        false,
        &mut [
            ("PackedGcra", &mut packed),
            ("PackedGcra as Algorithm", &mut word),
        ],
    ))
}

/// What the trait is asked; unit counts are raw, sized against the burst.
#[derive(Clone, Copy, Debug)]
enum Act {
    Decide(u32),
    Status,
    Refund(u32),
    Reserve(u32, u64),
    Idle,
    /// Both carried to the other quota of the case, and back.
    Carry(u8),
    /// Any state word at all: both must agree on every one.
    Word(u64),
}

/// Where the clock goes before the act.
#[derive(Clone, Copy, Debug)]
enum When {
    /// Forward by up to a few units' time.
    Forward(u32),
    /// Backward, as far.
    Back(u32),
    /// Within a few ticks, or a few units' time, of the horizon.
    Horizon(i16),
    /// Within 65,535 ticks of `u64::MAX`.
    End(u16),
    Anywhere(u64),
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        8 => any::<u32>().prop_map(Act::Decide),
        2 => Just(Act::Status),
        2 => any::<u32>().prop_map(Act::Refund),
        2 => (any::<u32>(), any::<u64>()).prop_map(|(n, w)| Act::Reserve(n, w)),
        1 => Just(Act::Idle),
        1 => any::<u8>().prop_map(Act::Carry),
        1 => any::<u64>().prop_map(Act::Word),
    ]
}

fn when() -> impl Strategy<Value = When> {
    prop_oneof![
        6 => any::<u32>().prop_map(When::Forward),
        2 => any::<u32>().prop_map(When::Back),
        3 => any::<i16>().prop_map(When::Horizon),
        1 => any::<u16>().prop_map(When::End),
        1 => any::<u64>().prop_map(When::Anywhere),
    ]
}

impl When {
    fn from(self, t: u64, horizon: u64, unit: u64) -> u64 {
        // Up to 4 units' time, at any fraction of a unit.
        let span = |d: u32| u64::from(d % 5).saturating_mul(unit) >> (d % 7);
        match self {
            When::Forward(d) => t.saturating_add(span(d)),
            When::Back(d) => t.saturating_sub(span(d)),
            When::Horizon(d) => {
                let off = if d % 2 == 0 {
                    u64::from(d.unsigned_abs() % 4)
                } else {
                    u64::from(d.unsigned_abs() % 3).saturating_mul(unit)
                };
                if d < 0 {
                    horizon.saturating_sub(off)
                } else {
                    horizon.saturating_add(off)
                }
            }
            When::End(d) => u64::MAX - u64::from(d),
            When::Anywhere(t) => t,
        }
    }
}

/// Mostly 0 to burst + 2 units, sometimes the raw count.
fn units(raw: u32, burst: u32) -> u32 {
    if raw.is_multiple_of(16) {
        raw
    } else {
        raw % burst.saturating_add(3)
    }
}

fn carry_of(k: u8) -> Carry {
    match k % 3 {
        0 => Carry::Full,
        1 => Carry::InUse,
        _ => Carry::Scaled,
    }
}

/// Every answer and every state word of the two configurations of `spec`,
/// through the `Algorithm` trait, along `script`; carries to and from
/// `other`'s.
fn word_for_word<const HZ: u64>(
    spec: &QuotaSpec,
    other: &QuotaSpec,
    script: &[(When, Act)],
) -> Result<(), TestCaseError> {
    let quota = spec.quota();
    let (gcra, packed) = (
        GcraConfig::<HZ>::new(quota),
        PackedGcraConfig::<HZ>::new(quota),
    );
    prop_assert_eq!(gcra.err(), packed.err());
    let (Ok(gcra), Ok(packed)) = (gcra, packed) else {
        return Ok(());
    };
    prop_assert_eq!(
        (gcra.burst(), gcra.emission_interval(), gcra.horizon()),
        (packed.burst(), packed.emission_interval(), packed.horizon())
    );
    let others = GcraConfig::<HZ>::new(other.quota())
        .ok()
        .zip(PackedGcraConfig::<HZ>::new(other.quota()).ok());
    let burst = gcra.burst();
    let (cost, scale) = gcra.emission_interval();
    let unit = cost.div_ceil(scale).max(1);
    let horizon = gcra.horizon().as_ticks();
    let (mut state, mut t) = (0u64, 0u64);
    for &(when, act) in script {
        t = when.from(t, horizon, unit);
        let now = Instant::<HZ>::from_ticks(t);
        match act {
            Act::Decide(raw) => {
                let n = units(raw, burst);
                rules::decider(&packed, state, n, now);
                let step = gcra.decide(state, n, now);
                prop_assert_eq!(
                    step,
                    packed.decide(state, n, now),
                    "decide({}, {}, {})",
                    state,
                    n,
                    t
                );
                state = step.stored().unwrap_or(state);
            }
            Act::Status => {
                prop_assert_eq!(gcra.status(state, now), packed.status(state, now));
            }
            Act::Refund(raw) => {
                let n = units(raw, burst);
                let next = gcra.refund(state, n, now);
                prop_assert_eq!(next, packed.refund(state, n, now));
                state = next;
            }
            Act::Reserve(raw, wait) => {
                let (n, wait) = (
                    units(raw, burst),
                    Duration::<HZ>::from_ticks(wait >> (wait % 64)),
                );
                let booking = gcra.reserve(state, n, now, wait);
                prop_assert_eq!(booking, packed.reserve(state, n, now, wait));
                state = booking.stored().unwrap_or(state);
            }
            Act::Idle => {
                prop_assert_eq!(gcra.idle_after(state, now), packed.idle_after(state, now));
                prop_assert_eq!(gcra.is_idle(state, now), packed.is_idle(state, now));
            }
            Act::Carry(k) => {
                if let Some((gcra_next, packed_next)) = others {
                    let carry = carry_of(k);
                    let there = gcra.carry(state, &gcra_next, carry, now);
                    prop_assert_eq!(there, packed.carry(state, &packed_next, carry, now));
                    prop_assert_eq!(
                        gcra_next.carry(there, &gcra, carry, now),
                        packed_next.carry(there, &packed, carry, now)
                    );
                }
            }
            Act::Word(word) => state = word,
        }
    }
    Ok(())
}

/// `$check::<HZ>(...)?` at 1 Hz, 1 kHz, 32,768 Hz and 1 GHz.
macro_rules! at_four_rates {
    ($check:ident($($arg:expr),*)) => {
        for result in [
            $check::<1>($($arg),*),
            $check::<1_000>($($arg),*),
            $check::<32_768>($($arg),*),
            $check::<NANOS>($($arg),*),
        ] {
            result?;
        }
    };
}

proptest! {
    #![proptest_config(ratecore_testkit::config(160))]

    /// The model's traces (checks of 0 to burst + 2 units, refunds,
    /// reservations, clocks going backwards, jumps to the horizon and to
    /// near `u64::MAX`), at four clock rates.
    #[test]
    fn matches_the_model_beside_gcra(spec in strategy::quota_spec(), ops in strategy::ops(80)) {
        at_four_rates!(beside_model(&spec, &ops));
    }

    /// Same steps, statuses, refunds, bookings, idle times and carries, on
    /// reachable and arbitrary words, at four clock rates.
    #[test]
    fn decides_as_gcra_word_for_word(
        spec in strategy::quota_spec(),
        other in strategy::quota_spec(),
        script in proptest::collection::vec((when(), act()), 1..=60),
    ) {
        at_four_rates!(word_for_word(&spec, &other, &script));
    }
}

/// A `Reconfigurable` of packed plans, the way a `PackedGcra` changes its
/// quota, answers as one of `Gcra` plans through a run of checks and
/// switches under every carry rule.
#[test]
fn reconfigurable_packed_plans_answer_as_gcra_plans() {
    use ratecore::kernel::Reconfigurable;
    use ratecore::{Limiter, Quota};
    let quotas = [
        Quota::per_second(10).burst(3),
        Quota::per_second(3).burst(7),
    ];
    let packed = Reconfigurable::new(quotas.map(|q| PackedGcraConfig::<1_000>::new(q).unwrap()));
    let gcra = Reconfigurable::new(quotas.map(|q| GcraConfig::<1_000>::new(q).unwrap()));
    for (i, ms) in (0..200u64).map(|i| (i, i * 37 % 1_000 + i * 5)) {
        let t = Instant::<1_000>::from_ticks(ms);
        if i % 17 == 0 {
            let (plan, carry) = ((i / 17 % 2) as usize, carry_of(i as u8));
            assert_eq!(
                packed.switch_at(plan, carry, t),
                gcra.switch_at(plan, carry, t)
            );
        }
        let n = (i % 4) as u32;
        assert_eq!(
            packed.check_n_at(n, t),
            gcra.check_n_at(n, t),
            "check {n} at {ms}"
        );
        assert_eq!(packed.state(), gcra.state());
    }
}

/// The configurations' names tell saved states apart: a `Gcra`'s word is
/// not restored into a `PackedGcra` (nor back), though it means the same.
#[test]
fn fingerprints_differ_from_gcra() {
    let quota = ratecore::Quota::per_second(10).burst(3);
    let packed = PackedGcraConfig::<1_000>::new(quota).unwrap();
    let gcra = GcraConfig::<1_000>::new(quota).unwrap();
    assert_ne!(packed.fingerprint(), gcra.fingerprint());
    assert_eq!(
        packed.fingerprint(),
        PackedGcraConfig::<1_000>::new(quota).unwrap().fingerprint()
    );
    let slower = PackedGcraConfig::<1_000>::new(ratecore::Quota::per_second(9).burst(3)).unwrap();
    assert_ne!(packed.fingerprint(), slower.fingerprint());
}

/// 24 bytes on the host (the firmware targets are checked by
/// `.ci/firmware-size`).
#[test]
fn twenty_four_bytes() {
    assert_eq!(size_of::<PackedGcra<1>>(), 24);
    assert_eq!(size_of::<PackedGcra<NANOS>>(), 24);
}
