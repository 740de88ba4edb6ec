//! The architecture's invariants, checked on one subject that can be cloned (a state
//! word driven through the `Algorithm` trait, or a model), with a second,
//! real limiter as a "shadow" that never sees the denied checks and peeks:
//! if a denial or a peek changed anything, the two part.

use super::Answer;
use super::subject::{Model, Outcome};
use super::token_bucket::Refill;
use super::trace::{Action, Config, Driver, Op};

/// A wait of `u64::MAX` ticks is a saturated one (the true wait does not fit
/// a `Duration`), so "one tick earlier fails, exactly then succeeds" cannot
/// be checked on it.
fn wait_unchecked(_t: u64, wait: u128, _horizon: u64) -> bool {
    wait >= u128::from(u64::MAX)
}

/// The last tick, `u64::MAX`, is where a wait saturated at the end of the
/// tick line lands: not an event, so nothing exact is asked of it.
fn past_the_line(then: u128) -> bool {
    then >= u128::from(u64::MAX)
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
pub(crate) fn exact_remaining<S: Model + Clone>(s: &S, t: u64, k: u32, what: &str) {
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
pub(crate) fn exact_retry<S: Model + Clone>(s: &S, n: u32, t: u64, r: u128, cfg: &Config) {
    let then = u128::from(t) + r;
    if t > cfg.horizon || then > u128::from(cfg.horizon) || past_the_line(then) {
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
pub(crate) fn exact_reset<S: Model + Clone>(s: &S, t: u64, r: u128, cfg: &Config) {
    let then = u128::from(t) + r;
    if t > cfg.horizon
        || then > u128::from(cfg.horizon)
        || wait_unchecked(t, r, cfg.horizon)
        || past_the_line(then)
    {
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
pub(crate) fn same_state<S: Model>(a: &S, b: &S, t: u64, cfg: &Config) {
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

/// Runs `ops` through `subject`, checking the architecture's invariants at every step;
/// `shadow` is a fresh limiter of the same configuration that gets only the
/// steps that may change state (admitted checks of `n > 0`, refunds).
pub fn invariants<S: Model + Clone>(
    ops: &[Op],
    cfg: &Config,
    mut subject: S,
    shadow: &mut dyn Model,
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
                        assert!(n > 0, "a check of 0 units was denied at {t}");
                        assert_eq!(limit, cfg.burst);
                        assert!(remaining < n, "denied {n} with {remaining} remaining");
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
            Action::Reserve(n, max_wait, t) => {
                let before = subject.clone();
                match subject.reserve(n, t, max_wait) {
                    Ok(ready) => {
                        assert!(
                            ready >= t && ready - t <= max_wait,
                            "{n} units booked for {ready} at {t}, max_wait {max_wait}"
                        );
                        if n == 0 {
                            assert_eq!(ready, t, "nothing to book, yet not ready at once");
                            same_state(&before, &subject, t, cfg);
                        }
                        // The first instant at which a check of `n` succeeds.
                        assert!(before.clone().check(n, ready).is_admitted());
                        if ready > t {
                            assert!(!before.clone().check(n, ready - 1).is_admitted());
                        }
                        assert_eq!(
                            shadow.reserve(n, t, max_wait),
                            Ok(ready),
                            "the shadow limiter parted at a reservation of {n} at {t}"
                        );
                        if n > 0 {
                            span.record(ready, n.into());
                        }
                        Outcome::Ready(ready)
                    }
                    Err(denied) => {
                        assert!(n > 0, "a reservation of 0 units was refused at {t}");
                        // A refusal is the denial of a check now, and changes nothing.
                        assert_eq!(before.clone().check(n, t), denied);
                        same_state(&before, &subject, t, cfg);
                        Outcome::Answer(denied)
                    }
                }
            }
            Action::Reset => {
                subject.reset();
                shadow.reset();
                // A reset forgives everything before it: a new span log.
                span.check();
                span.events.clear();
                Outcome::Nothing
            }
            Action::Moved => Outcome::Nothing,
        };
        driver.saw(&outcome);
    }
    span.check();
}
