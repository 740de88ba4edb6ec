//! The kernel's rules, as checks any `Algorithm` can be held to (the crate's
//! own and outside ones):
//!
//! - state 0 is fresh: idle at once;
//! - a check of 0 units keeps the state, and so does a denial;
//! - a stale instant is never looser: whatever a check admits at `t`, it
//!   admits at any later instant too;
//! - `idle_after` is never early: from then on the state decides, and
//!   reports, as state 0.
//!
//! Each panics with the rule's name when it is broken.

use ratecore::Instant;
use ratecore::kernel::Algorithm;

/// State 0 is fresh at `now`: idle, with nothing to wait for.
pub fn fresh<const HZ: u64, A: Algorithm<HZ>>(alg: &A, now: Instant<HZ>) {
    assert!(alg.is_idle(0, now), "state 0 is not idle at {now:?}");
    assert_eq!(
        alg.idle_after(0, now).map(|d| d.as_ticks()),
        Some(0),
        "state 0 is not idle at once"
    );
}

/// The rules of one step: `decide(state, n, now)` and what it implies.
pub fn step<const HZ: u64, A: Algorithm<HZ>>(alg: &A, state: u64, n: u32, now: Instant<HZ>) {
    let (answer, next) = alg.decide(state, n, now).split();
    if n == 0 {
        assert_eq!(next, None, "a check of 0 units stored a state");
    }
    if answer.is_err() {
        assert_eq!(next, None, "a denial stored a state");
    }
    // Stale instants are never looser than the present.
    let t = now.as_ticks();
    for earlier in [t.saturating_sub(1), t / 2, 0] {
        if alg
            .decide(state, n, Instant::from_ticks(earlier))
            .answer()
            .is_ok()
        {
            assert!(
                answer.is_ok(),
                "{n} units admitted at the stale instant {earlier}, denied at {t}"
            );
        }
    }
    idle_after(alg, state, now, n);
}

/// `idle_after(state, now)` is never early: at that instant (and so, as
/// idleness lasts, after it) the state is idle and decides `probe` units and
/// reports exactly as state 0.
pub fn idle_after<const HZ: u64, A: Algorithm<HZ>>(
    alg: &A,
    state: u64,
    now: Instant<HZ>,
    probe: u32,
) {
    let Some(wait) = alg.idle_after(state, now) else {
        return;
    };
    let Some(then) = now.as_ticks().checked_add(wait.as_ticks()) else {
        return;
    };
    let then = Instant::<HZ>::from_ticks(then);
    assert!(
        alg.is_idle(state, then),
        "idle_after said {wait:?} at {now:?}, but not idle then"
    );
    assert_eq!(
        alg.status(state, then),
        alg.status(0, then),
        "idle_after said {wait:?} at {now:?}, but the status then is not fresh"
    );
    for n in [1, probe] {
        assert_eq!(
            alg.decide(state, n, then).split(),
            alg.decide(0, n, then).split(),
            "idle_after said {wait:?} at {now:?}, but {n} units decide otherwise then"
        );
    }
}
