//! A well-behaved API client against a simulated rate-limited server.
//!
//! Everything runs in-process on a manual microsecond clock, so the output is
//! the same on every run and the minute of simulated time takes milliseconds:
//!
//! - the server admits 20 requests per second with a burst of 10 (a ratecore
//!   `Gcra` whose quota the client does not know), answering `429` with a
//!   `Retry-After` in whole seconds, and is down (`503`) from t = 30 s to t = 36 s;
//! - the client paces itself with an `AimdPacer` (starting at 2 requests per
//!   second, +0.25/s per response that leaves more than half the limit, halved
//!   on a `429`), backs off with full jitter honouring `Retry-After` after every
//!   error, and guards the server with a `CircuitBreaker` (5 consecutive
//!   failures open it for 2 s, then one probe).
//!
//! It prints every notable event, a line per simulated second, and the
//! final throughput.

use ratecore::client::{
    AimdConfig, AimdPacer, Backoff, BreakerConfig, BreakerRejected, BreakerState, CircuitBreaker,
    Jitter, PER_SECOND, SplitMix64,
};
use ratecore::clock::ManualClock;
use ratecore::{Clock, Denied, Duration, Gcra, Instant, Limiter, Quota, time::MICROS};

type Us = Duration<MICROS>;

const RUN: u64 = 60 * MICROS;
const OUTAGE: (u64, u64) = (30 * MICROS, 36 * MICROS);
/// From here to the end the server is up and the client has settled.
const STEADY: u64 = 40 * MICROS;

/// What the server answered.
enum Answer {
    Ok,
    TooManyRequests(Us),
    Unavailable,
}

fn serve(server: &Gcra<MICROS>, now: Instant<MICROS>) -> (Answer, Option<(u32, u32)>) {
    let t = now.as_ticks();
    if (OUTAGE.0..OUTAGE.1).contains(&t) {
        return (Answer::Unavailable, None);
    }
    match server.check_at(now) {
        // The client sees `X-RateLimit-Remaining` and `-Limit` headers.
        Ok(status) => (Answer::Ok, Some((status.remaining(), status.limit()))),
        // `Retry-After` is whole seconds on the wire: round up, as a server must.
        Err(Denied::RateLimited(limited)) => {
            let secs = limited.retry_after().as_ticks().div_ceil(MICROS);
            (Answer::TooManyRequests(Us::from_ticks(secs * MICROS)), None)
        }
        Err(_) => (Answer::Unavailable, None),
    }
}

fn ms(t: u64) -> String {
    format!("{:>6}.{:03}s", t / MICROS, t % MICROS / 1_000)
}

fn state_name(state: BreakerState<MICROS>) -> &'static str {
    match state {
        BreakerState::Closed { .. } => "closed",
        BreakerState::Open { .. } => "open",
        BreakerState::HalfOpen { .. } => "half-open",
    }
}

#[derive(Default, Clone, Copy)]
struct Tally {
    sent: u64,
    ok: u64,
    throttled: u64,
    failed: u64,
    rejected: u64,
}

fn main() {
    let clock = ManualClock::<MICROS>::new(0);
    let server = Gcra::<MICROS>::new(Quota::per_second(20).burst(10)).unwrap();

    let pacer = AimdPacer::<MICROS>::new(
        AimdConfig::new(PER_SECOND / 2, 1_000 * PER_SECOND)
            .start(2 * PER_SECOND)
            .increase(PER_SECOND / 4)
            .headroom(1, 2),
    )
    .unwrap();
    let backoff = Backoff::new(Us::from_millis(100), Us::from_secs(5))
        .jitter(Jitter::Full)
        .max_attempts(8);
    let mut retries = backoff.schedule(SplitMix64::new(0x5EED));
    let breaker = CircuitBreaker::new(BreakerConfig::new(5, Us::from_secs(2))).unwrap();

    let mut total = Tally::default();
    let mut second = Tally::default();
    let mut steady = Tally::default();
    let mut gave_up = 0u64;
    let mut next_report = MICROS;
    let mut breaker_was = "closed";
    let mut retry_at = Instant::<MICROS>::from_ticks(0);

    println!("     time  event");
    while clock.now().as_ticks() < RUN {
        let now = clock.now();
        let t = now.as_ticks();
        if t >= next_report {
            println!(
                "{}  -- second {:>2}: rate {:>6.2}/s  sent {:>3}  ok {:>3}  429 {:>2}  503 {:>2}  breaker-rejected {:>2}",
                ms(next_report),
                next_report / MICROS,
                pacer.rate() as f64 / PER_SECOND as f64,
                second.sent,
                second.ok,
                second.throttled,
                second.failed,
                second.rejected
            );
            second = Tally::default();
            next_report += MICROS;
            continue;
        }

        // 1. Our pacing slot, and the backoff after an error.
        let not_before = pacer.next_send_at().max(retry_at);
        if now < not_before {
            clock.set(not_before.min(Instant::from_ticks(next_report)));
            continue;
        }
        // 2. The breaker: is the server worth calling at all?
        match breaker.try_acquire_at(now) {
            Ok(admission) => {
                let state = state_name(breaker.state());
                if state != breaker_was {
                    println!(
                        "{}  breaker {breaker_was} -> {state} ({admission:?})",
                        ms(t)
                    );
                    breaker_was = state;
                }
            }
            Err(BreakerRejected::Open { retry_after }) => {
                second.rejected += 1;
                total.rejected += 1;
                clock.set((now + retry_after).min(Instant::from_ticks(next_report)));
                continue;
            }
            Err(other) => unreachable!("one caller never finds the probe slot taken: {other}"),
        }
        // The slot has come and this is the only sender: it is ours.
        pacer.try_acquire_at(now).expect("the pacing slot has come");

        // 3. Send.
        second.sent += 1;
        total.sent += 1;
        let (answer, headroom) = serve(&server, now);
        let wait = match answer {
            Answer::Ok => {
                second.ok += 1;
                total.ok += 1;
                if t >= STEADY {
                    steady.ok += 1;
                }
                breaker.record_success_at(now);
                if let Some((remaining, limit)) = headroom {
                    pacer.on_response(remaining, limit);
                }
                retries.reset();
                None
            }
            Answer::TooManyRequests(retry_after) => {
                second.throttled += 1;
                total.throttled += 1;
                // The server is healthy, just busy: a success for the breaker.
                breaker.record_success_at(now);
                pacer.on_throttled_at(now, Some(retry_after));
                let wait = retries.next_with_retry_after(Some(retry_after));
                println!(
                    "{}  429, Retry-After {} s: rate down to {:.2}/s, retry in {}",
                    ms(t),
                    retry_after.as_ticks() / MICROS,
                    pacer.rate() as f64 / PER_SECOND as f64,
                    wait.map_or("(giving up)".into(), |w| ms(w.as_ticks())
                        .trim()
                        .to_string()),
                );
                Some(wait)
            }
            Answer::Unavailable => {
                second.failed += 1;
                total.failed += 1;
                breaker.record_failure_at(now);
                let wait = retries.next();
                println!(
                    "{}  503: retry in {}",
                    ms(t),
                    wait.map_or("(giving up)".into(), |w| ms(w.as_ticks())
                        .trim()
                        .to_string()),
                );
                Some(wait)
            }
        };
        let state = state_name(breaker.state());
        if state != breaker_was {
            println!("{}  breaker {breaker_was} -> {state}", ms(t));
            breaker_was = state;
        }
        match wait {
            None => {}
            Some(Some(delay)) => retry_at = now + delay,
            Some(None) => {
                // Out of attempts: drop this request, start the next one afresh.
                gave_up += 1;
                retries.reset();
            }
        }
    }

    let up = (RUN - (OUTAGE.1 - OUTAGE.0)) as f64 / MICROS as f64;
    println!();
    println!(
        "sent {}  ok {}  429 {}  503 {}  breaker-rejected {}  gave up {}",
        total.sent, total.ok, total.throttled, total.failed, total.rejected, gave_up
    );
    println!(
        "throughput: {:.2} ok/s over the {up:.0} s the server was up, {:.2} ok/s from {} s to {} s (the server's quota: 20/s)",
        total.ok as f64 / up,
        steady.ok as f64 / ((RUN - STEADY) / MICROS) as f64,
        STEADY / MICROS,
        RUN / MICROS,
    );
    println!(
        "final pacing rate: {:.2}/s",
        pacer.rate() as f64 / PER_SECOND as f64
    );
}
