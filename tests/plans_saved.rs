//! Saved state of keyed tables and of `WordRef`s: a table restored from its
//! saved slots decides exactly as the table that saved them (and saves the
//! same slots again); a state saved under another seed, capacity or quota,
//! a table in use, or a slot that does not fit, is refused and changes
//! nothing.

use proptest::prelude::*;
use ratecore::algorithms::GcraConfig;
use ratecore::kernel::{AtomicU64, RestoreError, Saved, WordLimiter, WordRef};
use ratecore::keyed::{Plan, SavedSlot, WhenFull};
use ratecore::{Gcra, Instant, KeyedLimiter, Limiter, Quota};

const MS: u64 = 1_000;
const SEED: [u64; 2] = [0x0123_4567, 0x89ab_cdef];

type Table<const N: usize> = KeyedLimiter<Gcra<MS>, MS, N, 2>;

fn at(t: u64) -> Instant<MS> {
    Instant::<MS>::from_ticks(t)
}

fn table<const N: usize>(seed: [u64; 2], free_per_minute: u32) -> Table<N> {
    KeyedLimiter::new(
        [
            Gcra::new(Quota::per_minute(free_per_minute).burst(3)).unwrap(),
            Gcra::new(Quota::per_second(2).burst(5)).unwrap(),
        ],
        seed,
        WhenFull::Deny,
    )
}

/// A check: key, plan, units, time step.
type Step = (u8, usize, u32, u64);

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec((0u8..40, 0usize..2, 0u32..4, 0u64..3_000), 0..120)
}

/// Applies `steps` from `start`, answering every decision as text.
fn run<const N: usize>(table: &Table<N>, steps: &[Step], start: u64) -> Vec<String> {
    let mut now = start;
    steps
        .iter()
        .map(|&(key, plan, n, dt)| {
            now += dt;
            let plan = Plan::new(plan).unwrap();
            format!("{:?}", table.check_n_at(&key, plan, n, at(now)))
        })
        .collect()
}

/// Every saved slot, through its bytes.
fn saved<const N: usize>(table: &Table<N>) -> Vec<SavedSlot> {
    table
        .saved_slots()
        .map(|slot| SavedSlot::from_bytes(slot.to_bytes()))
        .collect()
}

/// The status of every key under every plan at `now`.
fn statuses<const N: usize>(table: &Table<N>, now: u64) -> Vec<String> {
    (0u8..40)
        .flat_map(|key| {
            (0..2).map(move |plan| {
                let plan = Plan::new(plan).unwrap();
                format!("{:?}", table.snapshot_at(&key, plan, at(now)))
            })
        })
        .collect()
}

proptest! {
    #![proptest_config(ratecore_testkit::config(200))]

    /// Save, restore into a fresh table, and both decide alike from then
    /// on, in a table small enough to fill (64 slots, 40 keys, 2 plans).
    #[test]
    fn a_restored_table_decides_as_the_saved_one(before in steps(), after in steps()) {
        let original = table::<64>(SEED, 10);
        run(&original, &before, 0);
        let slots = saved(&original);
        prop_assert!(slots.len() <= 64);
        let mut restored = table::<64>(SEED, 10);
        restored.restore(original.fingerprint(), &slots).unwrap();
        prop_assert_eq!(saved(&restored), slots.clone());
        let end: u64 = before.iter().map(|s| s.3).sum();
        prop_assert_eq!(statuses(&restored, end), statuses(&original, end));
        prop_assert_eq!(run(&restored, &after, end), run(&original, &after, end));
        prop_assert_eq!(saved(&restored), saved(&original));
    }

    /// Under another seed, capacity or quota the saved slots mean other
    /// keys or other quotas: refused, and the table stays empty.
    #[test]
    fn another_configuration_is_refused(before in steps()) {
        let original = table::<64>(SEED, 10);
        run(&original, &before, 0);
        let slots = saved(&original);
        let fingerprint = original.fingerprint();

        let mut other_seed = table::<64>([SEED[0], SEED[1] ^ 1], 10);
        let mut other_quota = table::<64>(SEED, 11);
        let mut other_size = table::<65>(SEED, 10);
        for refused in [
            other_seed.restore(fingerprint, &slots),
            other_quota.restore(fingerprint, &slots),
            other_size.restore(fingerprint, &slots),
        ] {
            let is_other = matches!(refused, Err(RestoreError::OtherConfiguration { .. }));
            prop_assert!(is_other, "{:?}", refused);
        }
        prop_assert_eq!(other_seed.saved_slots().count(), 0);
        prop_assert_eq!(other_quota.saved_slots().count(), 0);
        prop_assert_eq!(other_size.saved_slots().count(), 0);
    }
}

#[test]
fn a_table_in_use_or_a_slot_that_does_not_fit_is_refused() {
    let original = table::<64>(SEED, 10);
    original.check_n_at("a", Plan::FIRST, 2, at(0)).unwrap();
    original
        .check_n_at("b", Plan::new(1).unwrap(), 1, at(0))
        .unwrap();
    let slots = saved(&original);
    assert_eq!(slots.len(), 2);
    let fingerprint = original.fingerprint();

    // A table that holds a key: refused, its key untouched.
    let mut used = table::<64>(SEED, 10);
    used.check_at("c", Plan::FIRST, at(0)).unwrap();
    let before = saved(&used);
    assert_eq!(used.restore(fingerprint, &slots), Err(RestoreError::InUse));
    assert_eq!(saved(&used), before);

    // Slots that do not fit: past the table, no live key, a position twice.
    let past = SavedSlot {
        index: 64,
        ..slots[0]
    };
    let vacant = SavedSlot { tag: 0, ..slots[0] };
    let twice = SavedSlot {
        index: slots[0].index,
        ..slots[1]
    };
    for (bad, index) in [
        (past, 64),
        (vacant, slots[0].index),
        (twice, slots[0].index),
    ] {
        let mut fresh = table::<64>(SEED, 10);
        assert_eq!(
            fresh.restore(fingerprint, &[slots[0], bad]),
            Err(RestoreError::BadSlot { index })
        );
        // Nothing changed: not even the good slot before it.
        assert_eq!(fresh.saved_slots().count(), 0);
        assert!(
            fresh.check_n_at("a", Plan::FIRST, 3, at(0)).is_ok(),
            "a refused restore left a charge"
        );
    }
}

/// The bytes of a slot are its three words, little-endian, in order.
#[test]
fn slot_bytes_are_plain_words() {
    let slot = SavedSlot {
        index: 0x0102,
        tag: 0x0304,
        state: 0x0506,
    };
    let bytes = slot.to_bytes();
    assert_eq!(bytes[0..2], [0x02, 0x01]);
    assert_eq!(bytes[8..10], [0x04, 0x03]);
    assert_eq!(bytes[16..18], [0x06, 0x05]);
    assert!(
        bytes[2..8]
            .iter()
            .chain(&bytes[10..16])
            .chain(&bytes[18..])
            .all(|&b| b == 0)
    );
    assert_eq!(SavedSlot::from_bytes(bytes), slot);
}

proptest! {
    #![proptest_config(ratecore_testkit::config(200))]

    /// A `WordRef` saves what a `WordLimiter` of the same configuration
    /// saves, restores into a fresh word only, and then decides as the
    /// limiter that saved it.
    #[test]
    fn a_word_ref_round_trips(
        before in prop::collection::vec((0u32..4, 0u64..400), 0..40),
        after in prop::collection::vec((0u32..4, 0u64..400), 0..40),
    ) {
        let config = GcraConfig::<MS>::new(Quota::per_second(5).burst(4)).unwrap();
        let original = WordLimiter::from_algorithm(config);
        let word = AtomicU64::new(0);
        let mut now = 0;
        for &(n, dt) in &before {
            now += dt;
            let _ = original.check_n_at(n, at(now));
        }
        let saved = Saved::from_bytes(original.save().to_bytes());
        let restored = WordRef::new(&word, &config);
        let fresh_again = restored.state() == 0;
        prop_assert!(fresh_again);
        restored.restore(saved).unwrap();
        prop_assert_eq!(restored.save(), original.save());
        for &(n, dt) in &after {
            now += dt;
            prop_assert_eq!(restored.check_n_at(n, at(now)), original.check_n_at(n, at(now)));
        }
        // A word that is not fresh keeps its state.
        let state = restored.state();
        if state != 0 {
            prop_assert_eq!(restored.restore(saved), Err(RestoreError::InUse));
            prop_assert_eq!(restored.state(), state);
        }
        // Another configuration is refused, the word unchanged.
        let other = GcraConfig::<MS>::new(Quota::per_second(5).burst(5)).unwrap();
        let empty = AtomicU64::new(0);
        let refused = WordRef::new(&empty, &other).restore(saved);
        let is_other = matches!(refused, Err(RestoreError::OtherConfiguration { .. }));
        prop_assert!(is_other);
        prop_assert_eq!(empty.load(core::sync::atomic::Ordering::Relaxed), 0);
    }
}

fn carries() -> impl Strategy<Value = ratecore::kernel::Carry> {
    use ratecore::kernel::Carry;
    prop_oneof![Just(Carry::Full), Just(Carry::InUse), Just(Carry::Scaled)]
}

proptest! {
    #![proptest_config(ratecore_testkit::config(200))]

    /// Restored under another quota with a carry rule, a limiter decides as
    /// a `Reconfigurable` that made the same checks and then switched plan
    /// by the same rule at the restart's instant; a state saved under some
    /// other configuration is refused.
    #[test]
    fn a_carried_restore_is_a_switch_at_the_restart(
        quotas in [(1u32..20, 1u32..10), (1u32..20, 1u32..10)],
        carry in carries(),
        before in prop::collection::vec((0u32..4, 0u64..400), 0..40),
        gap in 0u64..5_000,
        after in prop::collection::vec((0u32..4, 0u64..400), 0..40),
    ) {
        use ratecore::kernel::Reconfigurable;
        let [old, new] = quotas.map(|(count, burst)| {
            GcraConfig::<MS>::new(Quota::per_second(count).burst(burst)).unwrap()
        });
        let saver = WordLimiter::from_algorithm(old);
        let reference = Reconfigurable::new([old, new]);
        let mut now = 0;
        for &(n, dt) in &before {
            now += dt;
            prop_assert_eq!(saver.check_n_at(n, at(now)), reference.check_n_at(n, at(now)));
        }
        let saved = Saved::from_bytes(saver.save().to_bytes());
        now += gap;
        let mut restored = WordLimiter::from_algorithm(new);
        restored.restore_carried(saved, &old, carry, at(now)).unwrap();
        reference.switch_at(1, carry, at(now)).unwrap();
        for &(n, dt) in &after {
            now += dt;
            prop_assert_eq!(restored.check_n_at(n, at(now)), reference.check_n_at(n, at(now)));
        }
        // Saved under `old`, claimed to be under another configuration.
        let other = GcraConfig::<MS>::new(Quota::per_second(21)).unwrap();
        let mut refused = WordLimiter::from_algorithm(new);
        let is_other = matches!(
            refused.restore_carried(saved, &other, carry, at(now)),
            Err(RestoreError::OtherConfiguration { .. })
        );
        prop_assert!(is_other);
        prop_assert_eq!(refused.state(), 0);
    }
}
