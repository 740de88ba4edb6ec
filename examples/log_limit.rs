//! A noisy error path behind a log limiter, the Linux kernel's way.
//!
//! A driver reports a link error on every interrupt; the limiter lets 3
//! messages through per second and says how many it held back when the next
//! second opens. Time is a manual millisecond clock, so the output is the same
//! on every run.

use ratecore::algorithms::{LogLimiter, LogVerdict};
use ratecore::clock::ManualClock;
use ratecore::{Clock, Duration, const_unwrap};

const MS: u64 = ratecore::time::MILLIS;

static LINK_ERRORS: LogLimiter<MS> = const_unwrap!(LogLimiter::from_interval(
    Duration::<MS>::from_ticks(1_000),
    3
));
static CLOCK: ManualClock<MS> = ManualClock::new(0);

/// `eprintln!`, rate-limited: what `printk_ratelimited` is to `printk`.
macro_rules! eprintln_ratelimited {
    ($limiter:expr, $($arg:tt)*) => {
        if let LogVerdict::Emit { suppressed_before } = $limiter.check(&CLOCK) {
            if suppressed_before > 0 {
                eprintln!("t={:>5} ms  {suppressed_before} callbacks suppressed", CLOCK.now().as_ticks());
            }
            eprintln!("t={:>5} ms  {}", CLOCK.now().as_ticks(), format_args!($($arg)*));
        }
    };
}

fn main() {
    // 40 interrupts, 70 ms apart: 2.8 seconds of errors.
    for irq in 0..40 {
        eprintln_ratelimited!(LINK_ERRORS, "eth0: link error on interrupt {irq}");
        CLOCK.advance(Duration::<MS>::from_ticks(70));
    }
    // Quiet for a while, then one more: it reports what the last window held back.
    CLOCK.advance(Duration::<MS>::from_ticks(5_000));
    eprintln_ratelimited!(LINK_ERRORS, "eth0: link error after the storm");
}
