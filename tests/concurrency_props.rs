//! The concurrency limit against a plain counter: `active` never exceeds the
//! limit and never underflows, refusals report the count, and every permit
//! is released (on drop, and when its holder panics).

use proptest::prelude::*;
use ratecore::{ConcurrencyLimit, Denied, Instant, Limiter, QuotaError, Refund, kernel::Charge};

type At = Instant<1_000>;

fn at0() -> At {
    At::from_ticks(0)
}

#[derive(Clone, Debug)]
enum Op {
    /// `try_acquire(n)`, keeping the permit.
    Acquire(u32),
    /// Drop the permit at this index (modulo their number).
    Release(usize),
    /// A check through the `Limiter` trait (no permit: refunded later).
    Check(u32),
    /// Refund `n` of the units taken by `Check` (at most those held).
    Refund(u32),
    /// Charge through `Charge`, then undo it after `Acquire`s of these sizes.
    ChargeUndo(u32, Vec<u32>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u32..=4).prop_map(Op::Acquire),
        3 => (0usize..16).prop_map(Op::Release),
        1 => (0u32..=4).prop_map(Op::Check),
        1 => (0u32..=4).prop_map(Op::Refund),
        1 => (0u32..=4, prop::collection::vec(0u32..=2, 0..3)).prop_map(|(n, m)| Op::ChargeUndo(n, m)),
    ]
}

proptest! {
    #![proptest_config(ratecore_testkit::config(400))]

    #[test]
    fn count_matches_a_counter(limit in 1u32..=6, ops in prop::collection::vec(op(), 1..80)) {
        let conc = ConcurrencyLimit::new(limit).unwrap();
        let mut permits = Vec::new();
        let mut active = 0u32; // the model
        let mut unpermitted = 0u32; // units taken through `Limiter`
        for op in ops {
            match op {
                Op::Acquire(n) => match conc.try_acquire(n) {
                    Ok(permit) => {
                        prop_assert!(active + n <= limit);
                        prop_assert_eq!(permit.units(), n);
                        active += n;
                        permits.push(permit);
                    }
                    Err(busy) => {
                        prop_assert!(active + n > limit);
                        prop_assert_eq!((busy.requested, busy.active, busy.limit), (n, active, limit));
                    }
                },
                Op::Release(i) => {
                    if !permits.is_empty() {
                        let permit = permits.remove(i % permits.len());
                        active -= permit.units();
                        permit.release();
                    }
                }
                Op::Check(n) => match Limiter::check_n_at(&conc, n, at0()) {
                    Ok(status) => {
                        active += n;
                        unpermitted += n;
                        prop_assert!(active <= limit);
                        prop_assert_eq!((status.limit(), status.remaining()), (limit, limit - active));
                    }
                    Err(Denied::AtCapacity(busy)) => {
                        prop_assert!(n <= limit && active + n > limit);
                        prop_assert_eq!((busy.requested, busy.active, busy.limit), (n, active, limit));
                    }
                    Err(Denied::ExceedsBurst(e)) => {
                        prop_assert!(n > limit);
                        prop_assert_eq!((e.requested, e.burst), (n, limit));
                    }
                    Err(other) => prop_assert!(false, "unexpected {}", other),
                },
                Op::Refund(n) => {
                    let n = n.min(unpermitted);
                    let status = conc.refund_n_at(n, at0());
                    unpermitted -= n;
                    active -= n;
                    prop_assert_eq!(status.remaining(), limit - active);
                }
                Op::ChargeUndo(n, others) => {
                    if let Ok((_, receipt)) = conc.charge_n_at(n, at0()) {
                        // Others acquire on top: the undo is still exact
                        // (counts commute).
                        let more: Vec<_> = others.iter().filter_map(|&m| conc.try_acquire(m).ok()).collect();
                        prop_assert!(Charge::<1_000>::undo(&conc, receipt));
                        let held: u32 = more.iter().map(|p| p.units()).sum();
                        prop_assert_eq!(conc.active(), active + held);
                        drop(more);
                    }
                }
            }
            prop_assert_eq!(conc.active(), active);
            prop_assert!(conc.active() <= limit);
            prop_assert_eq!(Limiter::<1_000>::snapshot_at(&conc, at0()).remaining(), limit - active);
        }
        drop(permits);
        conc.refund_n_at(unpermitted, at0());
        prop_assert_eq!(conc.active(), 0);
        // Over-refunding never underflows.
        conc.refund_n_at(u32::MAX, at0());
        prop_assert_eq!(conc.active(), 0);
    }
}

#[test]
fn a_limit_of_zero_is_an_error() {
    assert_eq!(ConcurrencyLimit::new(0).unwrap_err(), QuotaError::ZeroBurst);
}

#[test]
fn refusal_reads_like_an_api_answer() {
    let predictions = ConcurrencyLimit::new(5).unwrap();
    let running: Vec<_> = (0..5)
        .map(|_| predictions.try_acquire(1).unwrap())
        .collect();
    let busy = predictions.try_acquire(1).unwrap_err();
    assert_eq!(
        busy.to_string(),
        "at capacity: 5/5 in flight, 1 more requested"
    );
    assert_eq!(
        format!("{}/{} predictions running", busy.active, busy.limit),
        "5/5 predictions running"
    );
    drop(running);
    // More than the limit can never fit; the error says so with `requested`.
    let never = predictions.try_acquire(6).unwrap_err();
    assert!(never.requested > never.limit);
    assert_eq!(predictions.active(), 0);
}

/// A holder that panics releases its permit while unwinding.
#[test]
fn a_panicking_holder_releases_its_permit() {
    let conc = ConcurrencyLimit::new(2).unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _permit = conc.try_acquire(2).unwrap();
        assert_eq!(conc.active(), 2);
        panic!("the prediction failed");
    }));
    assert!(result.is_err());
    assert_eq!(conc.active(), 0);
    // And on another thread, whose panic ends the thread.
    std::thread::scope(|s| {
        let handle = s.spawn(|| {
            let _permit = conc.try_acquire(1).unwrap();
            panic!("worker died");
        });
        assert!(handle.join().is_err());
    });
    assert_eq!(conc.active(), 0);
    assert!(conc.try_acquire(2).is_ok());
}

/// Real threads: the number of holders seen inside the guarded section never
/// exceeds the limit, and everything is released at the end.
#[test]
fn threads_never_exceed_the_limit() {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LIMIT: u32 = 3;
    let conc = ConcurrencyLimit::new(LIMIT).unwrap();
    let inside = AtomicU32::new(0);
    let most = AtomicU32::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..5_000 {
                    if let Ok(permit) = conc.try_acquire(1) {
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::hint::spin_loop();
                        inside.fetch_sub(1, Ordering::SeqCst);
                        drop(permit);
                    }
                }
            });
        }
    });
    assert!(most.load(Ordering::SeqCst) <= LIMIT);
    assert_eq!(conc.active(), 0);
}
