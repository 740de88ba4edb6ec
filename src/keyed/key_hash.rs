//! A key's keyed hash: SipHash-1-3 under the table's secret seed, split into
//! the key's 46-bit fingerprint and the spread that chooses its window.
//!
//! The fingerprint must be independent of the window: two keys that share a
//! slot of their windows are told apart by their fingerprints alone, so any
//! fingerprint bit that also chose the window would be a bit two such keys
//! are more likely to share. A table of up to 512 groups (8,192 slots) has at
//! most 2^18 ordered pairs of groups: one 64-bit output is enough, its low 46
//! bits the fingerprint, its high 18 the window ([`Window::from_spare`]).
//! A larger table needs more than 64 bits in all and takes the 128-bit
//! output, one half each (three more finalization rounds, about 45
//! instructions). Which of the two a table uses is decided by `N` at compile
//! time.

use core::hash::{Hash, Hasher};

use siphasher::sip::SipHasher13;
use siphasher::sip128::{Hasher128, SipHasher13 as SipHasher13Wide};

use super::probe_window::{SPARE_BITS, Window};
use super::slot::Id;

/// What [`locate`] makes of a key's hash, as a number: part of a table's
/// [`fingerprint`](super::KeyedLimiter::fingerprint), so that slots saved
/// under another layout are refused. `1`: one 128-bit output for every `N`
/// (fingerprint from the first half, window from the second, the
/// 32-bit-halves split of [`Window::new`]); `2`: this module's.
pub(crate) const LAYOUT: u64 = 2;

/// A key's keyed hash, before it is split into an identity and a window
/// ([`place`]): the 64-bit output (and 0) for a table that
/// [`Window::fits_spare`], else the 128-bit output's two halves. Tables of
/// one `N` under one seed hash every key alike, so one hash serves them all
/// (see `KeyedTiers`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeyHash([u64; 2]);

/// The identity of `key` under `plan` and its window in a table of `N`
/// slots, hashed under `seed`.
// Inlined: returned through registers, not a 40-byte value in memory.
#[inline(always)]
pub(crate) fn locate<K: Hash + ?Sized, const N: usize>(
    seed: [u64; 2],
    key: &K,
    plan: u8,
) -> (Id, Window) {
    place::<N>(hash::<K, N>(seed, key), plan)
}

/// The keyed hash of `key` under `seed` for a table of `N` slots.
#[inline(always)]
pub(crate) fn hash<K: Hash + ?Sized, const N: usize>(seed: [u64; 2], key: &K) -> KeyHash {
    let [k0, k1] = seed;
    if const { Window::fits_spare(N) } {
        // SipHash-1-3 with 64-bit output, as std's `HashMap`.
        let mut hasher = SipHasher13::new_with_keys(k0, k1);
        key.hash(&mut hasher);
        KeyHash([hasher.finish(), 0])
    } else {
        let mut hasher = SipHasher13Wide::new_with_keys(k0, k1);
        key.hash(&mut hasher);
        let hash = hasher.finish128();
        KeyHash([hash.h1, hash.h2])
    }
}

/// The identity under `plan` and the window in a table of `N` slots of the
/// key whose [`hash`] is `hash`.
// Inlined where the window is used: computed there, its groups' bounds are
// known to the compiler, which then unrolls the scan of a group's hints.
#[inline(always)]
pub(crate) fn place<const N: usize>(KeyHash([low, high]): KeyHash, plan: u8) -> (Id, Window) {
    if const { Window::fits_spare(N) } {
        // The low 46 bits are the fingerprint (`Id::new` keeps only
        // those), the high 18 the window; disjoint, so independent.
        (
            Id::new(low, plan),
            Window::from_spare(N, low >> (u64::BITS - SPARE_BITS)),
        )
    } else {
        (Id::new(low, plan), Window::new(N, high))
    }
}

/// A digest of `seed` that tells nothing of it (a keyed hash of a
/// constant): what a table's fingerprint says of its seed.
pub(crate) fn seed_digest(seed: [u64; 2]) -> u64 {
    let [k0, k1] = seed;
    let mut hasher = SipHasher13::new_with_keys(k0, k1);
    hasher.write(b"ratecore keyed table seed");
    hasher.finish()
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::keyed::slot::FINGERPRINT_BITS;
    use std::vec::Vec;

    /// A table of up to 8,192 slots takes the 64-bit output, its
    /// fingerprint from the low 46 bits and its window from the other 18
    /// alone.
    #[test]
    fn fingerprint_and_window_come_from_disjoint_bits() {
        assert_eq!(FINGERPRINT_BITS + SPARE_BITS, u64::BITS);
        // Keys whose 64-bit hashes differ only in the fingerprint bits get
        // the same window, and only in the spare bits the same identity.
        let seed = [3, 4];
        let keys: Vec<u64> = (0..2_000).collect();
        let hashes: Vec<u64> = keys
            .iter()
            .map(|key| {
                let mut hasher = SipHasher13::new_with_keys(seed[0], seed[1]);
                key.hash(&mut hasher);
                hasher.finish()
            })
            .collect();
        for (key, hash) in keys.iter().zip(&hashes) {
            let (id, window) = locate::<u64, 1_024>(seed, key, 0);
            assert_eq!(id, Id::new(hash & ((1 << FINGERPRINT_BITS) - 1), 0));
            assert_eq!(
                window,
                Window::from_spare(1_024, hash >> FINGERPRINT_BITS),
                "{key}"
            );
        }
    }
}
