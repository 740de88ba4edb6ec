//! `LogLimiter` against a model of the Linux kernel's `___ratelimit`.

use proptest::prelude::*;
use ratecore::algorithms::{LogLimitConfig, LogLimiter, LogVerdict, MAX_LOG_BURST};
use ratecore::time::{MICROS, NANOS};
use ratecore::{Duration, Instant, Quota, QuotaError};
use ratecore_testkit::model::log_limit::{Call, KernelRatelimit};

fn verdict(call: Call) -> LogVerdict {
    match call {
        Call {
            printed: true,
            suppressed_message,
        } => LogVerdict::Emit {
            suppressed_before: suppressed_message.unwrap_or(0).try_into().unwrap(),
        },
        Call {
            printed: false,
            suppressed_message: None,
        } => LogVerdict::Suppress,
        // A burst of at least 1 prints the event that opens a window.
        other => panic!("model printed a message for a suppressed event: {other:?}"),
    }
}

/// Instants: mostly forwards (by small steps, about one interval, or far),
/// sometimes backwards (a stale reading).
fn instants(interval: u64, start: u64) -> impl Strategy<Value = Vec<u64>> {
    let step = prop_oneof![
        4 => 0..=interval / 4,
        2 => interval.saturating_sub(2)..=interval.saturating_add(2),
        1 => 0..=interval.saturating_mul(5),
        1 => (0..=interval.saturating_mul(2)).prop_map(|back| back.wrapping_neg()),
    ];
    prop::collection::vec(step, 1..200).prop_map(move |steps| {
        let mut now = start;
        steps
            .into_iter()
            .map(|step| {
                // A "negative" step goes back, not below zero.
                now = if step > u64::MAX / 2 {
                    now.saturating_sub(step.wrapping_neg())
                } else {
                    now.saturating_add(step)
                };
                now
            })
            .collect()
    })
}

fn run<const HZ: u64>(limiter: &LogLimiter<HZ>, model: &mut KernelRatelimit, times: &[u64]) {
    for (i, &t) in times.iter().enumerate() {
        let expected = verdict(model.ratelimit(t));
        let got = limiter.check_at(Instant::<HZ>::from_ticks(t));
        assert_eq!(got, expected, "event {i} at {t}: {times:?}");
        assert_eq!(u128::from(limiter.suppressed()), model.missed);
    }
}

proptest! {
    #![proptest_config(ratecore_testkit::config(512))]

    /// Millisecond ticks: the grain is one tick, and the limiter is the
    /// kernel's function exactly, stale instants included.
    #[test]
    fn matches_the_kernel(
        (interval, burst, times) in (1u64..5_000, 1u32..12, prop_oneof![Just(0u64), 0u64..1 << 40])
            .prop_flat_map(|(interval, burst, start)| (Just(interval), Just(burst), instants(interval, start))),
    ) {
        let limiter = LogLimiter::<1_000>::from_interval(Duration::<1_000>::from_ticks(interval), burst).unwrap();
        prop_assert_eq!(limiter.algorithm().grain().as_ticks(), 1);
        let mut model = KernelRatelimit::new(interval, burst, 1);
        run(&limiter, &mut model, &times);
    }

    /// Nanosecond ticks: the window start is rounded up to the grain, and
    /// the limiter is the kernel's function with that rounding.
    #[test]
    fn matches_the_kernel_with_a_grain(
        interval_us in prop_oneof![1_000u64..5_000_000, 1_000_000u64..5_000_000],
        // (large intervals for the largest burst, whose grain is 2^30 ns)
        burst in prop_oneof![1u32..12, Just(MAX_LOG_BURST)],
        start in 0u64..1 << 62,
        steps in prop::collection::vec(
            prop_oneof![0u64..1 << 20, 1u64 << 20..1 << 34, (1u64..1 << 34).prop_map(|b| b.wrapping_neg())],
            1..200,
        ),
    ) {
        let interval = interval_us * 1_000;
        let Ok(limiter) = LogLimiter::<NANOS>::from_interval(Duration::<NANOS>::from_ticks(interval), burst) else {
            // The largest burst leaves 32 bits of start: a grain of 2^30 ns.
            prop_assert!(burst == MAX_LOG_BURST && interval < 1 << 30);
            return Ok(());
        };
        let grain = limiter.algorithm().grain().as_ticks();
        prop_assert!(grain > 1 && grain <= interval);
        let mut model = KernelRatelimit::new(interval, burst, grain);
        let mut now = start;
        let times: Vec<u64> = steps.into_iter().map(|s| {
            now = if s > u64::MAX / 2 { now.saturating_sub(s.wrapping_neg()) } else { now.saturating_add(s) };
            now = now.min(limiter.algorithm().horizon().as_ticks());
            now
        }).collect();
        run(&limiter, &mut model, &times);
    }
}

/// `checks` checks at `at` are all suppressed and counted as `counted`; the
/// next check, at `report`, emits and reports that count.
#[track_caller]
fn suppress_then_report(
    limiter: &LogLimiter<1_000>,
    (checks, at): (u32, Instant<1_000>),
    counted: u32,
    report: Instant<1_000>,
) {
    for _ in 0..checks {
        assert_eq!(limiter.check_at(at), LogVerdict::Suppress);
    }
    assert_eq!(limiter.suppressed(), counted);
    assert_eq!(
        limiter.check_at(report),
        LogVerdict::Emit {
            suppressed_before: counted
        }
    );
}

#[test]
fn the_kernel_default_ten_per_five_seconds() {
    // `DEFINE_RATELIMIT_STATE(rs, 5 * HZ, 10)` at HZ = 1000.
    let limiter =
        LogLimiter::<1_000>::new(Quota::with_period(10, Duration::<1>::from_ticks(5))).unwrap();
    let at = Instant::<1_000>::from_ticks;
    // The window opens at the first event, at 1,234, not at an aligned 0.
    for _ in 0..10 {
        assert_eq!(
            limiter.check_at(at(1_234)),
            LogVerdict::Emit {
                suppressed_before: 0
            }
        );
    }
    // 6,235 > 1,234 + 5,000: the next window, and the report, once.
    suppress_then_report(&limiter, (7, at(6_234)), 7, at(6_235));
    assert_eq!(
        limiter.check_at(at(6_235)),
        LogVerdict::Emit {
            suppressed_before: 0
        }
    );
    assert_eq!(limiter.suppressed(), 0);
    // A stale reading counts in the current window.
    for _ in 0..8 {
        assert!(limiter.check_at(at(100)).is_emit());
    }
    assert_eq!(limiter.check_at(at(100)), LogVerdict::Suppress);
}

#[test]
fn the_suppressed_count_saturates() {
    let limiter = LogLimiter::<1_000>::from_interval(Duration::<1_000>::from_ticks(10), 1).unwrap();
    let at = Instant::<1_000>::from_ticks;
    assert!(limiter.check_at(at(0)).is_emit());
    suppress_then_report(&limiter, (70_000, at(5)), 65_535, at(11));
}

#[test]
fn past_the_horizon_the_window_never_closes() {
    let limiter =
        LogLimiter::<NANOS>::from_interval(Duration::<NANOS>::from_ticks(1_000_000), 2).unwrap();
    let horizon = limiter.algorithm().horizon().as_ticks();
    // At least 2^32 seconds of nanoseconds, or the whole line.
    assert!(u128::from(horizon) >= u128::from(NANOS) << 32 || horizon == u64::MAX);
    let at = Instant::<NANOS>::from_ticks;
    assert!(limiter.check_at(at(horizon)).is_emit());
    assert!(limiter.check_at(at(u64::MAX)).is_emit());
    assert_eq!(limiter.check_at(at(u64::MAX)), LogVerdict::Suppress);
}

#[test]
fn bad_configurations_are_refused() {
    let d = Duration::<MICROS>::from_ticks;
    assert_eq!(
        LogLimitConfig::<MICROS>::from_interval(d(0), 1),
        Err(QuotaError::ZeroPeriod)
    );
    assert_eq!(
        LogLimitConfig::<MICROS>::from_interval(d(10), 0),
        Err(QuotaError::ZeroBurst)
    );
    assert_eq!(
        LogLimitConfig::<MICROS>::from_interval(d(10_000_000), MAX_LOG_BURST + 1),
        Err(QuotaError::LimitTooLarge)
    );
    // A grain longer than the interval would stretch every window.
    assert_eq!(
        LogLimitConfig::<NANOS>::from_interval(Duration::<NANOS>::from_ticks(1), 10),
        Err(QuotaError::LimitTooLarge)
    );
    assert_eq!(
        LogLimitConfig::<1_000>::new(Quota::per_second(10).burst(20)),
        Err(QuotaError::BurstUnsupported)
    );
}

#[test]
fn threads_emit_exactly_the_burst_and_count_the_rest() {
    let limiter =
        LogLimiter::<1_000>::from_interval(Duration::<1_000>::from_ticks(1_000), 7).unwrap();
    let at = Instant::<1_000>::from_ticks;
    let emitted = std::sync::atomic::AtomicU32::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..250 {
                    if limiter.check_at(at(10)).is_emit() {
                        emitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(emitted.into_inner(), 7);
    assert_eq!(
        limiter.check_at(at(1_011)),
        LogVerdict::Emit {
            suppressed_before: 993
        }
    );
}
