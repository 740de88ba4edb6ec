//! The sliding-window counter's measured error against the exact log: the
//! documented bounds hold on the README's scenarios, and the README shows
//! exactly the table `examples/window_accuracy.rs` prints.

use ratecore_testkit::window as window_support;

use window_support::accuracy::{LIMIT, WINDOW, rows, table};

#[test]
fn measured_accuracy_within_the_documented_bounds_and_in_the_readme() {
    let rows = rows();
    let limit = u64::from(LIMIT);
    let span_bound = 2 * limit - (2 * limit).div_ceil(WINDOW);
    for row in &rows {
        assert!(
            row.log_densest <= limit,
            "{}: the log admitted {} in a second",
            row.name,
            row.log_densest
        );
        assert!(
            row.counter_densest <= span_bound,
            "{}: the counter admitted {}",
            row.name,
            row.counter_densest
        );
        assert_eq!(row.differ(), row.counter_only + row.log_only);
        assert!(row.over_admits + row.over_denies <= row.arrivals);
    }
    let [half, one, two, burst] = &rows[..] else {
        panic!("four scenarios")
    };
    // Below the limit both admit everything.
    assert_eq!((half.differ(), half.log_admitted), (0, half.arrivals));
    // Under load they admit about as much (within 5 %), the counter a
    // little over the limit in its worst second.
    for row in [one, two] {
        assert!(
            row.counter_admitted.abs_diff(row.log_admitted) * 20 <= row.log_admitted,
            "{}",
            row.name
        );
        assert!(
            row.counter_densest > limit && row.counter_densest < limit * 5 / 4,
            "{}",
            row.name
        );
    }
    // The adversary reaches the documented bound exactly.
    assert_eq!(burst.counter_densest, span_bound);
    assert_eq!(burst.log_densest, limit);

    let readme = include_str!("../README.md");
    assert!(
        readme.contains(&table(&rows)),
        "README.md's \"Sliding-window accuracy\" table is not what the simulation prints now:\n{}",
        table(&rows)
    );
}
