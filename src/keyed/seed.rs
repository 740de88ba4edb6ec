//! A secret seed for a keyed table built at run time.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// A fresh, secret, random seed for a keyed table built at run time
/// ([`KeyedLimiter::new`](super::KeyedLimiter::new) or
/// [`new_boxed`](super::KeyedLimiter::new_boxed)).
///
/// The randomness is the operating system's, through `std`'s
/// [`RandomState`] (the keys that make every `HashMap` resistant to hash
/// flooding, drawn from the OS once per thread and advanced on every use):
/// each half of the seed is a SipHash of a distinct word under a fresh
/// `RandomState`'s secret 128-bit key. Every call returns a different seed.
/// On the few targets where `std` has no source of randomness, `HashMap`s
/// are not randomized either; use a seed from your platform's generator
/// there.
///
/// ```
/// use ratecore::keyed::random_seed;
///
/// let seed = random_seed();
/// assert_ne!(seed, random_seed());
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub fn random_seed() -> [u64; 2] {
    let half = |word: u64| {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(word);
        hasher.finish()
    };
    [half(0x5eed_0000_0000_0000), half(0x5eed_0000_0000_0001)]
}
