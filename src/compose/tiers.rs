//! All-or-nothing checks over several limiters: "100 per minute with a burst
//! of 120, and 10,000 per day".

use core::fmt;

use crate::answer::{Decision, Denied, Status, TableFull};
use crate::compose::Unlimited;
use crate::kernel::Limiter;
use crate::kernel::{Charge, Receipt};
use crate::time::Instant;
use crate::vocabulary::arith::Fraction;

/// One member of a set of [`Tiers`]: a named limiter.
///
/// `C` is the limiter's type: by default any algorithm behind a `&dyn
/// Charge<HZ>` ([`Tier::new`]), so that one set mixes algorithms; or one
/// concrete type for every tier of a set ([`Tier::of`]), whose checks the
/// compiler then inlines (two `Gcra` tiers: see the README's "Instructions
/// per check").
pub struct Tier<'a, const HZ: u64, C: ?Sized + 'a = dyn Charge<HZ> + Sync + 'a> {
    name: &'static str,
    limiter: &'a C,
}

impl<'a, const HZ: u64> Tier<'a, HZ> {
    /// The tier `name` (as in a `RateLimit-Policy` header: "burst", "daily"),
    /// a limiter of any algorithm.
    pub const fn new(name: &'static str, limiter: &'a (dyn Charge<HZ> + Sync)) -> Self {
        Self { name, limiter }
    }
}

impl<'a, const HZ: u64, C: Charge<HZ>> Tier<'a, HZ, C> {
    /// The tier `name`, a limiter of the type `C` that every tier of its set
    /// shares: checked without a call through a `dyn` pointer.
    ///
    /// ```
    /// use ratecore::{Gcra, Instant, Quota, compose::Tier, Tiers};
    ///
    /// static MINUTE: Gcra<1_000> = ratecore::const_unwrap!(Gcra::new(Quota::per_minute(100).burst(120)));
    /// static DAY: Gcra<1_000> = ratecore::const_unwrap!(Gcra::new(Quota::per_day(10_000)));
    /// static PLAN: Tiers<'static, 1_000, 2, Gcra<1_000>> =
    ///     Tiers::new([Tier::of("burst", &MINUTE), Tier::of("daily", &DAY)]);
    ///
    /// let admitted = PLAN.check_tiered_n_at(1, Instant::from_ticks(0)).unwrap();
    /// assert_eq!((admitted.name, admitted.answer.remaining()), ("burst", 119));
    /// ```
    pub const fn of(name: &'static str, limiter: &'a C) -> Self {
        Self { name, limiter }
    }
}

impl<'a, const HZ: u64, C: ?Sized> Tier<'a, HZ, C> {
    /// The tier's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The tier's limiter.
    pub const fn limiter(&self) -> &'a C {
        self.limiter
    }
}

impl<const HZ: u64, C: ?Sized> Clone for Tier<'_, HZ, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<const HZ: u64, C: ?Sized> Copy for Tier<'_, HZ, C> {}

impl<const HZ: u64, C: ?Sized> fmt::Debug for Tier<'_, HZ, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tier")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// An answer of a set of [`Tiers`], and the tier it comes from: the one that
/// bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct TierAnswer<T> {
    /// The tier's position in the set (from 0).
    pub tier: usize,
    /// The tier's name.
    pub name: &'static str,
    /// That tier's answer.
    pub answer: T,
}

/// The answer of a tiered check: admitted, with the most restrictive tier's
/// [`Status`], or denied, with the most restrictive [`Denied`]; each names
/// its tier.
pub type TierDecision<const HZ: u64> = Result<TierAnswer<Status<HZ>>, TierAnswer<Denied<HZ>>>;

impl<T> TierAnswer<T> {
    /// The answer `answer` of the tier named `name` at position `tier`.
    pub const fn new(tier: usize, name: &'static str, answer: T) -> Self {
        Self { tier, name, answer }
    }
}

impl<T: fmt::Display> fmt::Display for TierAnswer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tier {} ({}): {}", self.tier, self.name, self.answer)
    }
}

impl<const HZ: u64> core::error::Error for TierAnswer<Denied<HZ>> {}

/// All-or-nothing over `N` limiters of any algorithms: a check is admitted
/// only if every tier admits it, and then charged to every tier; if any tier
/// denies it, no tier keeps a charge.
///
/// ```
/// use ratecore::{Gcra, Instant, Quota, compose::Tier, Tiers};
///
/// static MINUTE: Gcra<1_000> = ratecore::const_unwrap!(Gcra::new(Quota::per_minute(100).burst(120)));
/// static DAY: Gcra<1_000> = ratecore::const_unwrap!(Gcra::new(Quota::per_day(10_000)));
/// static PLAN: Tiers<'static, 1_000, 2> =
///     Tiers::new([Tier::new("burst", &MINUTE), Tier::new("daily", &DAY)]);
///
/// let now = Instant::<1_000>::from_ticks(0);
/// let admitted = PLAN.check_tiered_n_at(1, now).unwrap();
/// assert_eq!((admitted.name, admitted.answer.remaining()), ("burst", 119));
/// for _ in 1..120 {
///     PLAN.check_tiered_n_at(1, now).unwrap();
/// }
/// let denied = PLAN.check_tiered_n_at(1, now).unwrap_err();
/// assert_eq!(denied.name, "burst");
/// assert_eq!(denied.answer.retry_after().unwrap().as_ticks(), 600);
/// // The denied check charged nothing, not even the daily tier.
/// assert_eq!(PLAN.snapshot_all_at(now)[1].remaining(), 10_000 - 120);
/// ```
///
/// Each tier is a `&dyn Charge<HZ>` by default ([`Tier::new`]): tiers mix
/// algorithms ([`Gcra`](crate::Gcra),
/// [`TokenBucket`](crate::TokenBucket), [`ConcurrencyLimit`](crate::ConcurrencyLimit),
/// a [`Capped`](crate::compose::Capped) or [`Toggle`](crate::compose::Toggle) limiter, ...), and
/// the set lives in an array: no allocation. Tiers of one type `C`
/// ([`Tier::of`], a set `Tiers<'a, HZ, N, C>`) decide alike without those
/// calls through a `dyn` pointer, which the compiler cannot inline. `N` is at least 1 (checked at
/// compile time); plans typically have 2 to 8 tiers. A check can charge each
/// tier its own cost ([`check_costs_at`](Tiers::check_costs_at): one request
/// and 4,000 tokens).
///
/// # The answer
///
/// A denial is the most restrictive of the tiers' denials, in this order:
/// a request that can never pass ([`Denied::ExceedsBurst`],
/// [`Denied::ExceedsRequestCap`]); then the largest `retry_after` (ties: the
/// smallest `remaining`), which is exact for tiers that refill with time
/// (GCRA, token buckets): each of them admits the same check at
/// `now + retry_after` if nothing else is admitted meanwhile; then a refusal
/// with an unknown wait ([`Denied::AtCapacity`]: units in flight come back
/// when they are released, not with time). An
/// admission reports the tier left with the smallest `remaining` (ties: the
/// largest `reset_after`). Ties between equals go to the lower position.
///
/// # Exactness
///
/// A check first peeks at every tier (reads its state, writes nothing). If
/// any tier would deny, that is the answer and **nothing was written
/// anywhere**: this is the path of every denial that is not a race, and it
/// has no window at all. Otherwise it charges the tiers one by one, the one
/// with the fewest units left after its charge first, fractions of a unit
/// counted (so callers racing for the scarcest tier are refused there,
/// before they have charged anything; compared as exact fractions, the
/// order costs no division), the lower position first on a tie, each with
/// the tier's own compare-and-swap. If a tier now denies because a
/// concurrent caller took its capacity after the peek, the tiers already
/// charged are rolled back with [`Charge::undo`](crate::kernel::Charge::undo), in reverse order.
///
/// What that guarantees:
///
/// - An admitted check charged every tier exactly as that tier's own
///   `check_n_at` would have.
/// - A denied check that lost no race wrote nothing.
/// - A rolled-back tier that no one else wrote to in between (a few atomic
///   operations) returns bit for bit to its state before the charge. That
///   is exact even for a GCRA that was idle (`tat < now`), where refunding
///   `n` units would not be an undo: a refund leaves `tat = now` rather than
///   the older `tat`, stricter for readers with stale instants.
/// - The window: between its charge and its rollback, a tier shows the
///   charge to concurrent callers, who may see up to `n` fewer units (never
///   more) and be denied because of it. Only checks that passed every peek
///   and then lost a race open such a window, and it lasts a handful of
///   atomic operations (or as long as the thread is preempted in it).
/// - If another caller *wrote* to a tier inside that window, its decision
///   was made on top of our charge, and no single-word state can remove our
///   charge from under it exactly. Such a tier gives the units back only
///   where that is exact for its algorithm (a [`ConcurrencyLimit`](crate::ConcurrencyLimit):
///   counts commute); a GCRA or token bucket keeps the charge instead:
///   at most `n` units, which it refills at its own rate (`n` emission
///   intervals). This errs on the strict side on purpose: giving the units
///   back would let the tier admit up to `n` units more than its quota.
pub struct Tiers<'a, const HZ: u64, const N: usize, C: ?Sized + 'a = dyn Charge<HZ> + Sync + 'a> {
    tiers: [Tier<'a, HZ, C>; N],
}

impl<const HZ: u64, const N: usize, C: ?Sized> Clone for Tiers<'_, HZ, N, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<const HZ: u64, const N: usize, C: ?Sized> Copy for Tiers<'_, HZ, N, C> {}

impl<const HZ: u64, const N: usize, C: ?Sized> fmt::Debug for Tiers<'_, HZ, N, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tiers").field("tiers", &self.tiers).finish()
    }
}

impl<'a, const HZ: u64, const N: usize, C: Charge<HZ> + ?Sized> Tiers<'a, HZ, N, C> {
    /// The set of `tiers`, in the order their positions are reported.
    pub const fn new(tiers: [Tier<'a, HZ, C>; N]) -> Self {
        const {
            assert!(N >= 1, "a set of tiers needs at least one tier");
        }
        Self { tiers }
    }

    /// The tiers.
    pub const fn tiers(&self) -> &[Tier<'a, HZ, C>; N] {
        &self.tiers
    }

    /// Checks `n` units against every tier, all or nothing. See
    /// [`check_costs_at`](Tiers::check_costs_at).
    ///
    /// # Errors
    ///
    /// The most restrictive tier's [`Denied`], and which tier it was.
    pub fn check_tiered_n_at(&self, n: u32, now: Instant<HZ>) -> TierDecision<HZ> {
        self.check_costs_at([n; N], now)
    }

    /// Checks `costs[i]` units against tier `i`, for every tier, all or
    /// nothing: "1 request and 4,000 tokens".
    ///
    /// # Errors
    ///
    /// The most restrictive tier's [`Denied`], and which tier it was. No tier
    /// keeps a charge (see [Exactness](Tiers#exactness) for the one race in
    /// which a tier keeps one, and why).
    pub fn check_costs_at(&self, costs: [u32; N], now: Instant<HZ>) -> TierDecision<HZ> {
        let tier = |position: usize| self.tiers.get(position).map(|tier| &tier.limiter);
        let cost = |position: usize| costs.get(position).copied().unwrap_or(0);
        let binding = all_or_nothing::<HZ, N, _>(
            |position| self.tiers.get(position).map_or("", |tier| tier.name),
            Receipt::NOTHING,
            |position| match tier(position) {
                Some(limiter) => limiter.peek_n_at(cost(position), now),
                None => Ok(Unlimited::status()),
            },
            |position| match tier(position) {
                Some(limiter) => limiter.charge_n_at(cost(position), now),
                None => Ok((Unlimited::status(), Receipt::NOTHING)),
            },
            |position, receipt| {
                if let Some(limiter) = tier(position) {
                    limiter.undo(receipt);
                }
            },
        )?;
        Ok(binding.unwrap_or_else(|| self.fallback()))
    }

    /// The most restrictive tier's status at `now`, changing nothing.
    pub fn snapshot_tiered_at(&self, now: Instant<HZ>) -> TierAnswer<Status<HZ>> {
        self.tiers
            .iter()
            .enumerate()
            .fold(None, |binding, (position, tier)| {
                Some(tighter(binding, (position, tier.limiter.snapshot_at(now))))
            })
            .and_then(|(position, status)| {
                let tier = self.tiers.get(position)?;
                Some(TierAnswer::new(position, tier.name, status))
            })
            .unwrap_or_else(|| self.fallback())
    }

    /// Every tier's status at `now`, in order, changing nothing (for headers
    /// that list every policy).
    pub fn snapshot_all_at(&self, now: Instant<HZ>) -> [Status<HZ>; N] {
        self.tiers.map(|tier| tier.limiter.snapshot_at(now))
    }

    /// The answer of a set without tiers, which `new` rules out at compile
    /// time; it keeps the code free of panics.
    fn fallback(&self) -> TierAnswer<Status<HZ>> {
        TierAnswer {
            tier: 0,
            name: "",
            answer: Unlimited::status(),
        }
    }
}

/// A set of tiers is itself a limiter (`n` units to every tier), for generic
/// code; the answers are those of [`check_tiered_n_at`](Tiers::check_tiered_n_at)
/// and [`snapshot_tiered_at`](Tiers::snapshot_tiered_at) without the tier.
impl<const HZ: u64, const N: usize, C: Charge<HZ> + ?Sized> Limiter<HZ> for Tiers<'_, HZ, N, C> {
    fn check_n_at(&self, n: u32, now: Instant<HZ>) -> Decision<HZ> {
        match self.check_tiered_n_at(n, now) {
            Ok(admitted) => Ok(admitted.answer),
            Err(denied) => Err(denied.answer),
        }
    }

    fn snapshot_at(&self, now: Instant<HZ>) -> Status<HZ> {
        self.snapshot_tiered_at(now).answer
    }
}

/// The all-or-nothing check over `N` tiers, written once for tiers of
/// limiters ([`Tiers`]) and of keyed tables (`KeyedTiers`): peek every tier
/// (any denial is the answer, the most restrictive one, and nothing is
/// written), then charge the scarcest tier first and, if a later one lost a
/// race, undo the charges made, newest first. Admitted: the tightest tier's
/// status, or `None` for no tiers.
pub(crate) fn all_or_nothing<const HZ: u64, const N: usize, R: Copy>(
    name: impl Fn(usize) -> &'static str,
    nothing: R,
    peek: impl Fn(usize) -> Decision<HZ>,
    charge: impl Fn(usize) -> Result<(Status<HZ>, R), Denied<HZ>>,
    undo: impl Fn(usize, R),
) -> Result<Option<TierAnswer<Status<HZ>>>, TierAnswer<Denied<HZ>>> {
    // Phase 1: peek. Any denial is the answer, and nothing is written.
    // Each tier's units left, as an exact fraction: ordered by cross
    // products, not by `remaining()`, which divides at a cost other than 1.
    let mut order = [(Fraction::new(0, 1), 0usize); N];
    // The most restrictive denial so far: its position (named once, at the
    // end, as the binding status below) and, apart, the denial itself. An
    // `Option` of the pair would keep its `None` in the denial's own tag
    // byte, as `TierDecision` keeps its `Ok`: merged through the loop, the
    // compiler could no longer tell that the answer is an `Err`, and an
    // `is_ok()` caller paid for choosing the worst denial (its divisions
    // included): 104 instructions for two denying `Gcra` tiers of one type,
    // 35 this way. The placeholder is never read: `denied` is `None` until
    // `worst` holds a real denial.
    let mut denied: Option<usize> = None;
    let mut worst = Denied::TableFull(TableFull::new(0));
    for (position, slot) in order.iter_mut().enumerate() {
        match peek(position) {
            Ok(status) => *slot = (status.units_left(), position),
            Err(refusal) => {
                if denied.is_none() || severity(&worst) < severity(&refusal) {
                    denied = Some(position);
                    worst = refusal;
                }
            }
        }
    }
    if let Some(position) = denied {
        return Err(TierAnswer::new(position, name(position), worst));
    }

    // Phase 2: charge, scarcest first; roll back on a lost race.
    order.sort_unstable();
    let mut receipts = [nothing; N];
    // The tightest so far, by position: named once, at the end (a name
    // carried through every comparison made each one move 64 bytes).
    let mut binding: Option<(usize, Status<HZ>)> = None;
    for (charged, &(_, position)) in order.iter().enumerate() {
        match charge(position) {
            Ok((status, receipt)) => {
                if let Some(slot) = receipts.get_mut(charged) {
                    *slot = receipt;
                }
                binding = Some(tighter(binding, (position, status)));
            }
            Err(refusal) => {
                let done = order.iter().zip(receipts.iter()).take(charged).rev();
                for (&(_, position), &receipt) in done {
                    undo(position, receipt);
                }
                return Err(TierAnswer::new(position, name(position), refusal));
            }
        }
    }
    Ok(binding.map(|(position, status)| TierAnswer::new(position, name(position), status)))
}

/// How restrictive a denial is; larger is more restrictive (the earlier
/// tier keeps a tie).
fn severity<const HZ: u64>(denied: &Denied<HZ>) -> (u8, u64, u32) {
    let never = matches!(
        denied,
        Denied::ExceedsBurst(_) | Denied::ExceedsRequestCap(_)
    );
    if never {
        (2, 0, 0)
    } else if let Denied::RateLimited(limited) = denied {
        (
            1,
            limited.retry_after().as_ticks(),
            u32::MAX.saturating_sub(limited.remaining()),
        )
    } else {
        // Waiting helps, for a time no one knows (units in flight).
        (0, 0, 0)
    }
}

/// The tighter of two statuses, each with its tier's position (fewer units
/// left, then longer to full); the one at the lower position on a tie. By
/// position, not by name: the name is looked up once, for the winner.
fn tighter<const HZ: u64>(
    current: Option<(usize, Status<HZ>)>,
    candidate: (usize, Status<HZ>),
) -> (usize, Status<HZ>) {
    match current {
        Some(current) if !tighter_than((candidate.0, &candidate.1), (current.0, &current.1)) => {
            current
        }
        _ => candidate,
    }
}

/// Whether the status at position `a.0` is tighter than the one at `b.0`
/// (see [`tighter`]).
fn tighter_than<const HZ: u64>(a: (usize, &Status<HZ>), b: (usize, &Status<HZ>)) -> bool {
    let key = |(position, status): (usize, &Status<HZ>)| {
        (
            u32::MAX.saturating_sub(status.remaining()),
            status.reset_after().as_ticks(),
            usize::MAX.saturating_sub(position),
        )
    };
    key(a) > key(b)
}

crate::macros::defmt_format!(
    impl[const HZ: u64, C: ?Sized] for Tier<'_, HZ, C> => |tier|
        "Tier {{ name: {=str} }}",
        tier.name,
);

crate::macros::defmt_format!(
    impl[const HZ: u64, const N: usize, C: ?Sized] for Tiers<'_, HZ, N, C> => |tiers|
        "Tiers {{ tiers: {=[?]} }}",
        tiers.tiers.as_slice(),
);
