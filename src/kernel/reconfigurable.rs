//! A one-word limiter whose plan changes through `&self`.

use core::fmt;

use crate::answer::{Decision, Denied, ExceedsBurst, Status};
use crate::kernel::cas::{Next, update_wide};
use crate::kernel::sync::{AtomicU128, Ordering};
use crate::kernel::{Algorithm, Charge, Limiter, Receipt, Refund, Step, WordLimiter};
use crate::macros::const_fn;
use crate::time::Instant;

/// What the state becomes when a limiter changes plan: see [`Reconfigure`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Carry {
    /// Start full under the new plan: the units in use are forgiven. The one
    /// rule that can admit more than either plan alone would (at most one
    /// new burst more, at the instant of the change): an upgrade that starts
    /// afresh, by choice. Full from the instant of the change (the latest the
    /// limiter has seen) on: a check at an earlier instant is no looser.
    Full,
    /// Keep the units in use (rounded up), all of them: units beyond the
    /// new burst keep the limiter empty until they drain at the new rate.
    /// Unlike `set_quota_at`, which caps them at the new burst, this never
    /// forgives: a change to a small plan and back leaves the units in use
    /// where they were (less what drained meanwhile).
    InUse,
    /// Scale the units in use by the ratio of the bursts, new over old
    /// (rounded up, at most the new burst): a limiter 60 % used stays 60 %
    /// used. Each change keeps the span bound of its two plans, but a chain
    /// of changes over three plans need not: scaled down to a smaller
    /// burst, the units in use shrink, and a later change to a larger plan
    /// does not bring them back (3 of a burst of 3, scaled to 1 of 1, then
    /// kept by `InUse` as 1 of 6, leaves 5 more at once, 8 in all against a
    /// largest burst of 6). For a bound over any number of changes, use
    /// `InUse`.
    Scaled,
}

/// An [`Algorithm`] whose state can move to another configuration of the
/// same type: what [`Reconfigurable`] needs of its plans.
///
/// # Rules
///
/// For [`Carry::InUse`] and [`Carry::Scaled`], the returned state under
/// `next` MUST hold at `at` at least as many units in use as the rule says
/// (rounded up), draining at `next`'s rate, so that a change of plan
/// forgives nothing: no span then admits more than the
/// looser of the two plans' bounds (the larger burst plus the larger rate
/// times the span). `at` is the latest instant the state has seen or later;
/// a state booked ahead of `at` is counted where it is booked.
///
/// # Which algorithms
///
/// GCRA and the token buckets implement it: their state is a backlog in
/// time, so the units in use at any instant from the latest one on are a
/// function of the state alone, and can be booked again under the new rate.
///
/// The window limiters (fixed window, sliding-window counter) do not, because
/// no carry of theirs can be stated exactly. Their state is a count per
/// aligned window, not the instants of the units: a window of the new plan
/// that contains `at` but starts before the old plan's current window also
/// spans units of the old plan's previous window, which the state counts
/// only as a total (the fixed window: not at all; the sliding window: as a
/// count weighted by a position in another window length). Carrying the
/// current count would then let the new window admit more than its limit in
/// its own span (looser than the new quota); counting every unit of the
/// previous window would hold units the new window never spans (stricter
/// than both, by up to a whole limit). Either is a guess, not a rule, so
/// there is no `Reconfigurable` of window limiters: the window itself is
/// the limit's exact statement, and it does not survive a change of length
/// or alignment.
pub trait Reconfigure<const HZ: u64>: Algorithm<HZ> {
    /// The state under `next` that replaces `state` under `self` at `at`.
    fn carry(&self, state: u64, next: &Self, carry: Carry, at: Instant<HZ>) -> u64;
}

impl<const HZ: u64, A: Reconfigure<HZ>> Reconfigure<HZ> for &A {
    fn carry(&self, state: u64, next: &Self, carry: Carry, at: Instant<HZ>) -> u64 {
        (**self).carry(state, *next, carry, at)
    }
}

/// A limiter's configuration carries as the algorithm's does: what a keyed
/// table of `Gcra` plans reconfigures with.
impl<const HZ: u64, A: Reconfigure<HZ>> Reconfigure<HZ> for WordLimiter<A> {
    fn carry(&self, state: u64, next: &Self, carry: Carry, at: Instant<HZ>) -> u64 {
        self.algorithm().carry(state, next.algorithm(), carry, at)
    }
}

/// Why a plan change was refused. Nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ReconfigureError {
    /// There is no plan with this index.
    NoSuchPlan {
        /// The index asked for.
        plan: usize,
        /// How many plans there are.
        plans: usize,
    },
}

impl fmt::Display for ReconfigureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchPlan { plan, plans } => {
                write!(f, "no plan {plan}: the limiter has {plans} plans")
            }
        }
    }
}

impl core::error::Error for ReconfigureError {}

/// Bits of the plan index in the word's upper half.
const PLAN_BITS: u32 = 8;
/// The most plans a [`Reconfigurable`] holds.
pub const MAX_PLANS: usize = 1 << PLAN_BITS;
/// The largest latest instant, in grains (the upper half's other 56 bits).
const SEEN_MAX: u64 = u64::MAX >> PLAN_BITS;
/// The plan index's bits.
const PLAN_MASK: u64 = !(SEEN_MAX << PLAN_BITS);

/// `log2` of the grain of the latest instant at `hz`: the smallest power of
/// two that numbers `2^32` seconds of ticks (or the whole tick line) in
/// 56 bits; `0` up to 16 MHz.
const fn seen_shift(hz: u64) -> u32 {
    let needed = (hz as u128).saturating_mul(1 << 32);
    let mut shift = 0;
    while shift < 63 {
        match (SEEN_MAX as u128).checked_shl(shift) {
            Some(reach) if reach >= needed => break,
            _ => shift = shift.saturating_add(1),
        }
    }
    shift
}

/// The word's upper half: the plan index and the latest instant seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tag {
    plan: usize,
    /// The latest instant seen by an admitted step, in grains, rounded up;
    /// `SEEN_MAX` is "at or past the end of the tick line".
    seen: u64,
}

impl Tag {
    const fn unpack(high: u64) -> Self {
        Self {
            plan: (high & PLAN_MASK) as usize,
            seen: high >> PLAN_BITS,
        }
    }

    const fn pack(self) -> u64 {
        (self.seen << PLAN_BITS) | (self.plan as u64 & PLAN_MASK)
    }

    /// The tag after an admitted step at `now` (`now` rounded up to its grain).
    fn saw<const HZ: u64>(self, now: Instant<HZ>) -> Self {
        let shift = const { seen_shift(HZ) };
        let now = now.as_ticks();
        let down = now.checked_shr(shift).unwrap_or(0);
        let grains = if down.checked_shl(shift) == Some(now) {
            down
        } else {
            down.saturating_add(1)
        };
        let grains = if grains > SEEN_MAX { SEEN_MAX } else { grains };
        Self {
            plan: self.plan,
            seen: if grains > self.seen {
                grains
            } else {
                self.seen
            },
        }
    }

    /// The latest instant seen (rounded up, so at or after the true one).
    fn latest<const HZ: u64>(self) -> u64 {
        if self.seen >= SEEN_MAX {
            return u64::MAX;
        }
        let shift = const { seen_shift(HZ) };
        self.seen.checked_shl(shift).unwrap_or(u64::MAX)
    }
}

const fn join(tag: Tag, state: u64) -> u128 {
    ((tag.pack() as u128) << 64) | state as u128
}

const fn split(word: u128) -> (Tag, u64) {
    (Tag::unpack((word >> 64) as u64), word as u64)
}

/// A one-word limiter with a fixed table of plans (configurations of one
/// algorithm: "Standard" and "Premium") that switches plan at run time
/// through `&self`: a `static` or shared limiter, changed while it runs.
///
/// ```
/// use ratecore::algorithms::GcraConfig;
/// use ratecore::kernel::{Carry, Reconfigurable};
/// use ratecore::{Instant, Limiter, Quota, const_unwrap};
///
/// const STANDARD: GcraConfig<1_000> = const_unwrap!(GcraConfig::new(Quota::per_minute(100).burst(120)));
/// const PREMIUM: GcraConfig<1_000> = const_unwrap!(GcraConfig::new(Quota::per_minute(1_000).burst(1_200)));
/// static API: Reconfigurable<GcraConfig<1_000>, 2> = Reconfigurable::new([STANDARD, PREMIUM]);
///
/// let t = Instant::<1_000>::from_ticks(0);
/// assert_eq!(API.check_n_at(100, t).unwrap().remaining(), 20);
/// // The customer upgrades: the 100 units in use stay in use.
/// API.switch_at(1, Carry::InUse, t).unwrap();
/// assert_eq!(API.snapshot_at(t).remaining(), 1_100);
/// ```
///
/// # Design
///
/// The plan's index and the state live in one 128-bit atomic word, so a
/// check decides with exactly the plan its state belongs to: it reads the
/// word, decides with the plan the word names, and stores with a
/// compare-and-swap of the whole word, which fails if a plan change (itself
/// a compare-and-swap of the whole word) came in between; the check then
/// decides again on the new word. The plans are immutable, so a word's value
/// alone fixes its meaning and a value that comes back (a switch there and
/// back) is no ABA hazard. A configuration outside the table would have to
/// be written through `&self` beside the word, which takes a lock or
/// `unsafe`; the crate has neither, and `set_quota_at(&mut self)` changes a
/// plain limiter to any quota.
///
/// The word's upper half also keeps the latest instant an admitted step has
/// seen (in grains of a power of two ticks, rounded up: one tick up to
/// 16 MHz, 64 ns at nanosecond ticks). A change at a stale instant counts
/// the units in use at that latest instant instead: counted earlier, a new
/// plan with a faster rate would drain, between the stale instant and the
/// latest one, units that were admitted at the latest one, and forgive them.
///
/// # Progress
///
/// Lock-free where the target has a native 128-bit compare-and-swap
/// (x86_64 with `cmpxchg16b`, detected at run time; aarch64): see
/// [`is_lock_free`](Reconfigurable::is_lock_free). Elsewhere it takes
/// portable-atomic's fallback, a lock, as a keyed table does. A denied check
/// writes nothing; a plan change always writes.
#[derive(Debug)]
pub struct Reconfigurable<A, const N: usize> {
    word: AtomicU128,
    plans: [A; N],
}

impl<A, const N: usize> Reconfigurable<A, N> {
    const_fn! {
        /// A fresh limiter on plan 0 of `plans`.
        ///
        /// There must be between 1 and [`MAX_PLANS`] plans: anything else is
        /// a compile-time error.
        pub const fn new(plans: [A; N]) -> Self {
            const { assert!(N > 0 && N <= MAX_PLANS, "a Reconfigurable holds 1 to 256 plans") };
            Self {
                word: AtomicU128::new(0),
                plans,
            }
        }
    }

    /// Whether the word's compare-and-swap is lock-free on this machine.
    pub fn is_lock_free() -> bool {
        AtomicU128::is_lock_free()
    }

    /// The plans.
    pub const fn plans(&self) -> &[A; N] {
        &self.plans
    }

    /// The index of the plan in force.
    pub fn plan(&self) -> usize {
        split(self.load()).0.plan
    }

    /// The state word under the plan in force.
    pub fn state(&self) -> u64 {
        split(self.load()).1
    }

    /// Makes the limiter fresh on plan 0 (`&mut self`: see
    /// [`WordLimiter::reset`](crate::kernel::WordLimiter::reset)).
    pub fn reset(&mut self) {
        self.word = AtomicU128::new(0);
    }

    fn load(&self) -> u128 {
        // Relaxed: a first guess for the compare-and-swap, or one read of
        // the only shared datum (the plans never change).
        self.word.load(Ordering::Relaxed)
    }

    fn plan_at(&self, index: usize) -> Option<&A> {
        self.plans.get(index)
    }

    /// One compare-and-swap loop of `step` over the word (see
    /// [`update_wide`]), with the store ordering of the plans' algorithm:
    /// the answer, the word before and the word after.
    fn update<const HZ: u64, T>(&self, step: impl FnMut(u128) -> Next<u128, T>) -> (T, u128, u128)
    where
        A: Algorithm<HZ>,
    {
        update_wide(
            &self.word,
            self.load(),
            ordering::<HZ, A>(),
            Ordering::Relaxed,
            step,
        )
    }

    /// Switches to plan `plan` at `now`, carrying the state over by `carry`.
    /// Returns the index of the plan it replaced. Switching to the plan in
    /// force changes nothing.
    ///
    /// # Errors
    ///
    /// [`ReconfigureError::NoSuchPlan`] for an index past the table; nothing
    /// changes then.
    pub fn switch_at<const HZ: u64>(
        &self,
        plan: usize,
        carry: Carry,
        now: Instant<HZ>,
    ) -> Result<usize, ReconfigureError>
    where
        A: Reconfigure<HZ>,
    {
        let Some(next) = self.plan_at(plan) else {
            return Err(ReconfigureError::NoSuchPlan { plan, plans: N });
        };
        let (previous, _, _) = self.update::<HZ, _>(|word| {
            let (tag, state) = split(word);
            if tag.plan == plan {
                return Next::Keep(tag.plan);
            }
            let Some(old) = self.plan_at(tag.plan) else {
                return Next::Keep(tag.plan);
            };
            let latest = tag.latest::<HZ>();
            let at = if latest > now.as_ticks() {
                Instant::<HZ>::from_ticks(latest)
            } else {
                now
            };
            let state = old.carry(state, next, carry, at);
            // The switch counted the units at `at`: the new state has
            // seen it.
            let before = tag.plan;
            let tag = Tag { plan, ..tag }.saw(at);
            Next::Store(join(tag, state), before)
        });
        Ok(previous)
    }
}

/// The store ordering: `AcqRel` for a semaphore's plans (a charge acquires,
/// a refund releases; one ordering serves both on a word that does either),
/// `Relaxed` for a rate limiter.
fn ordering<const HZ: u64, A: Algorithm<HZ>>() -> Ordering {
    if A::GUARDS_MEMORY {
        Ordering::AcqRel
    } else {
        Ordering::Relaxed
    }
}

impl<A, const N: usize> Reconfigurable<A, N> {
    /// One check's step on `word`: decided with the plan the word names,
    /// stored with the instant seen.
    fn decide<const HZ: u64>(
        &self,
        word: u128,
        n: u32,
        now: Instant<HZ>,
    ) -> Next<u128, Decision<HZ>>
    where
        A: Algorithm<HZ>,
    {
        let (tag, state) = split(word);
        let Some(plan) = self.plan_at(tag.plan) else {
            // Never: every stored index is a plan's.
            return Next::Keep(Err(Denied::ExceedsBurst(ExceedsBurst::new(n, 0))));
        };
        match plan.decide(state, n, now) {
            Step::Store(next, status) => Next::Store(join(tag.saw(now), next), Ok(status)),
            Step::Keep(status) => Next::Keep(Ok(status)),
            Step::Deny(denied) => Next::Keep(Err(denied)),
        }
    }

    /// The status of `word` at `now`, under the plan it names.
    fn status_of<const HZ: u64>(&self, word: u128, now: Instant<HZ>) -> Status<HZ>
    where
        A: Algorithm<HZ>,
    {
        let (tag, state) = split(word);
        match self.plan_at(tag.plan).or(self.plans.first()) {
            Some(plan) => plan.status(state, now),
            // Never: there is at least one plan.
            None => Status::scaled(0, 0, 1, 0, 1),
        }
    }
}

impl<const HZ: u64, A: Algorithm<HZ>, const N: usize> Limiter<HZ> for Reconfigurable<A, N> {
    fn check_n_at(&self, n: u32, now: Instant<HZ>) -> Decision<HZ> {
        self.update::<HZ, _>(|word| self.decide(word, n, now)).0
    }

    fn snapshot_at(&self, now: Instant<HZ>) -> Status<HZ> {
        self.status_of(self.load(), now)
    }
}

impl<const HZ: u64, A: Algorithm<HZ>, const N: usize> Refund<HZ> for Reconfigurable<A, N> {
    fn refund_n_at(&self, n: u32, now: Instant<HZ>) -> Status<HZ> {
        let (_, _, after) = self.update::<HZ, _>(|word| {
            let (tag, state) = split(word);
            match self.plan_at(tag.plan) {
                Some(plan) => Next::Store(join(tag, plan.refund(state, n, now)), ()),
                None => Next::Keep(()),
            }
        });
        self.status_of(after, now)
    }
}

/// A tier of [`Tiers`](crate::Tiers). The receipt's
/// [`at`](Receipt::at) is the charged word's upper half (plan and latest
/// instant), not a tick: an undo restores the state the charge replaced only
/// if the whole word is still the one it stored, so a plan change since (or
/// a change there and back with checks between, a 128-bit word that moved on)
/// keeps the charge, unless the units can be taken back exactly under the
/// same plan ([`Algorithm::take_back`]): stricter, never looser.
///
/// As for every limiter, an undo whose word came back bit for bit through
/// operations that cancel out is exact. One operation that is not a units
/// operation can rebuild a word through `&self` here: two switches with
/// [`Carry::Full`] at the charge's own instant, then checks that take the
/// same units again. `Carry::Full` forgives by choice; keep receipts to the
/// all-or-nothing window of a tier check (as [`Tiers`](crate::Tiers) does).
impl<const HZ: u64, A: Algorithm<HZ>, const N: usize> Charge<HZ> for Reconfigurable<A, N> {
    fn peek_n_at(&self, n: u32, now: Instant<HZ>) -> Decision<HZ> {
        let (tag, state) = split(self.load());
        match self.plan_at(tag.plan) {
            Some(plan) => plan.decide(state, n, now).answer(),
            None => Err(Denied::ExceedsBurst(ExceedsBurst::new(n, 0))),
        }
    }

    fn charge_n_at(
        &self,
        n: u32,
        now: Instant<HZ>,
    ) -> Result<(Status<HZ>, Receipt<'_>), Denied<HZ>> {
        let (decision, before, after) = self.update::<HZ, _>(|word| self.decide(word, n, now));
        let (tag, state) = split(after);
        decision.map(|status| (status, Receipt::new(split(before).1, state, n, tag.pack())))
    }

    fn undo(&self, receipt: Receipt<'_>) -> bool {
        if receipt.before() == receipt.after() {
            return true;
        }
        let charged_tag = Tag::unpack(receipt.at());
        let charged = join(charged_tag, receipt.after());
        let at = Instant::<HZ>::from_ticks(charged_tag.latest::<HZ>());
        let mut given_back = false;
        self.update::<HZ, _>(|word| {
            let (tag, state) = split(word);
            given_back = false;
            if word == charged {
                given_back = true;
                return Next::Store(join(tag, receipt.before()), ());
            }
            if tag.plan != charged_tag.plan {
                return Next::Keep(());
            }
            let taken = self
                .plan_at(tag.plan)
                .and_then(|plan| plan.take_back(state, receipt.units(), at));
            given_back = taken.is_some();
            Next::new((), taken.map(|next| join(tag, next)))
        });
        given_back
    }
}
