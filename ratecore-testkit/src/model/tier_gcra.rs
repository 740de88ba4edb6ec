//! Plain reference limiters for the composition tests, written from
//! the documented semantics alone (not from `src/`): GCRA in exact integer arithmetic, a
//! token counter refilled at period boundaries, and tiers built from them.
//!
//! Times are whole ticks. A GCRA with `count` units per `period` ticks has
//! the emission interval `T = period / count` ticks; every time is kept
//! multiplied by `count`, so `T` is the integer `period` and nothing rounds.

/// One answer, in plain numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Admitted: units left, ticks until full.
    Admit {
        limit: u32,
        remaining: u32,
        reset_after: u64,
    },
    /// Not now: units left, exact wait, ticks until full.
    Deny {
        limit: u32,
        remaining: u32,
        retry_after: u64,
        reset_after: u64,
    },
    /// `n` above the burst.
    TooLarge { requested: u32, burst: u32 },
}

/// GCRA (ARCHITECTURE.md): admits `n` at `now` iff `max(tat, now) + n*T - now <= b*T`,
/// then `tat = max(tat, now) + n*T`. Also a greedy token bucket. The one GCRA
/// model ([`super::gcra::Gcra`], `count` units per `period` ticks),
/// answering in plain `u64` numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gcra(super::gcra::Gcra);

impl Gcra {
    pub fn new(count: u32, period_ticks: u64, burst: u32) -> Self {
        Self(super::gcra::Gcra::per_period(count, period_ticks, burst))
    }

    pub fn burst(&self) -> u32 {
        self.0.burst()
    }

    /// The theoretical arrival time, in ticks times the count (never
    /// negative: the reference clamps refunds at 0).
    pub fn tat(&self) -> u128 {
        u128::try_from(self.0.tat()).unwrap_or(0)
    }

    /// The same limiter with theoretical arrival time `tat` (ticks times the
    /// count).
    pub fn with_tat(self, tat: u128) -> Self {
        Self(self.0.with_tat(i128::try_from(tat).unwrap_or(i128::MAX)))
    }

    /// The answer to `n` units at `now`, and the model to keep if it stores
    /// a state (admitted, `n > 0`).
    pub fn decide(&self, n: u32, now: u64) -> (Answer, Option<Self>) {
        let mut next = *self;
        let answer = next.check(n, now);
        (answer, (next != *self).then_some(next))
    }

    pub fn check(&mut self, n: u32, now: u64) -> Answer {
        self.0.check(n, now).into()
    }

    pub fn status(&self, now: u64) -> Answer {
        self.decide(0, now).0
    }

    /// See [`super::gcra::Gcra::units_left_after`].
    pub fn units_left_after(&self, n: u32, now: u64) -> Option<(i128, i128)> {
        self.0.units_left_after(n, now)
    }
}

impl From<super::Answer> for Answer {
    /// The GCRA model's answer, in `u64` ticks.
    fn from(answer: super::Answer) -> Self {
        let ticks = |t: u128| u64::try_from(t).expect("model: a wait of more than u64::MAX ticks");
        match answer {
            super::Answer::Admitted(s) => Answer::Admit {
                limit: s.limit,
                remaining: s.remaining,
                reset_after: ticks(s.reset_after),
            },
            super::Answer::RateLimited {
                limit,
                remaining,
                retry_after,
                reset_after,
            } => Answer::Deny {
                limit,
                remaining,
                retry_after: ticks(retry_after),
                reset_after: ticks(reset_after),
            },
            super::Answer::ExceedsBurst { requested, burst } => {
                Answer::TooLarge { requested, burst }
            }
            super::Answer::Unknown => unreachable!("the GCRA model knows its answers"),
        }
    }
}

/// A bucket of `burst` tokens that receives `count` tokens at every multiple
/// of `period` ticks (capped at the burst). Times must not go backwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntervalBucket {
    count: u64,
    period: u64,
    pub burst: u32,
    pub tokens: u64,
    /// The period index of the last refill.
    pub index: u64,
}

impl IntervalBucket {
    pub fn new(count: u32, period_ticks: u64, burst: u32) -> Self {
        Self {
            count: count as u64,
            period: period_ticks,
            burst,
            tokens: burst as u64,
            index: 0,
        }
    }

    fn refilled(&self, now: u64) -> (u64, u64) {
        let index = now / self.period;
        let periods = index.saturating_sub(self.index);
        let tokens = (self.tokens + periods.saturating_mul(self.count)).min(self.burst as u64);
        (tokens, index.max(self.index))
    }

    /// Ticks from `now` until `more` tokens beyond `tokens` have arrived.
    fn wait(&self, index: u64, more: u64, now: u64) -> u64 {
        if more == 0 {
            return 0;
        }
        let periods = more.div_ceil(self.count);
        ((index + periods) * self.period).saturating_sub(now)
    }

    pub fn decide(&self, n: u32, now: u64) -> (Answer, Option<(u64, u64)>) {
        if let Some(refused) = too_large(n, self.burst) {
            return refused;
        }
        let (tokens, index) = self.refilled(now);
        let burst = self.burst as u64;
        if tokens >= n as u64 {
            let left = tokens - n as u64;
            let answer = Answer::Admit {
                limit: self.burst,
                remaining: left as u32,
                reset_after: self.wait(index, burst - left, now),
            };
            (answer, Some((left, index)))
        } else {
            let answer = Answer::Deny {
                limit: self.burst,
                remaining: tokens as u32,
                retry_after: self.wait(index, n as u64 - tokens, now),
                reset_after: self.wait(index, burst - tokens, now),
            };
            (answer, None)
        }
    }

    pub fn check(&mut self, n: u32, now: u64) -> Answer {
        let (answer, next) = self.decide(n, now);
        if let (Some((tokens, index)), true) = (next, n > 0) {
            self.tokens = tokens;
            self.index = index;
        }
        answer
    }

    pub fn status(&self, now: u64) -> Answer {
        self.decide(0, now).0
    }

    /// The tokens left after an admitted check of `n` at `now` (whole
    /// tokens: the fraction `(tokens, 1)`), `None` if it is not admitted.
    pub fn units_left_after(&self, n: u32, now: u64) -> Option<(i128, i128)> {
        let (tokens, _) = self.refilled(now);
        let left = tokens.checked_sub(u64::from(n))?;
        (n <= self.burst).then_some((i128::from(left), 1))
    }
}

impl Answer {
    /// The status fields (limit, units left, ticks until full) as an
    /// admission: what a snapshot reports, even where a zero-unit check
    /// would be denied (a backlog beyond the capacity, after a booking
    /// ahead or at a stale instant).
    pub fn as_status(self) -> Answer {
        match self {
            Answer::Deny {
                limit,
                remaining,
                reset_after,
                ..
            } => Answer::Admit {
                limit,
                remaining,
                reset_after,
            },
            other => other,
        }
    }
}

/// Which limiter a [`Spec`] describes: GCRA, or a token bucket refilled
/// greedily or in whole intervals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Gcra,
    Greedy,
    Interval,
}

/// A limiter of `kind`: `count` units per `period` ticks, at most `burst`.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub kind: Kind,
    pub count: u32,
    pub period: u64,
    pub burst: u32,
}

impl Spec {
    /// The spec's quota, its period in ticks of `1 / HZ` seconds.
    pub fn quota<const HZ: u64>(&self) -> ratecore::Quota {
        ratecore::Quota::with_period(
            self.count,
            ratecore::Duration::<HZ>::from_ticks(self.period),
        )
        .burst(self.burst)
    }

    /// The spec's reference model (a greedy bucket is GCRA).
    pub fn model(&self) -> Model {
        match self.kind {
            Kind::Gcra | Kind::Greedy => {
                Model::Gcra(Gcra::new(self.count, self.period, self.burst))
            }
            Kind::Interval => {
                Model::Interval(IntervalBucket::new(self.count, self.period, self.burst))
            }
        }
    }
}

/// Either reference limiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    Gcra(Gcra),
    Interval(IntervalBucket),
}

impl Model {
    pub fn peek(&self, n: u32, now: u64) -> Answer {
        match self {
            Model::Gcra(m) => m.decide(n, now).0,
            Model::Interval(m) => m.decide(n, now).0,
        }
    }

    pub fn check(&mut self, n: u32, now: u64) -> Answer {
        match self {
            Model::Gcra(m) => m.check(n, now),
            Model::Interval(m) => m.check(n, now),
        }
    }

    pub fn status(&self, now: u64) -> Answer {
        match self {
            Model::Gcra(m) => m.status(now),
            Model::Interval(m) => m.status(now),
        }
    }

    pub fn burst(&self) -> u32 {
        match self {
            Model::Gcra(m) => m.burst(),
            Model::Interval(m) => m.burst,
        }
    }

    /// The units left after an admitted check of `n` at `now`, as an exact
    /// fraction `(numerator, denominator)`, fractions of a unit counted;
    /// `None` if the check is not admitted.
    pub fn units_left_after(&self, n: u32, now: u64) -> Option<(i128, i128)> {
        match self {
            Model::Gcra(m) => m.units_left_after(n, now),
            Model::Interval(m) => m.units_left_after(n, now),
        }
    }
}

/// How restrictive a denial is (the order documented on `Tiers`): a request
/// that can never pass, then the longest wait, then the fewest units left.
fn severity(answer: &Answer) -> (u8, u64, u32) {
    match *answer {
        Answer::TooLarge { .. } => (2, 0, 0),
        Answer::Deny {
            remaining,
            retry_after,
            ..
        } => (1, retry_after, u32::MAX - remaining),
        Answer::Admit { .. } => (0, 0, 0),
    }
}

/// The tiered answer: `(tier, answer)`, admitted or denied.
pub type TierModelAnswer = Result<(usize, Answer), (usize, Answer)>;

/// Tiers over reference limiters, all or nothing: if every tier admits its
/// cost, every tier is charged and the answer is the tier left with the
/// fewest units (then the longest to full, then the lowest position);
/// otherwise nothing changes and the answer is the most restrictive denial
/// (lowest position on a tie).
pub fn check_tiers(models: &mut [Model], costs: &[u32], now: u64) -> TierModelAnswer {
    let answers: Vec<Answer> = models
        .iter()
        .zip(costs)
        .map(|(m, &c)| m.peek(c, now))
        .collect();
    let mut worst: Option<(usize, Answer)> = None;
    for (i, a) in answers.iter().enumerate() {
        if matches!(a, Answer::Admit { .. }) {
            continue;
        }
        match worst {
            Some((_, w)) if severity(&w) >= severity(a) => {}
            _ => worst = Some((i, *a)),
        }
    }
    if let Some(worst) = worst {
        return Err(worst);
    }
    let mut binding: Option<(usize, Answer)> = None;
    for (i, (m, &c)) in models.iter_mut().zip(costs).enumerate() {
        let a = m.check(c, now);
        if binding.is_none_or(|(b, bound)| tightness(i, &a) < tightness(b, &bound)) {
            binding = Some((i, a));
        }
    }
    Ok(binding.expect("at least one tier"))
}

/// The library's answer as plain numbers (the refusals these models know).
pub fn from_decision<const HZ: u64>(decision: &ratecore::Decision<HZ>) -> Answer {
    match decision {
        Ok(status) => from_status(status),
        Err(ratecore::Denied::RateLimited(r)) => Answer::Deny {
            limit: r.limit(),
            remaining: r.remaining(),
            retry_after: r.retry_after().as_ticks(),
            reset_after: r.reset_after().as_ticks(),
        },
        Err(ratecore::Denied::ExceedsBurst(e)) => Answer::TooLarge {
            requested: e.requested,
            burst: e.burst,
        },
        Err(other) => panic!("a refusal the reference models do not make: {other}"),
    }
}

/// A status as plain numbers.
pub fn from_status<const HZ: u64>(status: &ratecore::Status<HZ>) -> Answer {
    Answer::Admit {
        limit: status.limit(),
        remaining: status.remaining(),
        reset_after: status.reset_after().as_ticks(),
    }
}

/// A tiered answer as plain numbers.
pub fn from_tiers<const HZ: u64>(
    decision: &ratecore::compose::TierDecision<HZ>,
) -> TierModelAnswer {
    match decision {
        Ok(a) => Ok((a.tier, from_status(&a.answer))),
        Err(a) => Err((a.tier, from_decision::<HZ>(&Err(a.answer)))),
    }
}

impl Model {
    /// How far this state is from `other` in the conservative direction:
    /// `Some(units)` if it has used `units` more than `other` (rounded down),
    /// `None` if it has used less (looser).
    pub fn used_more_than(&self, other: &Model, now: u64) -> Option<u32> {
        let left = |m: &Model| match m.status(now) {
            Answer::Admit { remaining, .. } | Answer::Deny { remaining, .. } => remaining,
            Answer::TooLarge { .. } => unreachable!(),
        };
        left(other).checked_sub(left(self))
    }
}

/// The tier protocol documented on `Tiers`, with concurrent callers: peek
/// every tier; if all admit, charge them scarcest first (fewest units left
/// after the charge, fractions of a unit counted, then lowest position),
/// and just before tier `race`'s
/// charge let `interference` (direct checks `(tier, n)`) act, as concurrent
/// callers would. If a charge is then denied, every tier charged so far is
/// rolled back, latest first: restored to its state before our charge if
/// its state is still the one our charge left, and otherwise kept.
///
/// Returns the answer, per tier whether it kept our charge, and the
/// interfering checks that were admitted (none if a peek denied: they never
/// ran; and some may be denied only because of our charge in flight).
pub fn check_tiers_racing(
    models: &mut [Model],
    costs: &[u32],
    now: u64,
    race: usize,
    interference: &[(usize, u32)],
) -> (TierModelAnswer, Vec<bool>, Vec<(usize, u32)>) {
    let mut admitted = Vec::new();
    let mut kept = vec![false; models.len()];
    let peeks: Vec<Answer> = models
        .iter()
        .zip(costs)
        .map(|(m, &c)| m.peek(c, now))
        .collect();
    if peeks.iter().any(|a| !matches!(a, Answer::Admit { .. })) {
        // Nothing is charged, nothing races: the plain answer.
        return (check_tiers(models, costs, now), kept, admitted);
    }
    let mut order: Vec<((i128, i128), usize)> = models
        .iter()
        .zip(costs)
        .enumerate()
        .map(|(i, (m, &c))| (m.units_left_after(c, now).expect("admitted by its peek"), i))
        .collect();
    // By the fractions' values (cross products), then by position.
    order.sort_by(|((a, b), i), ((c, d), j)| (a * d).cmp(&(c * b)).then(i.cmp(j)));
    // (tier, state before our charge, state after it)
    let mut charged: Vec<(usize, Model, Model)> = Vec::new();
    let mut binding: Option<(usize, Answer)> = None;
    for &(_, i) in &order {
        if i == race {
            for &(j, n) in interference {
                if let Answer::Admit { .. } = models[j].check(n, now) {
                    admitted.push((j, n));
                }
            }
        }
        let before = models[i];
        let answer = models[i].check(costs[i], now);
        match answer {
            Answer::Admit { .. } => {
                charged.push((i, before, models[i]));
                if binding.is_none_or(|(b, bound)| tightness(i, &answer) < tightness(b, &bound)) {
                    binding = Some((i, answer));
                }
            }
            denied => {
                for &(k, before, after) in charged.iter().rev() {
                    if models[k] == after {
                        models[k] = before;
                    } else {
                        kept[k] = true;
                    }
                }
                return (Err((i, denied)), kept, admitted);
            }
        }
    }
    (Ok(binding.expect("at least one tier")), kept, admitted)
}

/// More than the burst is refused as too large, and stores nothing.
fn too_large<S>(n: u32, burst: u32) -> Option<(Answer, Option<S>)> {
    (n > burst).then_some((
        Answer::TooLarge {
            requested: n,
            burst,
        },
        None,
    ))
}

/// How tightly tier `tier`'s admission binds, smallest first: fewer units
/// remaining, then a later reset, then a lower tier. Only admissions bind.
fn tightness(tier: usize, answer: &Answer) -> (u32, std::cmp::Reverse<u64>, usize) {
    match *answer {
        Answer::Admit {
            remaining,
            reset_after,
            ..
        } => (remaining, std::cmp::Reverse(reset_after), tier),
        _ => unreachable!("only an admission binds"),
    }
}
