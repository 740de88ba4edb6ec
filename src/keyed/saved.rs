//! A keyed table's state, saved as plain words and restored.
//!
//! What a key's slot means depends on the table's configuration: its
//! position on the seed (the key's window is chosen by its keyed hash) and
//! on `N` (the windows' groups), its tag on the seed (46 bits of the keyed
//! hash, taken from its 64-bit or its 128-bit output according to `N`, a
//! layout the fingerprint names too) and on the plan's index, its state on that plan's algorithm and
//! quota. A table restores a saved slot only under the same fingerprint of
//! all of these, into the same position, bit for bit: the keys are not
//! saved (a table never holds them), so they cannot be rehashed under
//! another seed, and a slot restored under other parameters would be
//! another key's, or another quota's.

use crate::kernel::sync::Ordering;
use crate::kernel::{Algorithm, RestoreError, fingerprint};
use crate::keyed::key_hash;
use crate::keyed::slot::{self, Holder};
use crate::keyed::{KeyedLimiter, SlotStorage};

/// One live key of a [`KeyedLimiter`], as
/// [`KeyedLimiter::saved_slots`] exports it: the slot's position and its
/// 128-bit word (the key's tag, naming its plan, and its state), 24 bytes as
/// [`to_bytes`](SavedSlot::to_bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SavedSlot {
    /// The slot's position in the table.
    pub index: u64,
    /// The word's upper half: the key's tag (status, plan, fingerprint).
    pub tag: u64,
    /// The word's lower half: the key's state under its plan.
    pub state: u64,
}

impl SavedSlot {
    /// The length of [`to_bytes`](SavedSlot::to_bytes).
    pub const BYTES: usize = 24;

    /// The position, the tag and the state, each little-endian.
    pub fn to_bytes(&self) -> [u8; Self::BYTES] {
        let mut out = [0; Self::BYTES];
        for (chunk, word) in out
            .chunks_exact_mut(8)
            .zip([self.index, self.tag, self.state])
        {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    /// Reads back [`to_bytes`](SavedSlot::to_bytes).
    pub fn from_bytes(bytes: [u8; Self::BYTES]) -> Self {
        let mut words = bytes
            .chunks_exact(8)
            .map(|chunk| <[u8; 8]>::try_from(chunk).map_or(0, u64::from_le_bytes));
        let mut next = || words.next().unwrap_or(0);
        Self {
            index: next(),
            tag: next(),
            state: next(),
        }
    }

    const fn word(&self) -> u128 {
        ((self.tag as u128) << 64) | self.state as u128
    }
}

impl<A: Algorithm<HZ>, const HZ: u64, const N: usize, const P: usize, S: SlotStorage<N>>
    KeyedLimiter<A, HZ, N, P, S>
{
    /// The fingerprint of everything a saved slot's meaning depends on: `N`,
    /// `P`, the tick rate, every plan's algorithm and
    /// [`fingerprint`](Algorithm::fingerprint) with the configuration it is
    /// under ([`configuration`](KeyedLimiter::configuration)), the seed
    /// (through a keyed hash of a constant, which tells nothing of the seed),
    /// and how keys' hashes make their fingerprints and windows (slots saved
    /// by a version that made them otherwise are refused).
    pub fn fingerprint(&self) -> u64 {
        let seed = key_hash::seed_digest(self.seed);
        let size = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        // Each plan with the configuration it is under now: a state saved
        // after a `reconfigure_at` is restored only into a table whose
        // plans were reconfigured alike (its keys' slots name their
        // configurations; new keys follow the routes).
        let routes = self.routes.iter().map(|route| {
            // Relaxed: a read of the configuration, as `configuration`.
            u64::from(route.load(Ordering::Relaxed))
        });
        self.plans.iter().zip(routes).fold(
            fingerprint(b"keyed", &[size(N), size(P), HZ, seed, key_hash::LAYOUT]),
            |hash, (plan, route)| {
                fingerprint(A::NAME.as_bytes(), &[hash, plan.fingerprint(), route])
            },
        )
    }

    /// Every key that holds a slot, as its position and word, in position
    /// order; no allocation. Save them with
    /// [`fingerprint`](KeyedLimiter::fingerprint), and restore them with
    /// [`restore`](KeyedLimiter::restore).
    ///
    /// Each slot is read once: while checks run, the slots are saved as each
    /// was when read (a key inserted meanwhile may be left out). Save a
    /// quiescent table for an exact copy.
    ///
    /// ```
    /// use ratecore::keyed::{Plan, SavedSlot, WhenFull};
    /// use ratecore::{Gcra, Instant, KeyedLimiter, Quota};
    ///
    /// let make = || KeyedLimiter::<Gcra<1_000>, 1_000, 64>::new(
    ///     [Gcra::new(Quota::per_minute(10)).unwrap()], [7, 8], WhenFull::Deny);
    /// let t = Instant::<1_000>::from_ticks(0);
    /// let before = make();
    /// before.check_n_at("alice", Plan::FIRST, 9, t).unwrap();
    /// let fingerprint = before.fingerprint();
    /// let mut buffer = [SavedSlot { index: 0, tag: 0, state: 0 }; 64];
    /// let mut saved = 0;
    /// for (out, slot) in buffer.iter_mut().zip(before.saved_slots()) {
    ///     *out = slot;
    ///     saved += 1;
    /// }
    ///
    /// // After a restart, with the same seed and plans:
    /// let mut after = make();
    /// after.restore(fingerprint, &buffer[..saved]).unwrap();
    /// assert_eq!(after.snapshot_at("alice", Plan::FIRST, t).remaining(), 1);
    /// ```
    pub fn saved_slots(&self) -> impl Iterator<Item = SavedSlot> + '_ {
        self.slots
            .words()
            .words
            .iter()
            .enumerate()
            .filter_map(|(index, word)| {
                // Relaxed: one read of an independent word.
                let word = word.load(Ordering::Relaxed);
                match slot::holder(word) {
                    Holder::Live(_) => Some(SavedSlot {
                        index: u64::try_from(index).unwrap_or(u64::MAX),
                        tag: (word >> 64) as u64,
                        state: slot::state(word),
                    }),
                    Holder::Vacant | Holder::Inserting(_) => None,
                }
            })
    }

    /// Puts saved slots back into this table, which must hold no key
    /// (`&mut self`: nothing checks it meanwhile, so no check can insert a
    /// second copy of a key that is being restored). Every restored key has
    /// exactly the slot and the state it was saved with.
    ///
    /// # Errors
    ///
    /// Nothing changes on an error:
    ///
    /// - [`RestoreError::OtherConfiguration`] if `fingerprint` is not this
    ///   table's (another seed, capacity, plan or quota);
    /// - [`RestoreError::InUse`] if the table holds a key;
    /// - [`RestoreError::BadSlot`] for a slot past the table, one that holds
    ///   no live key or a plan the table does not have, or a position given
    ///   twice.
    pub fn restore(&mut self, fingerprint: u64, slots: &[SavedSlot]) -> Result<(), RestoreError> {
        let expected = self.fingerprint();
        if fingerprint != expected {
            return Err(RestoreError::OtherConfiguration {
                name: A::NAME,
                expected,
                found: fingerprint,
            });
        }
        let words = self.slots.words();
        // Relaxed: `&mut self` excludes every other access.
        if words
            .words
            .iter()
            .any(|word| word.load(Ordering::Relaxed) != slot::VACANT)
        {
            return Err(RestoreError::InUse);
        }
        let place = |saved: &SavedSlot| {
            let word = saved.word();
            let index = usize::try_from(saved.index).ok()?;
            match slot::holder(word) {
                Holder::Live(id) if id.plan() < P && slot::config(word) < P => {
                    let target = words.words.get(index)?;
                    // Fails on a position given twice.
                    target
                        .compare_exchange(slot::VACANT, word, Ordering::Relaxed, Ordering::Relaxed)
                        .ok()?;
                    if let Some(hint) = words.hints.get(index) {
                        hint.store(slot::hint(id), Ordering::Relaxed);
                    }
                    Some(())
                }
                _ => None,
            }
        };
        for (placed, saved) in slots.iter().enumerate() {
            if place(saved).is_none() {
                // Undo what was placed: the table was empty.
                for earlier in slots.iter().take(placed) {
                    if let Some(word) = usize::try_from(earlier.index)
                        .ok()
                        .and_then(|index| words.words.get(index))
                    {
                        let _ = word.compare_exchange(
                            earlier.word(),
                            slot::VACANT,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        );
                    }
                }
                return Err(RestoreError::BadSlot { index: saved.index });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use core::hash::Hasher;

    use siphasher::sip128::{Hasher128, SipHasher13};
    use std::vec::Vec;

    use super::*;
    use crate::keyed::{Plan, WhenFull};
    use crate::{Gcra, Instant, Quota};

    type Table = KeyedLimiter<Gcra<1_000>, 1_000, 64>;

    /// A table's fingerprint as the previous key hash layout (`LAYOUT` 1:
    /// the 128-bit output for every `N`) computed it, written out from that
    /// version's `fingerprint`.
    fn layout_1_fingerprint(table: &Table, seed: [u64; 2]) -> u64 {
        let mut hasher = SipHasher13::new_with_keys(seed[0], seed[1]);
        hasher.write(b"ratecore keyed table seed");
        let seed = hasher.finish128().h1;
        let start = fingerprint(b"keyed", &[64, 1, 1_000, seed]);
        table.plans().iter().fold(start, |hash, plan| {
            fingerprint(b"gcra", &[hash, plan.fingerprint(), 0])
        })
    }

    /// Slots saved by the previous layout hold other fingerprints at other
    /// positions for the same keys: they are refused, and nothing changes.
    #[test]
    fn slots_saved_under_the_previous_key_hash_layout_are_refused() {
        let seed = [7, 8];
        let make = || {
            Table::new(
                [Gcra::new(Quota::per_minute(10)).unwrap()],
                seed,
                WhenFull::Deny,
            )
        };
        let t = Instant::<1_000>::from_ticks(0);
        let before = make();
        assert_eq!(<Gcra<1_000> as Algorithm<1_000>>::NAME, "gcra");
        before.check_n_at("alice", Plan::FIRST, 9, t).unwrap();
        let slots: Vec<SavedSlot> = before.saved_slots().collect();
        assert_eq!(slots.len(), 1);
        let old = layout_1_fingerprint(&before, seed);
        assert_ne!(old, before.fingerprint());

        let mut after = make();
        assert!(matches!(
            after.restore(old, &slots),
            Err(RestoreError::OtherConfiguration { .. })
        ));
        assert_eq!(after.saved_slots().count(), 0);
        after.restore(before.fingerprint(), &slots).unwrap();
        assert_eq!(after.snapshot_at("alice", Plan::FIRST, t).remaining(), 1);
    }
}
