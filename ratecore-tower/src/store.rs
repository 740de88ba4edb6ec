//! Where limits are kept: the in-memory keyed tables by default, behind a
//! small trait that a remote store (Redis) can implement.

use std::collections::hash_map::RandomState;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::hash::BuildHasher;
use std::ops::ControlFlow;
use std::sync::Arc;

use crate::key::Key;
use crate::plan::{MAX_LIMITS, Meter, PlanId, Plans};
use crate::rc::{
    self, Concurrency, MAX_PLANS, Rate, SHARD_SLOT_BYTES, SHARD_SLOTS, Shard, Tick, WhenFull,
};

/// One limit's state after a check, in milliseconds: what the headers are
/// written from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LimitState {
    /// The most units available at once (the burst).
    pub limit: u32,
    /// Units available now.
    pub remaining: u32,
    /// Milliseconds until the limit is full again.
    pub reset_after_ms: u64,
    /// `Some(exact wait)` if this limit refused the request.
    pub retry_after_ms: Option<u64>,
}

/// The states of a plan's limits, in the plan's order (no allocation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LimitStates {
    len: u8,
    states: [LimitState; MAX_LIMITS],
}

impl LimitStates {
    /// No states.
    pub const fn new() -> Self {
        Self {
            len: 0,
            states: [LimitState {
                limit: 0,
                remaining: 0,
                reset_after_ms: 0,
                retry_after_ms: None,
            }; MAX_LIMITS],
        }
    }

    /// Appends `state`; returns `false` (and drops it) past [`MAX_LIMITS`].
    pub fn push(&mut self, state: LimitState) -> bool {
        match self.states.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = state;
                self.len = self.len.saturating_add(1);
                true
            }
            None => false,
        }
    }

    /// Forgets every state's wait (dry-run mode reports the state, not a
    /// refusal).
    pub(crate) fn clear_waits(&mut self) {
        for state in &mut self.states {
            state.retry_after_ms = None;
        }
    }

    /// The states.
    pub fn as_slice(&self) -> &[LimitState] {
        self.states.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// What a store decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// Every limit admitted the request and was charged.
    Admitted,
    /// The store had no room for the key and its policy admits without a
    /// limit ([`WhenFull::Allow`]); nothing was charged.
    Unlimited,
    /// Limit `limit` (its position in the plan) refused; retry after
    /// `retry_after_ms`. Nothing was charged.
    RateLimited {
        /// The refusing limit's position in the plan.
        limit: usize,
        /// The exact wait.
        retry_after_ms: u64,
    },
    /// Limit `limit` can never admit a request of this cost (it is above
    /// the limit's burst). Nothing was charged.
    TooLarge {
        /// The limit's position in the plan.
        limit: usize,
        /// The most that limit admits at once.
        max: u32,
    },
    /// The key has `limit` requests in flight already. Nothing was charged.
    AtCapacity {
        /// The concurrency limit.
        limit: u32,
    },
    /// The store had no room for the key and its policy refuses
    /// ([`WhenFull::Deny`]). Nothing was charged.
    NoRoom,
}

/// A store's answer: the outcome, the state of every limit of the plan,
/// and, if the plan has a concurrency limit and the request was admitted,
/// the permit that holds its place.
#[derive(Debug)]
pub struct Verdict<P> {
    /// The decision.
    pub outcome: Outcome,
    /// Every limit's state, in the plan's order.
    pub states: LimitStates,
    /// The concurrency permit: dropping it frees the place.
    pub permit: Option<P>,
}

/// One request's check, as the layer hands it to its [`Store`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreRequest {
    /// Who is charged.
    pub key: Key,
    /// Under which plan.
    pub plan: PlanId,
    /// The request's cost, for [`Meter::Cost`] limits.
    pub cost: u32,
    /// The layer's monotonic time, in milliseconds.
    pub now_ms: u64,
}

/// Where the limits are kept. The layer calls [`check`](Store::check) once
/// per request, from `Service::call`, and polls the future at once: an
/// in-memory store answers with a ready future (the decision is made in
/// `call`), a remote one with its round trip.
///
/// A store must be all-or-nothing: a request it refuses charges no limit,
/// and one it admits charges every limit of the plan.
pub trait Store: Send + Sync + 'static {
    /// Holds a request's concurrency place; dropping it frees the place.
    type Permit: Send + Sync + 'static;
    /// A failure of the store itself (the network, the server).
    type Error: std::error::Error + Send + Sync + 'static;
    /// The answer's future.
    type Future: Future<Output = Result<Verdict<Self::Permit>, Self::Error>>
        + Send
        + Unpin
        + 'static;

    /// Checks and (if admitted) charges `request`.
    fn check(&self, request: StoreRequest) -> Self::Future;
}

/// A sharded keyed table: `shards` ratecore `KeyedLimiter`s of
/// `SHARD_SLOTS` slots each, their slots on the heap (`new_boxed`): building
/// it puts no table-sized value on the stack.
struct Sharded<A> {
    shards: Box<[Shard<A>]>,
}

impl<A: rc::Algorithm<{ rc::MS }>> Sharded<A> {
    fn new(
        shards: usize,
        hasher: &RandomState,
        when_full: WhenFull,
        mut plans: impl FnMut() -> [A; MAX_PLANS],
    ) -> Self {
        let shards = (0..shards)
            .map(|i| {
                // Each shard its own secret seed, from the process's random keys.
                let seed = [hasher.hash_one((i, 0u8)), hasher.hash_one((i, 1u8))];
                rc::shard(plans(), seed, when_full)
            })
            .collect();
        Self { shards }
    }

    fn occupancy(&self, now_ms: u64) -> usize {
        self.shards.iter().map(|s| rc::occupancy(s, now_ms)).sum()
    }

    fn full_count(&self) -> u64 {
        self.shards.iter().map(|s| rc::full_count(s)).sum()
    }
}

struct Tables {
    plans: Plans,
    /// Table `i` holds limit `i` of every plan (plan `p` is configuration `p`).
    rates: Vec<Sharded<Rate>>,
    concurrency: Option<Sharded<Concurrency>>,
    /// Chooses a key's shard; its keys are random per process.
    hasher: RandomState,
    shards: usize,
}

impl Tables {
    fn shard_of(&self, key: &Key) -> usize {
        let hash = self.hasher.hash_one(key);
        usize::try_from(hash % (self.shards as u64)).unwrap_or(0)
    }
}

/// The default store: ratecore's lock-free keyed tables in memory, one per
/// limit position, sharded, with a fixed capacity.
///
/// `capacity` is the number of keys active at once that the store holds
/// (rounded up to a multiple of 1,024); a key is active from its first
/// admitted request until its limits are full again, and an idle key's slot
/// goes to the next new key. Memory is fixed when the store is built, on the
/// heap: 17 bytes per slot per limit position (plus one table for
/// concurrency), whatever the number of distinct keys seen. A new key that
/// finds no room is answered by `when_full`: [`WhenFull::Deny`] (the
/// default: 503) or [`WhenFull::Allow`] (admitted without a limit). Keys
/// that hold a slot are never evicted, so their limits stay exact.
///
/// Several limits per key are kept in one keyed table per limit position,
/// because a ratecore keyed table holds one limiter per key. A check is all
/// or nothing across them, as ratecore's `KeyedTiers` (whose tables must be
/// inline, hence not used here): it first peeks at every limit (writing
/// nothing; every refusal that loses no race is made here), then charges
/// them, the scarcest first, each charge returning a receipt; if a
/// concurrent request took a limit's last unit in between, the charges
/// already made are undone with ratecore's `KeyedLimiter::undo`, which
/// restores the state the charge replaced if no other request of that key
/// wrote in between, and otherwise takes the units back only as far as the
/// algorithm says is safe (stricter, never looser).
#[derive(Clone)]
pub struct InMemoryStore {
    tables: Arc<Tables>,
}

impl std::fmt::Debug for InMemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryStore")
            .field("capacity", &self.capacity())
            .field("memory_bytes", &self.memory_bytes())
            .finish_non_exhaustive()
    }
}

impl InMemoryStore {
    /// A store for `plans`, holding at least `capacity` active keys.
    pub fn new(plans: &Plans, capacity: usize, when_full: WhenFull) -> Self {
        let shards = capacity.div_ceil(SHARD_SLOTS).max(1);
        let hasher = RandomState::new();
        let positions = plans
            .iter()
            .map(|(_, plan)| plan.limits().len())
            .max()
            .unwrap_or(0);
        let rates = (0..positions)
            .map(|position| {
                Sharded::new(shards, &hasher, when_full, || {
                    std::array::from_fn(|p| {
                        PlanId::new(p)
                            .and_then(|id| plans.get(id))
                            .and_then(|plan| plan.limits().get(position))
                            .and_then(|limit| rc::rate(*limit.quota()).ok())
                            .unwrap_or_else(rc::unused_rate)
                    })
                })
            })
            .collect();
        let concurrency = plans
            .iter()
            .any(|(_, plan)| plan.concurrency_limit().is_some())
            .then(|| {
                Sharded::new(shards, &hasher, when_full, || {
                    std::array::from_fn(|p| {
                        PlanId::new(p)
                            .and_then(|id| plans.get(id))
                            .and_then(|plan| plan.concurrency_limit())
                            .and_then(|limit| rc::concurrency(limit).ok())
                            .unwrap_or_else(rc::unused_concurrency)
                    })
                })
            });
        Self {
            tables: Arc::new(Tables {
                plans: plans.clone(),
                rates,
                concurrency,
                hasher,
                shards,
            }),
        }
    }

    /// The most keys held at once: slots per table.
    pub fn capacity(&self) -> usize {
        self.tables.shards.saturating_mul(SHARD_SLOTS)
    }

    /// The bytes of the tables' slots: fixed when the store is built.
    pub fn memory_bytes(&self) -> usize {
        let tables = self.tables.rates.len() + usize::from(self.tables.concurrency.is_some());
        tables
            .saturating_mul(self.tables.shards)
            .saturating_mul(std::mem::size_of::<Shard<Rate>>() + SHARD_SLOT_BYTES)
    }

    /// How many keys hold a slot and are active at `now_ms`, in the first
    /// limit position's table (scans every slot).
    pub fn active_keys(&self, now_ms: u64) -> usize {
        self.tables
            .rates
            .first()
            .map_or(0, |table| table.occupancy(now_ms))
    }

    /// How many checks found no room for their key, over every table.
    pub fn full_count(&self) -> u64 {
        let rates: u64 = self.tables.rates.iter().map(Sharded::full_count).sum();
        rates
            + self
                .tables
                .concurrency
                .as_ref()
                .map_or(0, Sharded::full_count)
    }

    /// The check, synchronously: what [`Store::check`] answers.
    pub fn check_now(&self, request: &StoreRequest) -> Verdict<InMemoryPermit> {
        let tables = &self.tables;
        let Some(plan) = tables.plans.get(request.plan) else {
            // No such plan: nothing to limit by (the layer checks ids).
            return verdict(Outcome::Unlimited, LimitStates::new(), None);
        };
        let check = Check {
            tables,
            plan,
            shard: tables.shard_of(&request.key),
            key: &request.key,
            p: request.plan.0,
            now: request.now_ms,
            cost: request.cost,
        };
        match check.concurrency(&self.tables) {
            ControlFlow::Continue(permit) => check.rates(permit),
            ControlFlow::Break(refused) => refused,
        }
    }
}

fn verdict(
    outcome: Outcome,
    states: LimitStates,
    permit: Option<InMemoryPermit>,
) -> Verdict<InMemoryPermit> {
    Verdict {
        outcome,
        states,
        permit,
    }
}

impl From<rc::State> for LimitState {
    fn from(state: rc::State) -> Self {
        Self {
            limit: state.limit,
            remaining: state.remaining,
            reset_after_ms: state.reset_after_ms,
            retry_after_ms: None,
        }
    }
}

/// The stricter of two refusals: one that can never pass, then the longest
/// wait, then no room.
fn stricter(a: Option<(usize, Tick)>, b: (usize, Tick)) -> (usize, Tick) {
    let rank = |t: &Tick| match *t {
        Tick::TooLarge { .. } => (3, 0),
        Tick::Limited { retry_after_ms, .. } => (2, retry_after_ms),
        Tick::Full => (1, 0),
        _ => (0, 0),
    };
    match a {
        Some(a) if rank(&a.1) >= rank(&b.1) => a,
        _ => b,
    }
}

/// One request's check in an [`InMemoryStore`]: its key's shard in every
/// table, its plan and its cost.
struct Check<'a> {
    tables: &'a Tables,
    plan: &'a crate::plan::Plan,
    shard: usize,
    key: &'a Key,
    p: u8,
    now: u64,
    cost: u32,
}

impl<'a> Check<'a> {
    /// The key's shard of limit `position`'s table.
    fn table(&self, position: usize) -> Option<&'a Shard<Rate>> {
        self.tables.rates.get(position)?.shards.get(self.shard)
    }

    /// What limit `position` is charged.
    fn cost_of(&self, position: usize) -> u32 {
        match self.plan.limits().get(position).map(|l| l.meter()) {
            Some(Meter::Cost) => self.cost,
            _ => 1,
        }
    }

    /// Every limit's state, changing nothing.
    fn snapshots(&self) -> LimitStates {
        let mut states = LimitStates::new();
        for position in 0..self.plan.limits().len() {
            if let Some(t) = self.table(position) {
                states.push(rc::snapshot(t, self.key, self.p, self.now).into());
            }
        }
        states
    }

    /// A place under the plan's concurrency limit first (its release, a
    /// refund of one unit, is exact: counts in flight commute). `Break`:
    /// the refusal.
    fn concurrency(
        &self,
        shared: &Arc<Tables>,
    ) -> ControlFlow<Verdict<InMemoryPermit>, Option<InMemoryPermit>> {
        use ControlFlow::{Break, Continue};
        let (Some(_), Some(table)) = (self.plan.concurrency_limit(), &self.tables.concurrency)
        else {
            return Continue(None);
        };
        let Some(shard_table) = table.shards.get(self.shard) else {
            return Break(verdict(Outcome::NoRoom, LimitStates::new(), None));
        };
        match rc::check(shard_table, self.key, self.p, 1, self.now) {
            Tick::Admitted(_) => Continue(Some(InMemoryPermit {
                tables: Arc::clone(shared),
                key: self.key.clone(),
                plan: self.p,
                shard: self.shard,
                at_ms: self.now,
            })),
            Tick::Unlimited => Continue(None),
            // Still report the rate limits' states.
            Tick::AtCapacity { limit, .. } | Tick::TooLarge { burst: limit } => Break(verdict(
                Outcome::AtCapacity { limit },
                self.snapshots(),
                None,
            )),
            Tick::Full | Tick::Limited { .. } => {
                Break(verdict(Outcome::NoRoom, LimitStates::new(), None))
            }
        }
    }

    /// The rate limits, all or nothing: peek at every limit (writing
    /// nothing), then charge them scarcest first, undoing the charges made
    /// if a concurrent request took a limit's last units in between.
    /// `permit` is released on a refusal: the request does not run.
    fn rates(&self, permit: Option<InMemoryPermit>) -> Verdict<InMemoryPermit> {
        let count = self.plan.limits().len().min(MAX_LIMITS);
        // (remaining, position): the charge order, scarcest first.
        let mut order = [(0u32, 0usize); MAX_LIMITS];
        let mut refusal: Option<(usize, Tick)> = None;
        for (position, slot) in order.iter_mut().enumerate().take(count) {
            *slot = (0, position);
            // A plan of one limit needs no peek: its charge alone is all or nothing.
            let Some(t) = self.table(position).filter(|_| count > 1) else {
                continue;
            };
            match rc::peek(t, self.key, self.p, self.cost_of(position), self.now) {
                Ok(state) => slot.0 = state.remaining,
                Err(tick) => refusal = Some(stricter(refusal, (position, tick))),
            }
        }
        if let Some((position, tick)) = refusal {
            return self.refused(position, tick);
        }
        let order = order.get_mut(..count).unwrap_or(&mut []);
        order.sort_unstable();
        let mut receipts = [rc::Receipt::NOTHING; MAX_LIMITS];
        let mut charged = [None::<rc::State>; MAX_LIMITS];
        for (done, &(_, position)) in order.iter().enumerate() {
            let Some(t) = self.table(position) else {
                continue;
            };
            match rc::charge(t, self.key, self.p, self.cost_of(position), self.now) {
                Ok((state, receipt)) => {
                    if let (Some(r), Some(c)) = (receipts.get_mut(done), charged.get_mut(position))
                    {
                        (*r, *c) = (receipt, state);
                    }
                }
                Err(tick) => {
                    let made = order.iter().zip(receipts).take(done).rev();
                    for (&(_, undone), receipt) in made {
                        if let Some(t) = self.table(undone) {
                            rc::undo(t, receipt);
                        }
                    }
                    return self.refused(position, tick);
                }
            }
        }
        // Every limit charged, or (for a table with no room under
        // `WhenFull::Allow`) passed unlimited: report a fresh state for those.
        let mut states = LimitStates::new();
        let mut limited = false;
        for (position, state) in charged.into_iter().enumerate().take(count) {
            let state = match (state, self.table(position)) {
                (Some(state), _) => {
                    limited = true;
                    state
                }
                (None, Some(t)) => rc::snapshot(t, self.key, self.p, self.now),
                (None, None) => continue,
            };
            states.push(state.into());
        }
        let outcome = if limited || count == 0 {
            Outcome::Admitted
        } else {
            Outcome::Unlimited
        };
        verdict(outcome, states, permit)
    }

    /// The verdict of limit `position` refusing with `tick`: every limit's
    /// state, the refusing one's with its wait.
    fn refused(&self, position: usize, tick: Tick) -> Verdict<InMemoryPermit> {
        let mut states = self.snapshots();
        let outcome = match tick {
            Tick::Limited {
                state,
                retry_after_ms,
            } => {
                if let Some(slot) = states.states.get_mut(position) {
                    *slot = LimitState {
                        retry_after_ms: Some(retry_after_ms),
                        ..state.into()
                    };
                }
                Outcome::RateLimited {
                    limit: position,
                    retry_after_ms,
                }
            }
            Tick::TooLarge { burst } => Outcome::TooLarge {
                limit: position,
                max: burst,
            },
            _ => Outcome::NoRoom,
        };
        verdict(outcome, states, None)
    }
}

impl Store for InMemoryStore {
    type Permit = InMemoryPermit;
    type Error = Infallible;
    type Future = Ready<Result<Verdict<InMemoryPermit>, Infallible>>;

    fn check(&self, request: StoreRequest) -> Self::Future {
        ready(Ok(self.check_now(&request)))
    }
}

/// A request's place under its key's concurrency limit in an
/// [`InMemoryStore`]; dropping it frees the place.
pub struct InMemoryPermit {
    tables: Arc<Tables>,
    key: Key,
    plan: u8,
    shard: usize,
    at_ms: u64,
}

impl std::fmt::Debug for InMemoryPermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryPermit")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Drop for InMemoryPermit {
    fn drop(&mut self) {
        if let Some(t) = self
            .tables
            .concurrency
            .as_ref()
            .and_then(|table| table.shards.get(self.shard))
        {
            rc::refund(t, &self.key, self.plan, 1, self.at_ms);
        }
    }
}
