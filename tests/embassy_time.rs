//! The embassy-time adapter on embassy-time's mock driver (1 MHz ticks): the
//! clock reads the driver, and `until_n_ready` waits exactly `retry_after`,
//! charges only in the poll that succeeds, and is cancel-safe.
//!
//! The futures are polled by hand with a no-op waker, and time moves only when
//! a test advances the mock driver, so every step is deterministic.
#![cfg(feature = "embassy-time")]

use std::future::Future;
use std::pin::pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use embassy_time::MockDriver;
use ratecore::clock::embassy::{EmbassyClock, TICK_HZ, until_n_ready, until_ready};
use ratecore::{Clock, Denied, Duration, Gcra, Instant, Limiter, Quota, RefillMode, TokenBucket};

/// The mock driver is one global clock: the tests take turns.
static DRIVER: Mutex<()> = Mutex::new(());

fn advance(ticks: u64) {
    MockDriver::get().advance(embassy_time::Duration::from_ticks(ticks));
}

fn poll<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// 10 per second (one unit per 100,000 ticks at 1 MHz), burst 2.
fn gcra() -> Gcra<TICK_HZ> {
    Gcra::new(Quota::per_second(10).burst(2)).unwrap()
}

const T: u64 = 100_000;

#[test]
fn the_mock_driver_runs_at_one_megahertz() {
    // The dev-dependency's `mock-driver` picks 1 MHz; the library sets none.
    assert_eq!(TICK_HZ, 1_000_000);
}

#[test]
fn the_clock_reads_the_driver() {
    let _turn = DRIVER.lock().unwrap_or_else(|e| e.into_inner());
    let before = EmbassyClock.now();
    assert_eq!(before, EmbassyClock::instant(embassy_time::Instant::now()));
    advance(12_345);
    assert_eq!(EmbassyClock.now().as_ticks(), before.as_ticks() + 12_345);
    // The conversions are exact both ways.
    let at = Instant::<TICK_HZ>::from_ticks(987_654_321);
    assert_eq!(
        EmbassyClock::instant(EmbassyClock::to_embassy_instant(at)),
        at
    );
    let span = Duration::<TICK_HZ>::from_ticks(42);
    assert_eq!(EmbassyClock::to_embassy_duration(span).as_ticks(), 42);
}

#[test]
fn waits_exactly_retry_after() {
    let _turn = DRIVER.lock().unwrap_or_else(|e| e.into_inner());
    let limiter = gcra();
    // The burst is there: ready on the first poll.
    let status = match poll(pin!(until_n_ready(&limiter, 2))) {
        Poll::Ready(Ok(status)) => status,
        other => panic!("expected an immediate admission, got {other:?}"),
    };
    assert_eq!(status.remaining(), 0);

    let mut waiting = pin!(until_ready(&limiter));
    assert!(poll(waiting.as_mut()).is_pending());
    advance(T - 1);
    assert!(poll(waiting.as_mut()).is_pending(), "one tick early");
    advance(1);
    let status = match poll(waiting.as_mut()) {
        Poll::Ready(Ok(status)) => status,
        other => panic!("expected admission at retry_after, got {other:?}"),
    };
    assert_eq!(
        (status.remaining(), status.reset_after().as_ticks()),
        (0, 2 * T)
    );
}

#[test]
fn dropping_a_waiting_future_charges_nothing() {
    let _turn = DRIVER.lock().unwrap_or_else(|e| e.into_inner());
    let limiter = gcra();
    assert!(limiter.check_n(2, &EmbassyClock).is_ok());
    {
        let mut waiting = pin!(until_n_ready(&limiter, 2));
        assert!(poll(waiting.as_mut()).is_pending());
        advance(T);
        // One unit is back, two are asked for: still waiting.
        assert!(poll(waiting.as_mut()).is_pending());
    } // cancelled here
    assert_eq!(
        limiter.snapshot(&EmbassyClock).remaining(),
        1,
        "the dropped waiter took nothing"
    );
    advance(T);
    assert_eq!(limiter.snapshot(&EmbassyClock).remaining(), 2);
    assert!(limiter.check_n(2, &EmbassyClock).is_ok());
}

#[test]
fn two_waiters_share_one_unit_without_over_admission() {
    let _turn = DRIVER.lock().unwrap_or_else(|e| e.into_inner());
    // One token at every multiple of 100 ms (T ticks).
    let quota = Quota::with_period(1, Duration::<1_000>::from_ticks(100));
    let bucket = TokenBucket::<TICK_HZ>::new(quota, RefillMode::Interval).unwrap();
    // Empty the full bucket; the next token comes at the next multiple of T,
    // and each advance by T crosses exactly one.
    assert!(bucket.check(&EmbassyClock).is_ok());
    let mut first = pin!(until_ready(&bucket));
    let mut second = pin!(until_ready(&bucket));
    assert!(poll(first.as_mut()).is_pending());
    assert!(poll(second.as_mut()).is_pending());
    advance(T);
    assert!(matches!(poll(first.as_mut()), Poll::Ready(Ok(_))));
    assert!(
        poll(second.as_mut()).is_pending(),
        "one token, one admission"
    );
    advance(T);
    assert!(matches!(poll(second.as_mut()), Poll::Ready(Ok(_))));
}

#[test]
fn a_request_above_the_burst_fails_at_once() {
    let _turn = DRIVER.lock().unwrap_or_else(|e| e.into_inner());
    let limiter = gcra();
    match poll(pin!(until_n_ready(&limiter, 3))) {
        Poll::Ready(Err(Denied::ExceedsBurst(e))) => assert_eq!((e.requested, e.burst), (3, 2)),
        other => panic!("expected ExceedsBurst at once, got {other:?}"),
    }
    assert_eq!(
        limiter.snapshot(&EmbassyClock).remaining(),
        2,
        "nothing charged"
    );
}

#[test]
fn waits_on_a_dyn_limiter() {
    let _turn = DRIVER.lock().unwrap_or_else(|e| e.into_inner());
    let limiter = gcra();
    let shared: &dyn Limiter<TICK_HZ> = &limiter;
    assert!(matches!(
        poll(pin!(until_n_ready(shared, 1))),
        Poll::Ready(Ok(_))
    ));
}
