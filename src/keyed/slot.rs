//! The layout of one slot: a single 128-bit word holding the key's tag in the
//! high half and its algorithm's state in the low half.
//!
//! ```text
//! bits 127..126  status: 00 vacant, 01 inserting, 10 live
//! bits 125..118  plan index (0..=255): with the fingerprint, the key
//! bits 117..110  configuration index (0..=255): which of the table's
//!                algorithms the state is under (the plan's own, unless the
//!                plan was reconfigured)
//! bits 109..64   fingerprint: 46 bits of the key's keyed hash
//! bits  63..0    the algorithm's state word
//! ```
//!
//! Beside each word the table keeps a one-byte *hint* ([`hint`]): a byte of
//! the identity of the key last placed in the slot, `0` for none. It is only
//! a filter for look-ups (see `probe`): the word stays the truth.
//!
//! A vacant slot is the all-zero word. Packing tag and state into one word is
//! what makes the table exact: a decision is a compare-and-swap of the whole
//! word, so it can only land while the slot still holds the key it was decided
//! for, and a reclaim is a compare-and-swap of the whole word, so it can only
//! land on the idle state it judged.

/// The all-zero word: no key, no state.
pub(crate) const VACANT: u128 = 0;

const STATUS_MASK: u64 = 0b11 << 62;
const INSERTING: u64 = 0b01 << 62;
const LIVE: u64 = 0b10 << 62;
const PLAN_SHIFT: u32 = 54;
const CONFIG_SHIFT: u32 = 46;
const CONFIG_MASK: u64 = 0xff << CONFIG_SHIFT;
/// The bits of a key's hash its identity keeps: its fingerprint.
pub(crate) const FINGERPRINT_BITS: u32 = CONFIG_SHIFT;
const FINGERPRINT_MASK: u64 = (1 << FINGERPRINT_BITS) - 1;

/// A key's identity in the table: its plan and 46 bits of its keyed hash.
/// Two keys with the same identity share one state (see the table's docs on
/// fingerprint collisions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Id(u64);

impl Id {
    pub(crate) const fn new(hash: u64, plan: u8) -> Self {
        Self(((plan as u64) << PLAN_SHIFT) | (hash & FINGERPRINT_MASK))
    }

    /// The index of the plan whose algorithm interprets this key's state.
    pub(crate) const fn plan(self) -> usize {
        // At most 8 bits: the status bits are never part of an `Id`.
        (self.0 >> PLAN_SHIFT) as usize
    }
}

/// The hint byte of `id`: 8 bits of its fingerprint mixed with its plan,
/// never `0` (the hint of a slot no key was ever placed in).
pub(crate) const fn hint(id: Id) -> u8 {
    // Truncation is the point: the low byte of fingerprint and plan mixed.
    let byte = (id.0 ^ (id.0 >> PLAN_SHIFT)) as u8;
    if byte == 0 { 1 } else { byte }
}

/// What a slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Holder {
    /// Nobody: free for any key.
    Vacant,
    /// Reserved for a key whose insertion is being checked for duplicates;
    /// no decision is ever made on it.
    Inserting(Id),
    /// A key, with the state in the low half.
    Live(Id),
}

/// The holder of `word`.
pub(crate) const fn holder(word: u128) -> Holder {
    let tag = (word >> 64) as u64;
    let id = Id(tag & !STATUS_MASK & !CONFIG_MASK);
    match tag & STATUS_MASK {
        0 => Holder::Vacant,
        INSERTING => Holder::Inserting(id),
        // `0b11` is never written; reading it as live only keeps it from
        // being reused, the conservative choice.
        _ => Holder::Live(id),
    }
}

/// What kind of holder `word` has, from its status bits alone: what
/// [`holder`] tells without the key, in one shift (the settling scan asks it
/// of every word).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// [`Holder::Vacant`].
    Vacant,
    /// [`Holder::Inserting`].
    Inserting,
    /// [`Holder::Live`] (the never-written status `0b11` too, as `holder`
    /// reads it).
    Live,
}

/// The [`Kind`] of `word`'s holder.
#[inline(always)]
pub(crate) const fn kind(word: u128) -> Kind {
    // The two status bits, bits 127..126.
    match word >> 126 {
        0 => Kind::Vacant,
        1 => Kind::Inserting,
        _ => Kind::Live,
    }
}

/// The high half of `word` without its configuration index: equal to
/// `LIVE | id` (or `INSERTING | id`) exactly when [`holder`] is
/// `Live(id)` (or `Inserting(id)`). Two instructions where matching a
/// [`Holder`] takes a branch per status: what the hot path compares.
const fn identity(word: u128) -> u64 {
    ((word >> 64) as u64) & !CONFIG_MASK
}

/// Whether `word` holds `id` live: `holder(word) == Holder::Live(id)`
/// (which reads the never-written status `0b11` as live too: the low status
/// bit is masked off here).
#[inline(always)]
pub(crate) const fn is_live(word: u128, id: Id) -> bool {
    identity(word) & !INSERTING == LIVE | id.0
}

/// Whether `word` is a reservation of `id`:
/// `holder(word) == Holder::Inserting(id)`.
#[inline(always)]
pub(crate) const fn is_inserting(word: u128, id: Id) -> bool {
    identity(word) == INSERTING | id.0
}

/// Whether `word` names `id` at all, live or reserved (any status but
/// vacant). The fingerprints are compared first, with a shift that needs no
/// 64-bit mask in a register: a scan calls out of line for each 128-bit load
/// (portable-atomic's run-time dispatch), which leaves no spare register to
/// hold one, and a slot of another key fails that test alone.
#[inline(always)]
pub(crate) const fn names(word: u128, id: Id) -> bool {
    let tag = (word >> 64) as u64;
    // Bits 45..0 only: the fingerprint.
    ((tag ^ id.0) << (64 - CONFIG_SHIFT)) == 0
        && tag & !STATUS_MASK & !CONFIG_MASK == id.0
        && tag & STATUS_MASK != 0
}

/// The algorithm state in `word`.
pub(crate) const fn state(word: u128) -> u64 {
    // Truncation is the point: the low half.
    word as u64
}

/// The index of the configuration (of the table's algorithms) that the
/// state in `word` is under.
pub(crate) const fn config(word: u128) -> usize {
    // At most 8 bits, masked.
    (((word >> 64) as u64 & CONFIG_MASK) >> CONFIG_SHIFT) as usize
}

const fn config_bits(config: usize) -> u64 {
    // Truncation is the point: a configuration index is below 256.
    ((config as u8) as u64) << CONFIG_SHIFT
}

/// `id` live with `state` under configuration `config`.
pub(crate) const fn live(id: Id, config: usize, state: u64) -> u128 {
    (((LIVE | config_bits(config) | id.0) as u128) << 64) | state as u128
}

/// `id` reserved, with `state` under `config` waiting to become live.
pub(crate) const fn inserting(id: Id, config: usize, state: u64) -> u128 {
    (((INSERTING | config_bits(config) | id.0) as u128) << 64) | state as u128
}

/// `word` (live or reserved) with its state under `config` replaced by
/// `state`, its key unchanged.
pub(crate) const fn with_state(word: u128, config: usize, state: u64) -> u128 {
    let tag = ((word >> 64) as u64 & !CONFIG_MASK) | config_bits(config);
    ((tag as u128) << 64) | state as u128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let id = Id::new(u64::MAX, 255);
        assert_eq!(id.plan(), 255);
        assert_eq!(holder(live(id, 3, 7)), Holder::Live(id));
        assert_eq!(config(live(id, 3, 7)), 3);
        assert_eq!(config(live(id, 255, 7)), 255);
        assert_eq!(state(live(id, 0, u64::MAX)), u64::MAX);
        assert_eq!(holder(inserting(id, 9, 0)), Holder::Inserting(id));
        assert_eq!(config(inserting(id, 9, 0)), 9);
        assert_eq!(holder(VACANT), Holder::Vacant);
        let moved = with_state(live(id, 3, 7), 200, 8);
        assert_eq!(
            (holder(moved), config(moved), state(moved)),
            (Holder::Live(id), 200, 8)
        );
        // Fingerprint bits never reach the plan or the status.
        assert_eq!(Id::new(u64::MAX, 0).plan(), 0);
        assert_ne!(Id::new(1, 0), Id::new(1, 1));
        // The fast tests agree with `holder` on every status and identity.
        let other = Id::new(3, 1);
        for word in [
            VACANT,
            live(id, 3, 7),
            inserting(id, 3, 7),
            live(other, 0, 0),
            inserting(other, 255, 1),
            u128::MAX,
        ] {
            for who in [id, other, Id::new(0, 0)] {
                assert_eq!(is_live(word, who), holder(word) == Holder::Live(who));
                assert_eq!(
                    is_inserting(word, who),
                    holder(word) == Holder::Inserting(who)
                );
                let expected = match holder(word) {
                    Holder::Vacant => Kind::Vacant,
                    Holder::Inserting(_) => Kind::Inserting,
                    Holder::Live(_) => Kind::Live,
                };
                assert_eq!(kind(word), expected);
                assert_eq!(
                    names(word, who),
                    matches!(holder(word), Holder::Live(held) | Holder::Inserting(held) if held == who)
                );
            }
        }
        // An identity with a zero fingerprint and plan 0 is still not vacant.
        assert_eq!(
            holder(live(Id::new(0, 0), 0, 0)),
            Holder::Live(Id::new(0, 0))
        );
    }

    #[test]
    fn hints_are_never_zero_and_tell_plans_apart() {
        for hash in [0, 1, 0xff, 0x100, u64::MAX] {
            for plan in [0, 1, 255] {
                assert_ne!(hint(Id::new(hash, plan)), 0);
            }
        }
        assert_ne!(hint(Id::new(7, 0)), hint(Id::new(7, 1)));
        assert_ne!(hint(Id::new(7, 0)), hint(Id::new(8, 0)));
    }
}
