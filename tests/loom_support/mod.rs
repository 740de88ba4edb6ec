//! What the loom models share: a module of each `tests/loom_*.rs` that uses
//! it (`mod loom_support;`), not a test of its own.

/// Runs `f` under every interleaving loom explores with at most
/// `preemptions` preemptions per execution, unless `LOOM_MAX_PREEMPTIONS`
/// says otherwise: each caller says why its bound finds the bugs it looks
/// for, and the bound keeps its model to seconds on a loaded CI machine.
pub fn explore(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut model = loom::model::Builder::new();
    if model.preemption_bound.is_none() {
        model.preemption_bound = Some(preemptions);
    }
    model.check(f);
}
