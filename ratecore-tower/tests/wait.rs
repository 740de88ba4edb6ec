//! Waiting until admitted: the exact wait, cancel safety (only the poll that
//! admits charges), and the refusals that waiting cannot help.
//!
//! The async tests run on tokio's paused clock, which jumps to the next
//! timer whenever every task is idle: the waits are exact and instant, and
//! the limiter reads the same clock.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};

use ratecore::answer::Denied;
use ratecore::keyed::{Plan, WhenFull};
use ratecore::{Clock, Gcra, Instant, KeyedLimiter, Limiter, Quota};
use ratecore_tower::wait;

const MS: u64 = 1_000;

/// Milliseconds of tokio's (paused) clock since the clock was made.
struct TokioClock(tokio::time::Instant);

impl TokioClock {
    fn new() -> Self {
        Self(tokio::time::Instant::now())
    }
}

impl Clock<MS> for TokioClock {
    fn now(&self) -> Instant<MS> {
        let elapsed = self.0.elapsed().as_millis();
        Instant::<MS>::from_ticks(u64::try_from(elapsed).unwrap())
    }
}

/// 10 per second, burst 2: one unit every 100 ms.
fn limiter() -> Gcra<MS> {
    Gcra::<MS>::new(Quota::per_second(10).burst(2)).unwrap()
}

#[tokio::test(start_paused = true)]
async fn waits_exactly_the_retry_after() {
    let limiter = limiter();
    let clock = TokioClock::new();
    // The burst goes at once; then one unit per 100 ms, each at its instant.
    for expected in [0, 0, 100, 200, 300] {
        wait::until_n_ready(&limiter, &clock, 1).await.unwrap();
        assert_eq!(clock.now().as_ticks(), expected);
    }
    // Two units wait for two emission intervals.
    wait::until_n_ready(&limiter, &clock, 2).await.unwrap();
    assert_eq!(clock.now().as_ticks(), 500);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_wait_charges_nothing() {
    let limiter = limiter();
    let clock = TokioClock::new();
    limiter.check_n_at(2, clock.now()).unwrap();
    let before = limiter.snapshot_at(clock.now());
    {
        // Polled once: denied, so it sleeps; then dropped.
        let mut waiting = pin!(wait::until_n_ready(&limiter, &clock, 1));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(limiter.snapshot_at(clock.now()), before);
    // The unit the dropped wait would have had is still there at 100 ms.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(limiter.check_at(clock.now()).is_ok());
    assert!(limiter.check_at(clock.now()).is_err());
}

#[tokio::test(start_paused = true)]
async fn waiting_cannot_help_more_than_the_burst() {
    let limiter = limiter();
    let clock = TokioClock::new();
    let refused = wait::until_n_ready(&limiter, &clock, 3).await.unwrap_err();
    assert!(matches!(refused, Denied::ExceedsBurst(_)));
    assert_eq!(clock.now().as_ticks(), 0, "refused without sleeping");
}

#[tokio::test(start_paused = true)]
async fn keyed_waits_per_key() {
    let table = Box::new(KeyedLimiter::<Gcra<MS>, MS, 64>::new(
        [limiter()],
        [7, 11],
        WhenFull::Deny,
    ));
    let clock = TokioClock::new();
    let plan = Plan::default();
    for expected in [0, 0, 100] {
        wait::until_key_ready(&table, "alice", plan, &clock, 1)
            .await
            .unwrap();
        assert_eq!(clock.now().as_ticks(), expected);
    }
    // Another key has its own burst: no wait.
    wait::until_key_ready(&table, "bob", plan, &clock, 2)
        .await
        .unwrap();
    assert_eq!(clock.now().as_ticks(), 100);
}

#[test]
fn blocking_wait_admits_every_unit_in_turn() {
    // A real clock and real sleeps: the count is checked, never the time.
    let limiter = Gcra::<MS>::new(Quota::per_second(1_000).burst(2)).unwrap();
    let clock = ratecore::clock::MonotonicClock::<MS>::new();
    for _ in 0..10 {
        wait::blocking_until_n_ready(&limiter, &clock, 1).unwrap();
    }
    let refused = wait::blocking_until_n_ready(&limiter, &clock, 3).unwrap_err();
    assert!(matches!(refused, Denied::ExceedsBurst(_)));
}
