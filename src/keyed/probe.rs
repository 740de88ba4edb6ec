//! The lock-free protocol over the slots: find a key, insert it exactly once,
//! and apply a decision to its word.
//!
//! # Invariants
//!
//! 1. *A decision lands only on its key's word.* Every state change is a
//!    compare-and-swap of the whole 128-bit word, tag included, from the word
//!    the decision was made on. If the slot changed hands in between, the
//!    exchange fails. (ABA is harmless: if the word is again bit-for-bit the
//!    one decided on, the key and its state are exactly those the decision
//!    was made for.)
//! 2. *Only idle keys are reclaimed.* A live key's slot is taken by a
//!    compare-and-swap from the very word whose state was judged idle, so a
//!    check that lands in between makes the reclaim fail.
//! 3. *At most one live slot per key.* Two threads may miss a key and insert
//!    it at once into different slots of its window. So an insertion first
//!    reserves its slot ([`Holder::Inserting`], on which no decision is made),
//!    then looks at every other slot of the window ([`settle`]): another live
//!    copy, or a reservation at an earlier position, makes it withdraw; a
//!    reservation at a later position is withdrawn by it. The reservation and
//!    those loads are sequentially consistent (the store-buffering pattern):
//!    of two racing reservations, at least one sees the other, and every
//!    withdrawal and promotion is a compare-and-swap on the reservation's
//!    own word, so exactly one of them becomes live. Any thread that meets a
//!    reservation for its own key runs the same [`settle`] on it, so a stalled
//!    inserter never blocks its key.
//! 4. *An inserted key is charged as it becomes live.* The inserter promotes
//!    its reservation straight to the state its check stores, in the same
//!    compare-and-swap. (Promoting to the fresh state and charging after lets
//!    two new keys racing for one slot reclaim each other's still-idle slot
//!    forever: loom found that livelock.) A helper promotes someone else's
//!    reservation to the fresh state instead; the inserter then sees its own
//!    promotion fail and applies its check to the live key like any other:
//!    its decision is applied exactly once, by exactly one compare-and-swap.
//! 5. *Every decision sees every reclaim of its key.* A decision is made at
//!    the later of the caller's instant and the reclaim floor, loaded after
//!    the last scan of the window (the look-up, or for an inserter the
//!    settling scan): any earlier copy of the key that the decision does not
//!    build on was reclaimed before that scan read its slot, and the floor
//!    was raised before that reclaim (see `find` and `settle`).
//!
//! Every loop retries only because another thread changed a slot (it made
//! progress), so the protocol is lock-free wherever the 128-bit
//! compare-and-swap is.
//!
//! # Where a reservation goes
//!
//! A new key takes a free slot (vacant, or a live key that is idle) of the
//! group of its window with more room, the first group on a tie ("the power
//! of two choices"). Choosing needs every word of the window, and so does
//! [`settle`]: loading the window twice (the look-up, then the settling
//! scan) was most of an insertion's cost. So a check whose hints lead
//! nowhere ([`find_hinted`]) does not scan first: [`reserve`] claims the
//! first free slot in position order, loading words only up to it, and the
//! settling scan, which loads every word anyway, is the look-up and the
//! choice ([`settle_reserved`]):
//!
//! - any copy of the key not found live through the hints (a stale hint, or
//!   a reservation, which [`find_hinted`] leaves to a scan), is met by the
//!   early claim's loads (the check then looks again, with a full scan) or
//!   by the settling scan, exactly as a racing insertion's is (invariant 3):
//!   a live copy or an earlier reservation wins, and the check looks again
//!   with a full scan; a later reservation is withdrawn;
//! - the words it loads are the view the choice is made from: it counts
//!   the free slots of each group as it loads them (our slot counted free,
//!   as it was when claimed; of the second group, only as many as can
//!   change the choice), and if the other group has more room by the
//!   rule of [`choose`], ours is withdrawn and the check reserves again in
//!   that group: its first free slot, loading words only up to it, a claim
//!   that then settles as any reservation does and is not moved again
//!   ([`Settled::Moved`]). Only the group is checked: a slot of the same
//!   group freed after our claim does not move it.
//!
//! A reservation is a reservation wherever it is: the invariants above do
//! not depend on how its slot was chosen. What the early claim changes is
//! the count: one scan of the window instead of two when the first free
//! slot's group has at least the other's room (or the window is one group),
//! and two, as before, when the choice moves it.

//!
//! # Hints
//!
//! Beside each slot's word is a one-byte hint ([`hint`]) naming the key last
//! placed there. A look-up first loads only the words whose hint is its
//! key's, and returns the key if one of them holds it live; only when none
//! does (a miss, a stale hint, a reservation to help) does it scan every
//! word of the window, as the protocol above describes. A hint is a filter,
//! never the truth:
//!
//! - It is written (a Relaxed store) by [`reserve`] just after its claim's
//!   compare-and-swap succeeded, and by the full scan when it finds its key
//!   live under another hint (a repair). It is read (a Relaxed load) only by
//!   the first pass of [`find`] ([`find_hinted`], which a check also runs
//!   alone for a hit), to choose which words to load.
//! - Relaxed on both sides because a hint pairs with no other operation, on
//!   purpose: nothing is published through it. The word load that follows a
//!   matching hint is the acquire that pairs with the release of the claim
//!   (in [`reserve`]) or promotion (in [`promote`]) that wrote the word,
//!   exactly as in the full scan, and every answer rests on that word alone.
//! - A hint may be stale either way. Naming a key the slot no longer holds,
//!   it costs one look at a word that does not match. Not yet naming the key
//!   the slot holds (its writer has not stored it yet, or a stalled writer's
//!   late store replaced a newer hint), it makes the first pass miss the key;
//!   the full scan, which ignores hints, then finds it and repairs the hint.
//!   A look-up never concludes that a key is absent from the hints: [`find`]
//!   scans first, and a check whose [`find_hinted`] missed only acts on
//!   the miss by reserving a slot, whose settling scan ignores hints (see
//!   "Where a reservation goes"); a check that would store nothing scans
//!   before it answers. So a stale hint costs a scan, never a wrong answer,
//!   a duplicate, or progress.

use crate::kernel::cas::{Next, update_wide};
use crate::kernel::sync::{AtomicU64, AtomicU128, Ordering};

use super::probe_window::{MAX_WINDOW, Window};
use super::slot::{
    Holder, Id, Kind, VACANT, config, hint, holder, inserting, is_inserting, is_live, kind, live,
    names, state, with_state,
};
use super::storage::Slots;

/// Where a key is.
pub(crate) enum Found<'a> {
    /// Live in `slot`, which held `word` when looked at.
    Live { slot: &'a AtomicU128, word: u128 },
    /// Nowhere in its window, whose words were as left in the [`Seen`]; or,
    /// with a [`Seen`] left without words, under none of its hints (a
    /// check's guess after [`find_hinted`]: see [`Seen::scanned`]).
    Absent,
}

/// The words of a window as the last full scan saw them, by position; none
/// before the first full scan (a look-up that found its key through the hints
/// never writes them, so a hit costs no clearing of 32 words).
pub(crate) struct Seen {
    words: Option<[u128; MAX_WINDOW]>,
}

impl Seen {
    pub(crate) const fn new() -> Self {
        Self { words: None }
    }

    /// Whether the window was scanned in full: an absence is then the truth,
    /// not a guess from the hints (see "Where a reservation goes").
    pub(crate) const fn scanned(&self) -> bool {
        self.words.is_some()
    }
}

/// What an attempt to reserve a slot for a key did.
pub(crate) enum Reserved<'a> {
    /// `slot`, at `position` of the window, now holds `reservation`: settle
    /// it, then promote it (or withdraw it).
    Slot {
        slot: &'a AtomicU128,
        position: usize,
        reservation: u128,
        /// Whether the slot was the first free one rather than chosen from
        /// a full view of the window: [`settle_reserved`] then checks the
        /// choice.
        early: bool,
    },
    /// The chosen slot changed since the look-up: look the key up again.
    Retry,
    /// Every slot of the window holds another key that is not idle (or is
    /// being inserted).
    Full,
}

/// Looks for `id` in its window, helping any insertion of it in flight, and
/// leaves in `seen` the words it saw if it scanned the window in full (it
/// always does before answering [`Found::Absent`]).
#[inline(always)]
pub(crate) fn find<'a>(slots: Slots<'a>, window: &Window, id: Id, seen: &mut Seen) -> Found<'a> {
    match find_hinted(slots, window, id) {
        Some((slot, word)) => Found::Live { slot, word },
        None => scan(slots, window, id, seen),
    }
}

/// The first pass of [`find`]: only the words whose hint is the key's (see
/// "Hints"), one hint byte per step, a slot's address made only on a match.
/// The slot that holds `id` live and its word, or `None`: the key may still
/// be anywhere in the window (a stale hint), or being inserted (a
/// reservation to help); [`scan`] tells.
#[inline(always)]
pub(crate) fn find_hinted<'a>(
    slots: Slots<'a>,
    window: &Window,
    id: Id,
) -> Option<(&'a AtomicU128, u128)> {
    let tag = hint(id);
    for group in window.groups() {
        let start = group.start;
        let Some(hints) = slots.hints.get(group) else {
            continue;
        };
        for (offset, hinted) in hints.iter().enumerate() {
            // Relaxed: a filter that pairs with nothing (see "Hints").
            if hinted.load(Ordering::Relaxed) != tag {
                continue;
            }
            let Some(slot) = slots.words.get(start.wrapping_add(offset)) else {
                continue;
            };
            // Acquire: as in `scan`.
            let word = slot.load(Ordering::Acquire);
            if is_live(word, id) {
                return Some((slot, word));
            }
            if is_inserting(word, id) {
                // A reservation of the key: `scan` helps it.
                return None;
            }
        }
    }
    None
}

/// [`find`] without the hints: loads every word of the window.
#[inline(never)]
pub(crate) fn scan<'a>(slots: Slots<'a>, window: &Window, id: Id, seen: &mut Seen) -> Found<'a> {
    let tag = hint(id);
    loop {
        let words = seen.words.get_or_insert([VACANT; MAX_WINDOW]);
        let mut reserved = None;
        let mut base = 0usize;
        for group in window.groups() {
            let start = group.start;
            let first = base;
            base = base.saturating_add(group.len());
            let (Some(group), Some(out)) = (slots.words.get(group), words.get_mut(first..base))
            else {
                continue;
            };
            for (offset, (slot, out)) in group.iter().zip(out).enumerate() {
                // Acquire: pairs with the release of the claim (in
                // `reserve`) that took this slot from another key. A key
                // found missing here was reclaimed before that claim, which
                // raised the reclaim floor first; the caller then loads the
                // floor and sees the raise.
                let word = slot.load(Ordering::Acquire);
                *out = word;
                // One compare per slot on the common path (another key, or
                // none); the rest only for a copy of the key.
                if !names(word, id) {
                    continue;
                }
                if !is_inserting(word, id) {
                    if let Some(hinted) = slots.hints.get(start.wrapping_add(offset)) {
                        // Relaxed: a repair of a filter (see "Hints").
                        if hinted.load(Ordering::Relaxed) != tag {
                            hinted.store(tag, Ordering::Relaxed);
                        }
                    }
                    return Found::Live { slot, word };
                }
                if reserved.is_none() {
                    reserved = Some((first.wrapping_add(offset), word));
                }
            }
        }
        let Some((position, word)) = reserved else {
            return Found::Absent;
        };
        // Someone is inserting this key: finish their job (without their
        // check, which they apply themselves), then look again.
        if settle(slots, window, id, position, word) {
            if let Some(slot) = slots.words.get(window.slot(position)) {
                promote(slot, word, config(word), state(word));
            }
        }
    }
}

/// Reserves for `id`, which `find` saw absent as in `seen`, a free or idle
/// slot of its window, holding the `fresh` state under configuration
/// `config` until it is promoted. `is_idle(word)` says whether another key's
/// live slot may be reclaimed; reclaiming raises `floor` to `at` first (see
/// the table's docs on stale readings).
///
/// When `seen` has no words (an absence guessed from the hints), it
/// claims the first free slot of the window in position order, loading
/// words only up to it, and leaves the choice to be checked by
/// [`settle_reserved`]; it answers [`Reserved::Retry`] (look again, with a
/// full scan) if it meets a copy of the key first, and [`Reserved::Full`]
/// if it loaded every word and none is free. With `moved` (the group a
/// settling scan chose, see [`Settled::Moved`]: `true` for the second), it
/// does the same within that group only, and the claim is final (not
/// checked again); a group with no free slot left answers
/// [`Reserved::Retry`], as the other may still have room.
#[allow(clippy::too_many_arguments)]
pub(crate) fn reserve<'a>(
    slots: Slots<'a>,
    window: &Window,
    id: Id,
    (seen, moved): (&Seen, Option<bool>),
    (config, fresh): (usize, u64),
    floor: &AtomicU64,
    at: u64,
    is_idle: impl Fn(u128) -> bool,
) -> Reserved<'a> {
    let is_free = |word: u128| free(word, &is_idle);
    let claim = |position: usize, word: u128, early: bool| {
        claim(
            slots,
            window,
            id,
            (position, word),
            (config, fresh),
            floor,
            at,
            early,
        )
    };
    let Some(words) = &seen.words else {
        let mut base = 0usize;
        for (second, group) in [false, true].into_iter().zip(window.groups()) {
            let first = base;
            base = base.saturating_add(group.len());
            if moved.is_some_and(|to| to != second) {
                continue;
            }
            let Some(group) = slots.words.get(group) else {
                continue;
            };
            for (offset, slot) in group.iter().enumerate() {
                // Acquire: as in `scan` (this is its beginning, for a check
                // that inserts).
                let word = slot.load(Ordering::Acquire);
                if names(word, id) {
                    // The hints missed a copy of the key: look again.
                    return Reserved::Retry;
                }
                if is_free(word) {
                    return claim(first.wrapping_add(offset), word, moved.is_none());
                }
            }
        }
        if moved.is_some() {
            // The chosen group filled up since: choose again from a scan.
            return Reserved::Retry;
        }
        // Every word loaded, none free and none a copy of the key: what a
        // full scan and the choice from it would answer.
        return Reserved::Full;
    };
    match choose(words, window, is_free) {
        Some((position, word)) => claim(position, word, false),
        None => Reserved::Full,
    }
}

/// Whether `word` leaves its slot free for a new key: vacant, or a live key
/// that `is_idle` says may be reclaimed (never a reservation).
#[inline(always)]
fn free(word: u128, is_idle: impl Fn(u128) -> bool) -> bool {
    // The status bits alone (`kind`, one shift): matching a `Holder`
    // masks and compares twice, on every word of the settling scan.
    match kind(word) {
        Kind::Vacant => true,
        Kind::Inserting => false,
        Kind::Live => is_idle(word),
    }
}

/// The position a new key takes in a window whose words are `words` (by
/// position), and its word: the first free slot of the group with more
/// room, the first group on a tie ("the power of two choices"); `None` if
/// no slot is free.
fn choose(
    words: &[u128; MAX_WINDOW],
    window: &Window,
    is_free: impl Fn(u128) -> bool,
) -> Option<(usize, u128)> {
    let [one, two] = window.groups();
    let (first_words, second_words) = (
        words.get(..one.len())?,
        words.get(one.len()..one.len().saturating_add(two.len()))?,
    );
    let mut room = 0usize;
    let mut first = None;
    for (position, &word) in first_words.iter().enumerate() {
        if is_free(word) {
            room = room.wrapping_add(1);
            if first.is_none() {
                first = Some((position, word));
            }
        }
    }
    // The second group's count stops once it can change nothing (see
    // `second_group_worth`). A first group with all its slots free, as in a
    // table with room to spare, settles it without judging a word of the
    // second.
    let worth = second_group_worth(room, second_words.len());
    let mut second_room = 0usize;
    let mut second_first = None;
    for (offset, &word) in second_words.iter().enumerate() {
        if second_room >= worth {
            break;
        }
        if is_free(word) {
            second_room = second_room.wrapping_add(1);
            if second_first.is_none() {
                second_first = Some((one.len().wrapping_add(offset), word));
            }
        }
    }
    if prefers_second(room, second_room) {
        second_first
    } else {
        first
    }
}

/// The power of two choices between the groups of a window: the second only
/// with strictly more room (on a tie, or when it is empty, the first).
fn prefers_second(first_room: usize, second_room: usize) -> bool {
    second_room > first_room
}

/// How many free slots of a second group of `second_len` slots are worth
/// counting against a first group with `first_room`: one more than that (the
/// second then wins, and more changes nothing), or none if the group has
/// fewer slots than that (it cannot win). In a window of idle keys, that
/// spares the idleness test of every key of the second group.
fn second_group_worth(first_room: usize, second_len: usize) -> usize {
    let need = first_room.saturating_add(1);
    if need > second_len { 0 } else { need }
}

/// Claims the slot at `position`, which held `word`, for `id`: the
/// reservation's compare-and-swap (see [`reserve`]).
#[allow(clippy::too_many_arguments)]
fn claim<'a>(
    slots: Slots<'a>,
    window: &Window,
    id: Id,
    (position, word): (usize, u128),
    (config, fresh): (usize, u64),
    floor: &AtomicU64,
    at: u64,
    early: bool,
) -> Reserved<'a> {
    let index = window.slot(position);
    let Some(slot) = slots.words.get(index) else {
        return Reserved::Full;
    };
    if word != VACANT {
        // Reclaiming an idle key: raise the floor before the claim below
        // publishes the key's absence. Relaxed: it is the claim's release
        // (sequenced after this) that orders it for any thread that sees
        // the claim; see `find`.
        floor.fetch_max(at, Ordering::Relaxed);
    }
    let reservation = inserting(id, config, fresh);
    // SeqCst: the reservation is the store of the store-buffering pattern
    // in `settle` (paired with the SeqCst loads there, ours and those of a
    // racing insertion of the same key); it is also the release that the
    // acquire loads in `find` pair with. Failure: Relaxed, the slot changed
    // and the caller looks again with acquire loads.
    match slot.compare_exchange(word, reservation, Ordering::SeqCst, Ordering::Relaxed) {
        Ok(_) => {
            if let Some(hinted) = slots.hints.get(index) {
                // Relaxed: after the claim, a filter that pairs with nothing
                // (see "Hints"); the claim's release is what `find` pairs with.
                hinted.store(hint(id), Ordering::Relaxed);
            }
            Reserved::Slot {
                slot,
                position,
                reservation,
                early,
            }
        }
        Err(_) => Reserved::Retry,
    }
}

/// How settling a reservation ended.
pub(crate) enum Settled {
    /// It may be promoted.
    Won,
    /// It was withdrawn for another copy of the key: look again.
    Lost,
    /// It was withdrawn because the window, seen in full by the settling
    /// scan, has more room in the other group (an early claim only):
    /// reserve again in that group (`true`: the second), see [`reserve`].
    Moved(bool),
}

/// Settles the reservation `reserved` (a [`Reserved::Slot`]) with
/// [`settle`]. An early claim (the first free slot, see [`reserve`]) is
/// checked against the choice a full view gives: the settling scan counts
/// the free slots of each group as it loads them (ours counted free, as it
/// was claimed), and if the other group has the room that [`choose`] would
/// prefer, the reservation is withdrawn and [`Settled::Moved`] answered.
/// Counting in the scan, rather than keeping its words and choosing after,
/// spares an insertion a second walk over the window and the copy of 32
/// words.
pub(crate) fn settle_reserved(
    slots: Slots<'_>,
    window: &Window,
    id: Id,
    (mine, reservation, early): (usize, u128, bool),
    is_idle: impl Fn(u128) -> bool,
) -> Settled {
    if !early {
        return if settle(slots, window, id, mine, reservation) {
            Settled::Won
        } else {
            Settled::Lost
        };
    }
    let [one, two] = window.groups();
    let ours_second = mine >= one.len();
    // Our own slot is loaded as the reservation, never free: it counts as
    // the free slot it was when claimed.
    let (ours_first, ours_second_count) = (usize::from(!ours_second), usize::from(ours_second));
    // The free slots of the second group worth counting, besides ours.
    let cap = |first_free: usize| {
        second_group_worth(first_free.saturating_add(ours_first), two.len())
            .saturating_sub(ours_second_count)
    };
    let is_free = |word| free(word, &is_idle);
    let Some([first_free, second_free]) =
        settle_with(slots, window, id, mine, reservation, is_free, cap)
    else {
        return Settled::Lost;
    };
    let first_room = first_free.saturating_add(ours_first);
    let second_room = second_free.saturating_add(ours_second_count);
    let chosen_second = prefers_second(first_room, second_room);
    if chosen_second == ours_second {
        return Settled::Won;
    }
    if let Some(slot) = slots.words.get(window.slot(mine)) {
        withdraw(slot, reservation);
    }
    Settled::Moved(chosen_second)
}

/// Settles the reservation `reservation` for `id` at `mine`: withdraws it if
/// another copy of the key should win and returns `false`; otherwise
/// withdraws every later reservation of the key and returns `true`: the
/// reservation may be [`promote`]d. Safe to run by any number of threads for
/// the same reservation.
///
/// Every copy of the key that existed before this scan was seen by it (and
/// won, or lost), or was reclaimed before the scan's load of its slot; the
/// SeqCst loads synchronize with that reclaim's release, so a reclaim floor
/// loaded after `settle` includes it.
pub(crate) fn settle(
    slots: Slots<'_>,
    window: &Window,
    id: Id,
    mine: usize,
    reservation: u128,
) -> bool {
    settle_with(slots, window, id, mine, reservation, |_| false, |_| 0).is_some()
}

/// [`settle`], counting as it goes the words of each group that `is_free`
/// says are free (its own slot's word too, and for a withdrawn reservation
/// the word after the withdrawal): `None` where `settle` answers `false`,
/// else the counts of the first and the second group, of the whole window
/// as its SeqCst loads saw it. The first group is counted in full, the
/// second up to `cap(count of the first)` only. (A count per group kept in
/// a register: a callback told each word's group tested it on every slot.)
#[inline(always)]
fn settle_with(
    slots: Slots<'_>,
    window: &Window,
    id: Id,
    mine: usize,
    reservation: u128,
    is_free: impl Fn(u128) -> bool,
    cap: impl Fn(usize) -> usize,
) -> Option<[usize; 2]> {
    let own = slots.words.get(window.slot(mine))?;
    let mut rooms = [0usize; 2];
    let mut base = 0usize;
    for (index, group) in window.groups().into_iter().enumerate() {
        let first = base;
        base = base.saturating_add(group.len());
        let Some(group) = slots.words.get(group) else {
            continue;
        };
        // The first group uncapped (`None`, not `usize::MAX`: a count
        // compared with `usize::MAX` is a compare and a branch on every
        // slot, as the compiler cannot see the count stays below it).
        let enough = match index {
            0 => None,
            _ => Some(cap(rooms[0])),
        };
        let mut free = 0usize;
        for slot in group {
            // SeqCst: the load of the store-buffering pattern; pairs with
            // the SeqCst reservation (in `reserve`) of a racing copy of the
            // key, so that of two racing reservations at least one sees the
            // other. (Our own slot is loaded too, and skipped below: one
            // load, where telling it apart before loading cost a compare
            // on every slot.)
            let mut word = slot.load(Ordering::SeqCst);
            // One compare per slot on the common path: a word that does not
            // name the key at all is no copy of it.
            if names(word, id) && !core::ptr::eq(slot, own) {
                // Its position, found again only now: counting positions in
                // the loop costs instructions on every slot.
                let offset = group
                    .iter()
                    .position(|other| core::ptr::eq(other, slot))
                    .unwrap_or(0);
                let earlier = first.saturating_add(offset) < mine;
                match contest(slot, word, id, earlier) {
                    Some(now) => word = now,
                    None => {
                        withdraw(own, reservation);
                        return None;
                    }
                }
            }
            if enough.is_none_or(|enough| free < enough) && is_free(word) {
                free = free.wrapping_add(1);
            }
        }
        if let Some(room) = rooms.get_mut(index) {
            *room = free;
        }
    }
    Some(rooms)
}

/// A copy of the key met by [`settle`] in `slot`, which held `word`: `None`
/// if it wins over the settling reservation (it is live, or a reservation at
/// an `earlier` position); otherwise it is withdrawn, and the word the slot
/// holds after that is returned. Out of line: the settling loop then keeps
/// nothing of it in registers.
#[cold]
#[inline(never)]
fn contest(slot: &AtomicU128, mut word: u128, id: Id, earlier: bool) -> Option<u128> {
    while names(word, id) {
        if !is_inserting(word, id) || earlier {
            // A live copy, or a reservation that wins over ours.
            return None;
        }
        // SeqCst: a withdrawal is ordered with the promotion it races (a
        // compare-and-swap on the same word) and with the loads of `settle`
        // in the single total order.
        match slot.compare_exchange(word, VACANT, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return Some(VACANT),
            // It changed (promoted, withdrawn, reused): look again.
            // SeqCst: as the loads of `settle`.
            Err(_) => word = slot.load(Ordering::SeqCst),
        }
    }
    Some(word)
}

/// Makes the settled `reservation` in `slot` live with `state` under
/// configuration `config`, unless another thread withdrew, promoted or
/// reconfigured it first. Returns whether this call promoted it.
pub(crate) fn promote(slot: &AtomicU128, reservation: u128, config: usize, state: u64) -> bool {
    let Holder::Inserting(id) = holder(reservation) else {
        return false;
    };
    // SeqCst: the promotion races the withdrawals in `settle` (by other
    // threads) on this same word; whichever lands first wins, in the total
    // order that the SeqCst loads of later settlers observe. Its release is
    // what the acquire loads in `find` pair with.
    slot.compare_exchange(
        reservation,
        live(id, config, state),
        Ordering::SeqCst,
        Ordering::SeqCst,
    )
    .is_ok()
}

/// Withdraws the reservation in `slot`, if it is still there (another settler
/// may have withdrawn or promoted it first; either is fine for the caller,
/// which looks again).
pub(crate) fn withdraw(slot: &AtomicU128, reservation: u128) {
    // SeqCst: as for the withdrawals in `settle`.
    let _ = slot.compare_exchange(reservation, VACANT, Ordering::SeqCst, Ordering::SeqCst);
}

/// Applies `step` to the state of the key `id` live in `slot` (which held
/// `word`, as [`find`] found it) with one compare-and-swap loop, like
/// `check_word` but over the whole 128-bit word so that the key is checked
/// with every attempt.
///
/// `step(config, state)` returns the answer and the state to store, if any,
/// under the configuration the word names (stored under the same one), so
/// that a state is always decided by the algorithm it belongs to. Returns
/// `None` if the slot no longer holds the key (it was reclaimed while idle):
/// the caller looks it up again. `stored` is the ordering of the store (see
/// the table's reconfiguration).
#[inline(always)]
pub(crate) fn update<T>(
    slot: &AtomicU128,
    word: u128,
    id: Id,
    stored: Ordering,
    step: impl Fn(usize, u64) -> Next<u64, T>,
) -> Option<T> {
    // The key is the caller's `id`, not read back from `word`: the first
    // attempt checks `word` against it like every later one.
    //
    // `stored` on success: Release when the table has several
    // configurations, paired with the acquire of the walk's loads in
    // `reconfigure_at` (after this check raised `seen`), else Relaxed; see
    // `KeyedLimiter::saw`. Relaxed reads otherwise: the word is the key and
    // its whole state, so the answer depends on nothing else, and the
    // compare-and-swap orders all updates of it by itself. It is a
    // read-modify-write, so it continues the release sequence of the claim
    // (in `reserve`) or promotion (in `promote`) that made the key live,
    // which `find`'s acquire loads pair with.
    let (answer, _, _) = update_wide(slot, word, stored, Ordering::Relaxed, |word| {
        if !is_live(word, id) {
            // Reclaimed while idle: the caller looks the key up again.
            return Next::Keep(None);
        }
        let config = config(word);
        match step(config, state(word)) {
            Next::Store(next, answer) => Next::Store(with_state(word, config, next), Some(answer)),
            Next::Keep(answer) => Next::Keep(Some(answer)),
        }
    });
    answer
}

#[cfg(all(test, not(loom)))]
mod tests {
    extern crate std;

    use super::*;
    use crate::keyed::probe_window::GROUP;
    use crate::keyed::slot::Id;
    use crate::keyed::storage::{InlineSlots, Sealed as _};
    use proptest::prelude::*;

    /// The word of a generated slot, by `kind`: vacant, idle, busy (both
    /// live, of another key per slot: the state says which) or reserved.
    fn word(kind: u8, n: u64) -> u128 {
        let other = Id::new(n.wrapping_add(100), 0);
        match kind {
            0 => VACANT,
            1 => live(other, 0, 0),
            2 => live(other, 0, 1),
            _ => inserting(other, 0, 0),
        }
    }

    /// The kinds of the 64 slots of a table (see [`word`]; a window uses
    /// the first 32) and the spread that chooses the window. Each slot is
    /// held (busy or reserved) with a chance of `busy / 8`, drawn per case,
    /// so that windows all free or all held, and ties between the groups,
    /// come up often.
    fn kinds() -> impl Strategy<Value = (std::vec::Vec<u8>, u64)> {
        let slot =
            |busy: u8| (0u8..8, 0u8..2).prop_map(move |(roll, k)| k + 2 * u8::from(roll < busy));
        let slots = (0u8..=8).prop_flat_map(move |busy| proptest::collection::vec(slot(busy), 64));
        (slots, any::<u64>())
    }

    /// A table of 64 slots (four groups) and the window of `spread`, whose
    /// slots hold the words of the kinds `held` (by position).
    fn window_of(held: &[u8], spread: u64) -> (InlineSlots<64>, Window) {
        let storage = InlineSlots::<64>::vacant();
        let window = Window::new(64, spread);
        for (position, kind) in held.iter().take(window.len()).enumerate() {
            storage.words().words[window.slot(position)]
                .store(word(*kind, position as u64), Ordering::Relaxed);
        }
        (storage, window)
    }

    /// The reference for the power of two choices over the generated kinds
    /// of a window (its first group `first_len` long): whether the second
    /// group has more free slots (vacant or idle) than the first, and the
    /// first free position of each group.
    fn reference(held: &[u8], first_len: usize) -> (bool, Option<usize>, Option<usize>) {
        let free = |kind: &u8| *kind < 2;
        let (first, second) = held.split_at(first_len);
        let room = |group: &[u8]| group.iter().filter(|k| free(k)).count();
        (
            room(second) > room(first),
            first.iter().position(free),
            second.iter().position(free).map(|p| p + first_len),
        )
    }

    /// An early claim (the first free slot, as `reserve` takes it without a
    /// view) of a window holding the kinds `held` is kept by
    /// `settle_reserved` exactly when its group is the one the power of two
    /// choices names, counted here in full with the claimed slot free (as
    /// it was); otherwise it is withdrawn and the other group named.
    fn early_claim_settles_by_the_two_choices(
        held: &[u8],
        spread: u64,
    ) -> Result<(), TestCaseError> {
        let (storage, window) = window_of(held, spread);
        let slots = storage.words();
        let id = Id::new(7, 0);
        let is_idle = |w: u128| state(w) == 0;
        let floor = AtomicU64::new(0);
        let got = reserve(
            slots,
            &window,
            id,
            (&Seen::new(), None),
            (0, 0),
            &floor,
            5,
            is_idle,
        );
        let [one, _] = window.groups();
        let (second_chosen, first, second) = reference(&held[..window.len()], one.len());
        let Reserved::Slot {
            slot,
            position,
            reservation,
            early,
        } = got
        else {
            prop_assert!(first.is_none() && second.is_none(), "no claim, but room");
            return Ok(());
        };
        prop_assert!(early);
        prop_assert_eq!(Some(position), first.or(second));
        let ours_second = position >= one.len();
        match settle_reserved(slots, &window, id, (position, reservation, early), is_idle) {
            Settled::Won => {
                prop_assert_eq!(second_chosen, ours_second);
                prop_assert_eq!(slot.load(Ordering::Relaxed), reservation);
            }
            Settled::Moved(to) => {
                prop_assert_eq!(to, second_chosen);
                prop_assert_ne!(to, ours_second);
                prop_assert_eq!(slot.load(Ordering::Relaxed), VACANT);
            }
            Settled::Lost => prop_assert!(false, "lost with no copy of the key"),
        }
        Ok(())
    }

    /// The edges of the room count, whose count of the second group stops
    /// early: one free slot more or fewer than the first group, or as many,
    /// with the first group whole or one short, and the claim in either.
    #[test]
    fn an_early_claim_at_the_edges_of_the_room_count() {
        // Kinds: 0 vacant, 2 busy (see `word`).
        let group = |held: usize| -> std::vec::Vec<u8> {
            (0..GROUP)
                .map(|i| if i >= GROUP - held { 2 } else { 0 })
                .collect()
        };
        for first_held in [0, 1, 2, GROUP - 1, GROUP] {
            for second_held in [0, 1, 2, GROUP - 1, GROUP] {
                let mut held = group(first_held);
                held.extend(group(second_held));
                held.resize(64, 0);
                let result = early_claim_settles_by_the_two_choices(&held, 0x5eed);
                assert!(result.is_ok(), "{first_held} {second_held}: {result:?}");
            }
        }
    }

    proptest! {
        /// `reserve` takes the slot the power of two choices names, counted
        /// here in full over both groups (its count of the second group
        /// stops early).
        #[test]
        fn reserve_takes_the_two_choices_slot(
            (held, spread) in kinds(),
        ) {
            let (storage, window) = window_of(&held, spread);
            let slots = storage.words();
            let mut seen = Seen::new();
            let words = seen.words.get_or_insert([VACANT; MAX_WINDOW]);
            for (position, word) in words.iter_mut().take(window.len()).enumerate() {
                *word = slots.words[window.slot(position)].load(Ordering::Relaxed);
            }
            let [one, _] = window.groups();
            let (second_chosen, first, second) = reference(&held[..window.len()], one.len());
            let expected = if second_chosen { second } else { first };
            let floor = AtomicU64::new(0);
            let got = reserve(
                slots,
                &window,
                Id::new(7, 0),
                (&seen, None),
                (0, 0),
                &floor,
                5,
                |w| state(w) == 0,
            );
            match (got, expected) {
                (Reserved::Slot { position, .. }, Some(expected)) => {
                    prop_assert_eq!(position, expected);
                }
                (Reserved::Full, None) => {}
                (Reserved::Slot { position, .. }, None) => {
                    prop_assert!(false, "took {position} of a full window");
                }
                (Reserved::Full, Some(expected)) => {
                    prop_assert!(false, "full, but {expected} is free");
                }
                (Reserved::Retry, _) => prop_assert!(false, "retry with no race"),
            }
        }

        /// An early claim: see [`early_claim_settles_by_the_two_choices`].
        #[test]
        fn an_early_claim_stays_only_in_the_chosen_group(
            (held, spread) in kinds(),
        ) {
            early_claim_settles_by_the_two_choices(&held, spread)?;
        }

        /// A reservation moved to a group (`Settled::Moved`) takes that
        /// group's first free slot, as a final claim; a group with no free
        /// slot left asks for a scan (`Retry`), never answers `Full`.
        #[test]
        fn a_moved_reservation_takes_the_first_free_slot_of_its_group(
            (held, spread) in kinds(),
            to in any::<bool>(),
        ) {
            let (storage, window) = window_of(&held, spread);
            let floor = AtomicU64::new(0);
            let got = reserve(
                storage.words(),
                &window,
                Id::new(7, 0),
                (&Seen::new(), Some(to)),
                (0, 0),
                &floor,
                5,
                |w: u128| state(w) == 0,
            );
            let [one, _] = window.groups();
            let (_, first, second) = reference(&held[..window.len()], one.len());
            match (got, if to { second } else { first }) {
                (Reserved::Slot { position, early, .. }, Some(expected)) => {
                    prop_assert_eq!(position, expected);
                    prop_assert!(!early);
                }
                (Reserved::Retry, None) => {}
                (Reserved::Slot { position, .. }, None) => {
                    prop_assert!(false, "took {position} of a full group");
                }
                (Reserved::Retry, Some(_)) => prop_assert!(false, "retry with room"),
                (Reserved::Full, _) => prop_assert!(false, "full from one group"),
            }
        }
    }
}
