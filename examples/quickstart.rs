//! A burst of simulated requests against "100 per minute with a burst of 120".
//!
//! Time is a manual millisecond clock, so the output is the same on every run:
//! 130 requests arrive 10 ms apart; the first 120 spend the burst, the rest
//! wait for the refill (one request per 600 ms), and after a quiet minute the
//! client is served again.

use ratecore::clock::ManualClock;
use ratecore::{Clock, Denied, Duration, Gcra, Limiter, Quota};

const MS: u64 = ratecore::time::MILLIS;

static API: Gcra<MS> = ratecore::const_unwrap!(Gcra::new(Quota::per_minute(100).burst(120)));
static CLOCK: ManualClock<MS> = ManualClock::new(0);

fn request(id: u32) {
    let at = CLOCK.now().as_ticks();
    match API.check(&CLOCK) {
        Ok(status) => println!(
            "t={at:>6} ms  request {id:>3}: 200 OK    remaining {:>3}/{}  full again in {} ms",
            status.remaining(),
            status.limit(),
            status.reset_after().as_millis()
        ),
        Err(Denied::RateLimited(limited)) => println!(
            "t={at:>6} ms  request {id:>3}: 429       remaining {:>3}/{}  retry after {} ms",
            limited.remaining(),
            limited.limit(),
            limited.retry_after().as_millis()
        ),
        Err(other) => println!("t={at:>6} ms  request {id:>3}: refused: {other}"),
    }
}

fn main() {
    for id in 1..=130 {
        request(id);
        CLOCK.advance(Duration::<MS>::from_ticks(10));
    }
    println!("... a quiet minute ...");
    CLOCK.advance(Duration::<MS>::from_ticks(60_000));
    for id in 131..=133 {
        request(id);
    }
}
