//! The kernel's rules, as checks any `Algorithm` can be held to (the crate's
//! own and outside ones):
//!
//! - state 0 is fresh: idle at once;
//! - a check of 0 units keeps the state, and so does a denial;
//! - a stale instant is never looser: whatever a check admits at `t`, it
//!   admits at any later instant too;
//! - `idle_after` is never early: from then on the state decides, and
//!   reports, as state 0;
//! - the decision a check builds before it loads its word (`decider`) is
//!   `decide`'s, answer included;
//! - the idleness built once for many states (`idleness`) is `is_idle`'s.
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

/// `decider(n, now)` applied to `state` is `decide(state, n, now)`, answer
/// included: an override computes ahead of the word, never differently.
pub fn decider<const HZ: u64, A: Algorithm<HZ>>(alg: &A, state: u64, n: u32, now: Instant<HZ>) {
    assert_eq!(
        alg.decider(n, now)(state),
        alg.decide(state, n, now),
        "the decider differs from decide: state {state}, {n} units at {now:?}"
    );
}

/// `idleness(now)` applied to `state` is `is_idle(state, now)`: an override
/// computes ahead of the states, never differently.
pub fn idleness<const HZ: u64, A: Algorithm<HZ>>(alg: &A, state: u64, now: Instant<HZ>) {
    assert_eq!(
        alg.idleness(now)(state),
        alg.is_idle(state, now),
        "the idleness differs from is_idle: state {state} at {now:?}"
    );
}

/// The rules of one step: `decide(state, n, now)` and what it implies.
pub fn step<const HZ: u64, A: Algorithm<HZ>>(alg: &A, state: u64, n: u32, now: Instant<HZ>) {
    decider(alg, state, n, now);
    idleness(alg, state, now);
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

/// A state that is idle after the checks `prefix` (each `(n, dt)`: `n` units
/// `dt` ticks after the one before, from tick 0 and state 0) decides the
/// checks `later` exactly as state 0 does.
pub fn idle_decides_as_fresh<const HZ: u64, A: Algorithm<HZ>>(
    alg: &A,
    prefix: &[(u32, u64)],
    later: &[(u32, u64)],
) {
    let mut word = 0;
    let mut now = 0u64;
    for &(n, dt) in prefix {
        now = now.saturating_add(dt);
        word = alg
            .decide(word, n, Instant::from_ticks(now))
            .split()
            .1
            .unwrap_or(word);
    }
    if !alg.is_idle(word, Instant::from_ticks(now)) {
        return;
    }
    let mut fresh = 0;
    for &(n, dt) in later {
        now = now.saturating_add(dt);
        let (a, next) = alg.decide(word, n, Instant::from_ticks(now)).split();
        let (b, next_fresh) = alg.decide(fresh, n, Instant::from_ticks(now)).split();
        assert_eq!(
            a, b,
            "an idle state decides {n} units at {now} otherwise than state 0"
        );
        word = next.unwrap_or(word);
        fresh = next_fresh.unwrap_or(fresh);
    }
}

/// Any word, however foreign, at any instant, with any count: every
/// `Algorithm` function answers (none panics).
pub fn any_word<const HZ: u64, A: Algorithm<HZ>>(alg: &A, word: u64, n: u32, now: Instant<HZ>) {
    decider(alg, word, n, now);
    idleness(alg, word, now);
    let _ = alg.status(word, now);
    let _ = alg.refund(word, n, now);
    let _ = alg.is_idle(word, now);
}
