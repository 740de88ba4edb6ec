//! The sliding-window counter against the exact sliding log.
//!
//! Both limiters (100 units per second, 100 µs ticks) see the same arrivals
//! for 300 simulated seconds, each deciding on its own state; the table counts
//! the decisions that differ and the most units either admitted in any span
//! of one second. The arrivals come from a seeded generator in integer
//! arithmetic, so the output is the same on every run and every machine; the
//! README's "Sliding-window accuracy" section is this output.

use ratecore_testkit::window::accuracy;

fn main() {
    print!("{}", accuracy::table(&accuracy::rows()));
}
