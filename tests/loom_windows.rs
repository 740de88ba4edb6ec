//! loom models of the window limiters' compare-and-swap loop: under every
//! interleaving of 2-3 threads (with instants that move forwards and one that
//! is stale), the answers and the final state are those of some sequential
//! order of the same checks.
//!
//! `RUSTFLAGS="--cfg loom" cargo test --release --test loom_windows`

#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use ratecore::{Decision, Duration, FixedWindow, Limiter, Quota, SlidingWindow, kernel::Algorithm};
use ratecore_testkit::at;

fn quota(limit: u32, width: u64) -> Quota {
    Quota::with_period(limit, Duration::<1>::from_ticks(width))
}

/// Every order of `len` operations.
fn orders(len: usize) -> Vec<Vec<usize>> {
    if len == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for rest in orders(len - 1) {
        for i in 0..=rest.len() {
            let mut order = rest.clone();
            order.insert(i, len - 1);
            out.push(order);
        }
    }
    out
}

/// Asserts that `observed` (one decision per operation) and the final word's
/// status at `probe` are those of running `ops` one after the other in some
/// order, decided by the pure `Algorithm` functions.
fn assert_linearizable<A: Algorithm<1>>(
    algorithm: &A,
    ops: &[(u32, u64)],
    observed: &[Decision<1>],
    limiter: &dyn Limiter<1>,
    probe: u64,
) {
    let finals = limiter.snapshot_at(at(probe));
    let found = orders(ops.len()).into_iter().any(|order| {
        let mut word = 0;
        let mut answers = vec![None; ops.len()];
        for &i in &order {
            let (n, t) = ops[i];
            let (decision, next) = algorithm.decide(word, n, at(t)).split();
            answers[i] = Some(decision);
            word = next.unwrap_or(word);
        }
        answers
            .iter()
            .zip(observed)
            .all(|(a, o)| a.as_ref() == Some(o))
            && algorithm.status(word, at(probe)) == finals
    });
    assert!(found, "not linearizable: {observed:?}, final {finals:?}");
}

/// Runs `ops` (`(n, instant)`, one per thread) against one shared limiter.
fn race<L>(limiter: L, ops: &'static [(u32, u64)], probe: u64)
where
    L: Limiter<1> + Algorithm<1> + Send + Sync + 'static,
{
    let limiter = Arc::new(limiter);
    let handles: Vec<_> = ops
        .iter()
        .map(|&(n, t)| {
            let limiter = Arc::clone(&limiter);
            thread::spawn(move || limiter.check_n_at(n, at(t)))
        })
        .collect();
    let observed: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_linearizable(&*limiter, ops, &observed, &*limiter, probe);
}

/// One loom test per row: `name: limiter, ops, probe;`, the limiter made
/// afresh in every execution and raced by the ops (see [`race`]).
macro_rules! races {
    ($($(#[$doc:meta])* $name:ident: $limiter:expr, $ops:expr, $probe:expr;)+) => {$(
        $(#[$doc])*
        #[test]
        fn $name() {
            loom::model(|| race($limiter, $ops, $probe));
        }
    )+};
}

races! {
    /// All read an empty window; one compare-and-swap wins, and the losers
    /// decide again on the winner's state and are denied.
    fixed_window_three_checks_in_one_window:
        FixedWindow::<1>::new(quota(1, 10)).unwrap(), &[(1, 5), (1, 5), (1, 6)], 7;
    fixed_window_two_admitted_checks:
        FixedWindow::<1>::new(quota(2, 10)).unwrap(), &[(1, 5), (1, 6)], 7;
    /// The check at 15 opens window 1; the one at 9 may then be stale.
    fixed_window_across_a_boundary_with_a_stale_instant:
        FixedWindow::<1>::new(quota(1, 10)).unwrap(), &[(1, 9), (1, 15), (1, 9)], 16;
    sliding_window_three_checks:
        SlidingWindow::<1>::new(quota(2, 10)).unwrap(), &[(2, 9), (1, 15), (1, 3)], 16;
    sliding_window_two_weighted_checks_across_a_boundary:
        SlidingWindow::<1>::new(quota(3, 10)).unwrap(), &[(2, 8), (2, 14)], 14;
}
