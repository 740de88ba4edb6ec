//! Limiters and models side by side.
//!
//! - [`differential`] runs a trace through a reference and several subjects
//!   and demands identical answers;
//! - [`invariants`] checks the architecture's invariants along a trace;
//! - [`run_gcra`] and [`run_bucket`] do both for a quota, as the property
//!   tests and the fuzz targets use them.

use ratecore::{Gcra, Quota, QuotaError, RefillMode, TokenBucket};

use super::invariants::invariants;
use super::subject::{Model, Outcome, Subject, apply};
use super::trace::{Config, Driver, Op};

use super::gcra::Gcra as GcraModel;
use super::spec::QuotaSpec;
use super::token_bucket::{Refill, TokenBucket as BucketModel};
use super::{Answer, Status};

/// A wait is a `Duration<HZ>`, a `u64` of ticks: the crate reports a wait
/// longer than `u64::MAX` ticks (possible only at the very end of the time
/// line, e.g. to an interval boundary past `u64::MAX`) as `u64::MAX`. The
/// reference computes exact waits; this is that rule applied to them.
fn saturated(outcome: Outcome) -> Outcome {
    let cap = |wait: u128| wait.min(u128::from(u64::MAX));
    match outcome {
        Outcome::Answer(Answer::RateLimited {
            limit,
            remaining,
            retry_after,
            reset_after,
        }) => Outcome::Answer(Answer::RateLimited {
            limit,
            remaining,
            retry_after: cap(retry_after),
            reset_after: cap(reset_after),
        }),
        Outcome::Answer(Answer::Admitted(s)) => Outcome::Answer(Answer::Admitted(Status {
            reset_after: cap(s.reset_after),
            ..s
        })),
        Outcome::Status(s) => Outcome::Status(Status {
            reset_after: cap(s.reset_after),
            ..s
        }),
        other => other,
    }
}

/// Runs `ops` through `reference` and every subject; panics at the first
/// answer that differs.
pub fn differential(
    ops: &[Op],
    cfg: &Config,
    reference: &mut dyn Model,
    subjects: &mut [(&str, &mut dyn Model)],
) {
    let mut driver = Driver::default();
    for (i, &op) in ops.iter().enumerate() {
        let action = driver.action(op, cfg);
        let want = apply(reference, action);
        for (name, subject) in subjects.iter_mut() {
            // Both sides go through `saturated`: a subject may be a model too.
            let got = saturated(apply(*subject, action));
            assert_eq!(
                got,
                saturated(want),
                "{name} differs from the reference at op #{i}, {op:?} = {action:?}, {cfg:?}"
            );
        }
        driver.saw(&want);
    }
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
    run_gcra_beside::<HZ>(spec, ops, check_invariants, &mut [])
}

/// [`run_gcra`] with `others` (limiters that claim to decide as `Gcra<HZ>`
/// does for `spec`, e.g. a `PackedGcra`) driven beside it, every answer
/// held to the same model.
///
/// # Errors
///
/// The quota's error if the crate refuses it.
pub fn run_gcra_beside<const HZ: u64>(
    spec: &QuotaSpec,
    ops: &[Op],
    check_invariants: bool,
    others: &mut [(&str, &mut dyn Model)],
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
    let mut word = Subject::fresh(&alg);
    let mut subjects: Vec<(&str, &mut dyn Model)> =
        vec![("Gcra", &mut limiter), ("Gcra as Algorithm", &mut word)];
    for (name, model) in others.iter_mut() {
        subjects.push((name, &mut **model));
    }
    differential(ops, &cfg, &mut model, &mut subjects);
    if check_invariants {
        let mut shadow = Gcra::<HZ>::new(quota)?;
        invariants(ops, &cfg, Subject::fresh(&alg), &mut shadow);
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
    let mut word = Subject::fresh(&alg);
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
        invariants(ops, &cfg, Subject::fresh(&alg), &mut shadow);
    }
    Ok(())
}
