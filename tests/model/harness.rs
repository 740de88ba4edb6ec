//! Operation sequences run through limiters and models side by side.
//!
//! An [`Op`] is a raw value (from a proptest strategy or fuzz bytes) that the
//! [`Driver`] turns into a concrete [`Action`] relative to the limiter under
//! test: check sizes relative to the burst, clock moves relative to the time
//! per unit, jumps to the last `retry_after`/`reset_after` (to land exactly on
//! the boundaries), to the horizon and near `u64::MAX`.
//!
//! - [`differential`] demands identical answers from every subject;
//! - [`invariants`] checks the DESIGN invariants on one subject that can be
//!   cloned (a state word driven through the `Algorithm` trait, or a model),
//!   with a second, real limiter as a "shadow" that never sees the denied
//!   checks and peeks: if a denial or a peek changed anything, the two part.

use ratecore::{
    Algorithm, Gcra, Instant, Limiter, Quota, QuotaError, RefillMode, Refund, TokenBucket,
};

use super::gcra::Gcra as GcraModel;
use super::spec::QuotaSpec;
use super::token_bucket::{Refill, TokenBucket as BucketModel};
use super::{Answer, Status, answer, status};

/// One step of a trace, in raw numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Check `raw % (burst + 3)` units (0 is a peek, above the burst is "never").
    Check(u32),
    /// Check exactly this many units.
    CheckRaw(u32),
    /// `snapshot_at(now)`.
    Peek,
    /// Refund a few units (or, for raw values near `u32::MAX`, that many).
    Refund(u32),
    /// `add_tokens` (a refund at tick 0 for a `Gcra`), sized as `Refund`.
    AddTokens(u32),
    /// `available_at(now)` (the snapshot's `remaining` for a `Gcra`).
    Available,
    /// Clock forwards by a fraction of a unit's time, or by many units.
    Forward(u32),
    /// Clock forwards by 0 to 3 ticks.
    Tick(u8),
    /// Clock backwards, sized as `Forward`.
    Back(u32),
    /// Clock to `now + last retry_after`, plus -1, 0 or +1 tick.
    WaitRetry(i8),
    /// Clock to `now + last reset_after`, plus -1, 0 or +1 tick.
    WaitReset(i8),
    /// Clock to any instant.
    Jump(u64),
    /// Clock to within 65,535 ticks of `u64::MAX`.
    NearEnd(u32),
    /// Clock to within two units' time of the horizon.
    NearHorizon(i32),
}

/// What the limiter under test looks like to the driver and the invariants.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub burst: u32,
    pub horizon: u64,
    pub rate: Refill,
}

impl Config {
    /// Ticks of about one unit's worth of refill (at least 1).
    pub fn unit(&self) -> u64 {
        match self.rate {
            Refill::Greedy { units, scale } => units.div_ceil(scale).max(1),
            Refill::Interval { period, .. } => period.max(1),
        }
    }
}

/// A concrete operation at a concrete instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Check(u32, u64),
    Peek(u64),
    Refund(u32, u64),
    AddTokens(u32),
    Available(u64),
    /// Only the clock moved.
    Moved,
}

/// The clock of a trace, and the last waits the limiter announced.
#[derive(Clone, Debug, Default)]
pub struct Driver {
    pub now: u64,
    retry: u64,
    reset: u64,
}

fn reduce(raw: u32, modulus: u64) -> u32 {
    u32::try_from(u64::from(raw) % modulus).expect("below a u32")
}

fn amount(raw: u32, burst: u32) -> u32 {
    if raw >= 0xFFF0_0000 {
        raw
    } else {
        reduce(raw, u64::from(burst) + 2)
    }
}

fn span(raw: u32, unit: u64) -> u64 {
    if raw & 0x8000_0000 != 0 {
        unit.saturating_mul(u64::from(raw % 1_025))
    } else {
        let fraction = u128::from(unit) * u128::from(raw % 257) / 32;
        u64::try_from(fraction)
            .unwrap_or(u64::MAX)
            .saturating_add(u64::from((raw >> 16) % 3))
    }
}

fn nudge(t: u64, offset: i8) -> u64 {
    match offset.rem_euclid(3) {
        0 => t.saturating_sub(1),
        1 => t,
        _ => t.saturating_add(1),
    }
}

impl Driver {
    pub fn action(&mut self, op: Op, cfg: &Config) -> Action {
        let unit = cfg.unit();
        match op {
            Op::Check(raw) => {
                return Action::Check(reduce(raw, u64::from(cfg.burst) + 3), self.now);
            }
            Op::CheckRaw(n) => return Action::Check(n, self.now),
            Op::Peek => return Action::Peek(self.now),
            Op::Refund(raw) => return Action::Refund(amount(raw, cfg.burst), self.now),
            Op::AddTokens(raw) => return Action::AddTokens(amount(raw, cfg.burst)),
            Op::Available => return Action::Available(self.now),
            Op::Forward(raw) => self.now = self.now.saturating_add(span(raw, unit)),
            Op::Tick(raw) => self.now = self.now.saturating_add(u64::from(raw % 4)),
            Op::Back(raw) => self.now = self.now.saturating_sub(span(raw, unit)),
            Op::WaitRetry(o) => self.now = nudge(self.now.saturating_add(self.retry), o),
            Op::WaitReset(o) => self.now = nudge(self.now.saturating_add(self.reset), o),
            Op::Jump(t) => self.now = t,
            Op::NearEnd(raw) => self.now = u64::MAX - u64::from(raw % 65_536),
            Op::NearHorizon(raw) => {
                let reach = 2 * i128::from(unit) + 1;
                let t = i128::from(cfg.horizon) + i128::from(raw) % reach;
                self.now = u64::try_from(t.max(0)).unwrap_or(u64::MAX);
            }
        }
        Action::Moved
    }

    /// Remembers the waits an answer announced, for `WaitRetry`/`WaitReset`.
    pub fn saw(&mut self, outcome: &Outcome) {
        let clamp = |x: u128| u64::try_from(x).unwrap_or(u64::MAX);
        match outcome {
            Outcome::Answer(Answer::RateLimited {
                retry_after,
                reset_after,
                ..
            }) => {
                self.retry = clamp(*retry_after);
                self.reset = clamp(*reset_after);
            }
            Outcome::Answer(Answer::Admitted(s)) | Outcome::Status(s) => {
                self.reset = clamp(s.reset_after)
            }
            _ => {}
        }
    }
}

/// Anything that can be driven by a trace: a limiter, a state word, a model.
pub trait Subject {
    fn check(&mut self, n: u32, t: u64) -> Answer;
    fn snapshot(&self, t: u64) -> Status;
    fn refund(&mut self, n: u32, t: u64) -> Status;
    fn add_tokens(&mut self, n: u32);
    fn available(&self, t: u64) -> u32;
}

/// What an action returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Answer(Answer),
    Status(Status),
    Tokens(u32),
    Nothing,
}

pub fn apply(subject: &mut dyn Subject, action: Action) -> Outcome {
    match action {
        Action::Check(n, t) => Outcome::Answer(subject.check(n, t)),
        Action::Peek(t) => Outcome::Status(subject.snapshot(t)),
        Action::Refund(n, t) => Outcome::Status(subject.refund(n, t)),
        Action::AddTokens(n) => {
            subject.add_tokens(n);
            Outcome::Nothing
        }
        Action::Available(t) => Outcome::Tokens(subject.available(t)),
        Action::Moved => Outcome::Nothing,
    }
}

fn at<const HZ: u64>(t: u64) -> Instant<HZ> {
    Instant::<HZ>::from_ticks(t)
}

impl<const HZ: u64> Subject for Gcra<HZ> {
    fn check(&mut self, n: u32, t: u64) -> Answer {
        answer(&self.check_n_at(n, at(t)))
    }
    fn snapshot(&self, t: u64) -> Status {
        status(&self.snapshot_at(at(t)))
    }
    fn refund(&mut self, n: u32, t: u64) -> Status {
        status(&self.refund_n_at(n, at(t)))
    }
    /// `Gcra` has no `add_tokens`: the same thing is a refund (at tick 0).
    fn add_tokens(&mut self, n: u32) {
        let _ = self.refund_n_at(n, at(0));
    }
    fn available(&self, t: u64) -> u32 {
        self.snapshot_at(at(t)).remaining
    }
}

impl<const HZ: u64> Subject for TokenBucket<HZ> {
    fn check(&mut self, n: u32, t: u64) -> Answer {
        answer(&self.check_n_at(n, at(t)))
    }
    fn snapshot(&self, t: u64) -> Status {
        status(&self.snapshot_at(at(t)))
    }
    fn refund(&mut self, n: u32, t: u64) -> Status {
        status(&self.refund_n_at(n, at(t)))
    }
    fn add_tokens(&mut self, n: u32) {
        TokenBucket::add_tokens(self, n);
    }
    fn available(&self, t: u64) -> u32 {
        self.available_at(at(t))
    }
}

/// A state word driven through the `Algorithm` trait: a limiter whose whole
/// state can be copied, so invariants can try "what if" on a clone.
pub struct Word<'a, A, const HZ: u64> {
    alg: &'a A,
    state: u64,
}

impl<'a, A: Algorithm<HZ>, const HZ: u64> Word<'a, A, HZ> {
    pub fn fresh(alg: &'a A) -> Self {
        Self {
            alg,
            state: A::FRESH,
        }
    }
}

impl<A, const HZ: u64> Clone for Word<'_, A, HZ> {
    fn clone(&self) -> Self {
        Self {
            alg: self.alg,
            state: self.state,
        }
    }
}

impl<A: Algorithm<HZ>, const HZ: u64> Subject for Word<'_, A, HZ> {
    fn check(&mut self, n: u32, t: u64) -> Answer {
        let (decision, next) = self.alg.decide(self.state, n, at(t));
        if let Some(state) = next {
            self.state = state;
        }
        answer(&decision)
    }
    fn snapshot(&self, t: u64) -> Status {
        status(&self.alg.status(self.state, at(t)))
    }
    fn refund(&mut self, n: u32, t: u64) -> Status {
        self.state = self.alg.refunded(self.state, n, at(t));
        self.snapshot(t)
    }
    fn add_tokens(&mut self, n: u32) {
        self.state = self.alg.refunded(self.state, n, at(0));
    }
    fn available(&self, t: u64) -> u32 {
        self.snapshot(t).remaining
    }
}

impl Subject for GcraModel {
    fn check(&mut self, n: u32, t: u64) -> Answer {
        GcraModel::check(self, n, t)
    }
    fn snapshot(&self, t: u64) -> Status {
        GcraModel::snapshot(self, t)
    }
    fn refund(&mut self, n: u32, t: u64) -> Status {
        GcraModel::refund(self, n, t)
    }
    fn add_tokens(&mut self, n: u32) {
        let _ = GcraModel::refund(self, n, 0);
    }
    fn available(&self, t: u64) -> u32 {
        GcraModel::snapshot(self, t).remaining
    }
}

impl Subject for BucketModel {
    fn check(&mut self, n: u32, t: u64) -> Answer {
        BucketModel::check(self, n, t)
    }
    fn snapshot(&self, t: u64) -> Status {
        BucketModel::snapshot(self, t)
    }
    fn refund(&mut self, n: u32, t: u64) -> Status {
        BucketModel::refund(self, n, t)
    }
    fn add_tokens(&mut self, n: u32) {
        BucketModel::add_tokens(self, n);
    }
    fn available(&self, t: u64) -> u32 {
        BucketModel::available(self, t)
    }
}

/// Known bug (see the ignored `*_past_the_*` tests in `gcra_props.rs` and
/// `token_bucket_props.rs`): a wait that would end past the horizon (or past
/// `u64::MAX`, for interval refill, whose horizon is `u64::MAX`) is capped by
/// the crate at about the horizon, so it is neither the semantics' value nor
/// a wait that ends past the horizon, and at the horizon it is 0 (a
/// `retry_after` of 0, or a `reset_after` of 0 for a bucket that is not
/// full). While this is `true`, the harness does not compare `retry_after`
/// when the reference's retry lands past the horizon, nor `reset_after` when
/// the reference's reset lands past `u64::MAX` (no wait is exact there: every
/// later instant is evaluated as the horizon). Set it to `false` when the
/// crate is fixed: then every answer is compared exactly.
pub const TOLERATE_CAPPED_WAITS: bool = true;

/// Stands for a wait the harness does not compare.
pub const UNCOMPARED: u128 = u128::MAX;

/// `outcome` with the waits blanked that the reference's answer puts past
/// the horizon, while the bug above is tolerated.
fn uncompared_waits(
    outcome: Outcome,
    reference: &Outcome,
    action: Action,
    horizon: u64,
) -> Outcome {
    if !TOLERATE_CAPPED_WAITS {
        return outcome;
    }
    let (t, t_eval) = match action {
        Action::Check(_, t) | Action::Peek(t) | Action::Refund(_, t) => {
            (u128::from(t), u128::from(t.min(horizon)))
        }
        _ => return outcome,
    };
    let past_end = |wait: u128| t_eval + wait > u128::from(u64::MAX);
    let (retry_past, reset_past) = match reference {
        Outcome::Answer(Answer::RateLimited {
            retry_after,
            reset_after,
            ..
        }) => (
            t + retry_after > u128::from(horizon),
            past_end(*reset_after),
        ),
        Outcome::Answer(Answer::Admitted(s)) | Outcome::Status(s) => {
            (false, past_end(s.reset_after))
        }
        _ => (false, false),
    };
    let blank = |wait: u128, past: bool| if past { UNCOMPARED } else { wait };
    match outcome {
        Outcome::Answer(Answer::RateLimited {
            limit,
            remaining,
            retry_after,
            reset_after,
        }) => Outcome::Answer(Answer::RateLimited {
            limit,
            remaining,
            retry_after: blank(retry_after, retry_past),
            reset_after: blank(reset_after, reset_past),
        }),
        Outcome::Answer(Answer::Admitted(s)) => Outcome::Answer(Answer::Admitted(Status {
            reset_after: blank(s.reset_after, reset_past),
            ..s
        })),
        Outcome::Status(s) => Outcome::Status(Status {
            reset_after: blank(s.reset_after, reset_past),
            ..s
        }),
        other => other,
    }
}

/// For the invariants, which have no reference: the crate's wait reaches the
/// horizon, so it may be a capped one (while the bug is tolerated, such
/// waits are not checked).
fn wait_unchecked(t: u64, wait: u128, horizon: u64) -> bool {
    TOLERATE_CAPPED_WAITS && u128::from(t) + wait >= u128::from(horizon)
}

/// Runs `ops` through `reference` and every subject; panics at the first
/// answer that differs.
pub fn differential(
    ops: &[Op],
    cfg: &Config,
    reference: &mut dyn Subject,
    subjects: &mut [(&str, &mut dyn Subject)],
) {
    let mut driver = Driver::default();
    for (i, &op) in ops.iter().enumerate() {
        let action = driver.action(op, cfg);
        let want = apply(reference, action);
        for (name, subject) in subjects.iter_mut() {
            let got = uncompared_waits(apply(*subject, action), &want, action, cfg.horizon);
            assert_eq!(
                got,
                uncompared_waits(want, &want, action, cfg.horizon),
                "{name} differs from the reference at op #{i}, {op:?} = {action:?}, {cfg:?}"
            );
        }
        driver.saw(&want);
    }
}

/// Admissions (positive) and refunds (negative) of one run of non-decreasing
/// time, for the span bound.
struct SpanLog {
    cfg: Config,
    events: Vec<(u64, i128)>,
}

impl SpanLog {
    fn record(&mut self, t: u64, units: i128) {
        if self.events.last().is_some_and(|&(last, _)| t < last) {
            self.check();
            self.events.clear();
        }
        self.events.push((t, units));
    }

    /// No `[t_i, t_j]` admits more than `burst` plus what the rate earns in
    /// it (plus what was refunded in it): for continuous refill,
    /// `b + (t_j - t_i) / T` units; for interval refill, `b + c` per period
    /// boundary crossed.
    fn check(&self) {
        let (token, earned): (i128, Box<dyn Fn(u64, u64) -> i128>) = match self.cfg.rate {
            Refill::Greedy { units, scale } => (
                units.into(),
                Box::new(move |a, b| i128::from(b - a) * i128::from(scale)),
            ),
            Refill::Interval { period, count } => (
                1,
                Box::new(move |a, b| i128::from(b / period - a / period) * i128::from(count)),
            ),
        };
        let burst = i128::from(self.cfg.burst) * token;
        for i in 0..self.events.len() {
            let mut net = 0;
            for j in i..self.events.len() {
                net += self.events[j].1 * token;
                let (t0, t1) = (self.events[i].0, self.events[j].0);
                assert!(
                    net <= burst + earned(t0, t1),
                    "span [{t0}, {t1}] admitted {} units net, more than the bound ({:?})",
                    net / token,
                    self.cfg
                );
            }
        }
    }
}

/// `remaining = k`: exactly `k` more single units pass at `t`.
fn exact_remaining<S: Subject + Clone>(s: &S, t: u64, k: u32, what: &str) {
    let mut probe = s.clone();
    if k <= 64 {
        for j in 0..k {
            assert!(
                probe.check(1, t).is_admitted(),
                "{what}: remaining {k} at {t}, but unit #{j} was denied"
            );
        }
    } else {
        assert!(
            probe.check(k, t).is_admitted(),
            "{what}: remaining {k} at {t}, but {k} units were denied"
        );
    }
    let next = probe.check(1, t);
    assert!(
        next.is_rate_limited(),
        "{what}: remaining {k} at {t}, but unit #{k} got {next:?}"
    );
}

/// `retry_after = r`: the same check passes at `t + r` and fails at `t + r - 1`
/// (when both are before the horizon, where answers are exact).
fn exact_retry<S: Subject + Clone>(s: &S, n: u32, t: u64, r: u128, cfg: &Config) {
    let then = u128::from(t) + r;
    if t > cfg.horizon || then > u128::from(cfg.horizon) {
        return;
    }
    let then = u64::try_from(then).expect("before the horizon");
    let answer = s.clone().check(n, then);
    assert!(
        answer.is_admitted(),
        "check of {n} at {t} said retry after {r}, but at {then}: {answer:?}"
    );
    let answer = s.clone().check(n, then - 1);
    assert!(
        answer.is_rate_limited(),
        "check of {n} at {t} said retry after {r}, but a tick earlier: {answer:?}"
    );
}

/// `reset_after = r`: full at `t + r`, not yet at `t + r - 1`.
fn exact_reset<S: Subject + Clone>(s: &S, t: u64, r: u128, cfg: &Config) {
    let then = u128::from(t) + r;
    if t > cfg.horizon || then > u128::from(cfg.horizon) || wait_unchecked(t, r, cfg.horizon) {
        return;
    }
    let then = u64::try_from(then).expect("before the horizon");
    let full = s.snapshot(then);
    assert_eq!(
        full.remaining, cfg.burst,
        "reset after {r} at {t}, but at {then}: {full:?}"
    );
    if r > 0 {
        let earlier = s.snapshot(then - 1);
        assert!(
            earlier.remaining < cfg.burst,
            "reset after {r} at {t}, but full a tick earlier: {earlier:?}"
        );
    }
}

/// The same state, seen from several instants.
fn same_state<S: Subject>(a: &S, b: &S, t: u64, cfg: &Config) {
    let unit = cfg.unit();
    for probe in [
        t,
        t.saturating_add(1),
        t.saturating_add(unit),
        t.saturating_sub(unit),
        0,
        cfg.horizon,
        u64::MAX,
    ] {
        assert_eq!(
            a.snapshot(probe),
            b.snapshot(probe),
            "a refused check changed the state (seen at {probe})"
        );
    }
}

/// Runs `ops` through `subject`, checking the DESIGN invariants at every step;
/// `shadow` is a fresh limiter of the same configuration that gets only the
/// steps that may change state (admitted checks of `n > 0`, refunds).
pub fn invariants<S: Subject + Clone>(
    ops: &[Op],
    cfg: &Config,
    mut subject: S,
    shadow: &mut dyn Subject,
) {
    let mut driver = Driver::default();
    let mut span = SpanLog {
        cfg: *cfg,
        events: Vec::new(),
    };
    for &op in ops {
        let action = driver.action(op, cfg);
        let outcome = match action {
            Action::Check(n, t) => {
                let before = subject.clone();
                let got = subject.check(n, t);
                match got {
                    Answer::ExceedsBurst { requested, burst } => {
                        assert!(
                            n > cfg.burst,
                            "{n} units refused as above the burst {}",
                            cfg.burst
                        );
                        assert_eq!((requested, burst), (n, cfg.burst));
                        same_state(&before, &subject, t, cfg);
                    }
                    Answer::Admitted(s) => {
                        assert!(
                            n <= cfg.burst,
                            "{n} units admitted above the burst {}",
                            cfg.burst
                        );
                        assert_eq!(s.limit, cfg.burst);
                        exact_remaining(&subject, t, s.remaining, "admitted");
                        exact_reset(&subject, t, s.reset_after, cfg);
                        if n > 0 {
                            assert_eq!(
                                shadow.check(n, t),
                                got,
                                "the shadow limiter parted at a check of {n} at {t}"
                            );
                            span.record(t, n.into());
                        } else {
                            assert_eq!(
                                Answer::Admitted(shadow.snapshot(t)),
                                got,
                                "a check of 0 is not a peek"
                            );
                        }
                    }
                    Answer::RateLimited {
                        limit,
                        remaining,
                        retry_after,
                        reset_after,
                    } => {
                        assert!(n <= cfg.burst);
                        assert_eq!(limit, cfg.burst);
                        assert!(
                            remaining < n || (n == 0 && remaining == 0),
                            "denied {n} with {remaining} remaining"
                        );
                        same_state(&before, &subject, t, cfg);
                        exact_remaining(&before, t, remaining, "denied");
                        if !wait_unchecked(t, reset_after, cfg.horizon) {
                            assert!(retry_after >= 1, "retry_after 0");
                            exact_retry(&before, n, t, retry_after, cfg);
                        }
                        exact_reset(&before, t, reset_after, cfg);
                    }
                    Answer::Unknown => panic!("unknown refusal for {n} at {t}"),
                }
                Outcome::Answer(got)
            }
            Action::Peek(t) => {
                let s = subject.snapshot(t);
                assert_eq!(
                    s,
                    shadow.snapshot(t),
                    "the shadow limiter parted at a peek at {t}"
                );
                exact_remaining(&subject, t, s.remaining, "peek");
                exact_reset(&subject, t, s.reset_after, cfg);
                Outcome::Status(s)
            }
            Action::Refund(n, t) => {
                let s = subject.refund(n, t);
                assert_eq!(
                    s,
                    shadow.refund(n, t),
                    "the shadow limiter parted at a refund of {n} at {t}"
                );
                assert_eq!(
                    s,
                    subject.snapshot(t),
                    "a refund reports the state after it"
                );
                exact_remaining(&subject, t, s.remaining, "refund");
                span.record(t, -i128::from(n));
                Outcome::Status(s)
            }
            Action::AddTokens(n) => {
                subject.add_tokens(n);
                shadow.add_tokens(n);
                span.record(driver.now, -i128::from(n));
                Outcome::Nothing
            }
            Action::Available(t) => {
                let k = subject.available(t);
                assert_eq!(k, shadow.available(t));
                assert_eq!(
                    k,
                    subject.snapshot(t).remaining,
                    "available is the snapshot's remaining"
                );
                Outcome::Tokens(k)
            }
            Action::Moved => Outcome::Nothing,
        };
        driver.saw(&outcome);
    }
    span.check();
}

/// The configuration of a `Gcra`, as the harness sees it.
pub fn gcra_config<const HZ: u64>(limiter: &Gcra<HZ>) -> Config {
    let (units, scale) = limiter.emission_interval();
    Config {
        burst: limiter.burst(),
        horizon: limiter.horizon().as_ticks(),
        rate: Refill::Greedy { units, scale },
    }
}

/// The configuration of a `TokenBucket` for `spec`: a greedy bucket has the
/// `Gcra`'s interval; an interval bucket refills `count` tokens every period,
/// rounded up to whole ticks (computed here from the spec, not asked of the
/// crate).
pub fn bucket_config<const HZ: u64>(bucket: &TokenBucket<HZ>, spec: &QuotaSpec) -> Config {
    let rate = match bucket.mode() {
        RefillMode::Greedy => {
            let gcra = Gcra::<HZ>::new(spec.quota()).expect("a greedy bucket's quota makes a Gcra");
            gcra_config(&gcra).rate
        }
        RefillMode::Interval => Refill::Interval {
            period: spec
                .period_whole_ticks(HZ)
                .expect("an accepted period fits u64 ticks"),
            count: spec.count,
        },
    };
    Config {
        burst: bucket.burst(),
        horizon: bucket.horizon().as_ticks(),
        rate,
    }
}

/// `Gcra<HZ>` for `spec` against the model and its own `Algorithm` impl, and
/// (with `check_invariants`) the invariants.
///
/// # Errors
///
/// The quota's error if the crate refuses it.
pub fn run_gcra<const HZ: u64>(
    spec: &QuotaSpec,
    ops: &[Op],
    check_invariants: bool,
) -> Result<(), QuotaError> {
    let quota: Quota = spec.quota();
    let mut limiter = Gcra::<HZ>::new(quota)?;
    let cfg = gcra_config(&limiter);
    assert_eq!(cfg.burst, spec.burst());
    let Refill::Greedy { units, scale } = cfg.rate else {
        unreachable!()
    };
    let mut model = GcraModel::new(units, scale, cfg.burst, cfg.horizon);
    let alg = Gcra::<HZ>::new(quota)?;
    let mut word = Word::fresh(&alg);
    differential(
        ops,
        &cfg,
        &mut model,
        &mut [("Gcra", &mut limiter), ("Gcra as Algorithm", &mut word)],
    );
    if check_invariants {
        let mut shadow = Gcra::<HZ>::new(quota)?;
        invariants(ops, &cfg, Word::fresh(&alg), &mut shadow);
    }
    Ok(())
}

/// `TokenBucket<HZ>` for `spec` and `mode` against the model and its own
/// `Algorithm` impl, and (with `check_invariants`) the invariants.
///
/// # Errors
///
/// The quota's error if the crate refuses it.
pub fn run_bucket<const HZ: u64>(
    spec: &QuotaSpec,
    mode: RefillMode,
    ops: &[Op],
    check_invariants: bool,
) -> Result<(), QuotaError> {
    let quota = spec.quota();
    let mut bucket = TokenBucket::<HZ>::new(quota, mode)?;
    assert_eq!(bucket.mode(), mode);
    let cfg = bucket_config(&bucket, spec);
    assert_eq!(cfg.burst, spec.burst());
    let mut model = BucketModel::new(cfg.rate, cfg.burst, cfg.horizon);
    let alg = TokenBucket::<HZ>::new(quota, mode)?;
    let mut word = Word::fresh(&alg);
    differential(
        ops,
        &cfg,
        &mut model,
        &mut [
            ("TokenBucket", &mut bucket),
            ("TokenBucket as Algorithm", &mut word),
        ],
    );
    if check_invariants {
        let mut shadow = TokenBucket::<HZ>::new(quota, mode)?;
        invariants(ops, &cfg, Word::fresh(&alg), &mut shadow);
    }
    Ok(())
}

/// Reads fuzz input: little-endian integers, zeros once it runs out.
pub struct Bytes<'a>(pub &'a [u8]);

impl Bytes<'_> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }

    pub fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }

    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }

    /// A quota: count, burst (or the default), period.
    pub fn quota_spec(&mut self) -> QuotaSpec {
        let flags = self.u8();
        // Mostly small numbers, sometimes any: small ones make dense traces.
        let count = if flags & 1 != 0 {
            self.u32()
        } else {
            u32::from(self.u8())
        };
        let burst = match (flags >> 1) & 3 {
            0 => None,
            1 => Some(self.u32()),
            _ => Some(u32::from(self.u8())),
        };
        let kind = self.u8();
        let ticks = self.u64() >> (self.u8() % 64);
        QuotaSpec {
            count,
            burst,
            period: super::spec::Period::from_raw(kind, ticks),
        }
    }

    /// Operations until the input runs out (at most `limit`).
    pub fn ops(&mut self, limit: usize) -> Vec<Op> {
        let mut ops = Vec::new();
        while !self.is_empty() && ops.len() < limit {
            ops.push(match self.u8() % 14 {
                0 => Op::Check(self.u32()),
                1 => Op::CheckRaw(self.u32()),
                2 => Op::Peek,
                3 => Op::Refund(self.u32()),
                4 => Op::AddTokens(self.u32()),
                5 => Op::Available,
                6 => Op::Forward(self.u32()),
                7 => Op::Tick(self.u8()),
                8 => Op::Back(self.u32()),
                9 => Op::WaitRetry(self.u8() as i8),
                10 => Op::WaitReset(self.u8() as i8),
                11 => Op::Jump(self.u64()),
                12 => Op::NearEnd(self.u32()),
                _ => Op::NearHorizon(self.u32() as i32),
            });
        }
        ops
    }
}
