//! How far the sliding-window counter is from the exact sliding log: both
//! limiters see the same arrivals, each deciding on its own state, and every
//! decision is compared.
//!
//! Shared by `examples/window_accuracy.rs` (which prints the table in the
//! README) and `tests/window_accuracy.rs` (which checks the documented bounds
//! and that the README shows exactly this table). Everything is integer
//! arithmetic on a seeded generator, so the numbers are the same on every
//! machine.

use ratecore::{Duration, Instant, Limiter, Quota, SlidingLog, SlidingWindow};

/// Ticks of 100 µs.
pub const HZ: u64 = 10_000;
/// The quota: 100 units per second.
pub const LIMIT: u32 = 100;
/// One second, in ticks.
pub const WINDOW: u64 = HZ;
/// Windows simulated per scenario.
pub const WINDOWS: u64 = 300;

/// splitmix64 (Steele, Lea, Flood 2014): tiny, seeded, good enough here.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// An arrival pattern.
#[derive(Clone, Copy, Debug)]
pub enum Traffic {
    /// Poisson arrivals at `percent`% of the limit's rate, simulated as an
    /// independent Bernoulli trial in every 100 µs tick (at most 2 % per
    /// tick here, so two arrivals in one tick would have a chance below
    /// 0.02 %: the discretized process is a close Poisson stand-in).
    Poisson { percent: u64, seed: u64 },
    /// Every third window: `LIMIT` arrivals on the last tick of a window,
    /// then arrivals evenly spaced at twice the limit's rate through the
    /// next window, then a quiet window.
    BoundaryBurst,
}

/// The outcome of one scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub name: String,
    pub arrivals: u64,
    pub log_admitted: u64,
    pub counter_admitted: u64,
    /// Arrivals the counter admitted and the log denied.
    pub counter_only: u64,
    /// Arrivals the log admitted and the counter denied.
    pub log_only: u64,
    /// Arrivals the counter admitted although the units *it* had admitted
    /// in the trailing second already reached the limit: its estimate's
    /// errors on its own history, free of the two runs drifting apart.
    pub over_admits: u64,
    /// Arrivals the counter denied although its own trailing second had room.
    pub over_denies: u64,
    /// The most units either admitted in any span of `WINDOW` ticks.
    pub counter_densest: u64,
    pub log_densest: u64,
}

impl Row {
    pub fn differ(&self) -> u64 {
        self.counter_only + self.log_only
    }
}

/// The arrival instants of `traffic`, in ticks, non-decreasing.
pub fn arrivals(traffic: Traffic) -> Vec<u64> {
    let mut out = Vec::new();
    match traffic {
        Traffic::Poisson { percent, seed } => {
            // P(arrival in a tick) = percent/100 * LIMIT / WINDOW, as a
            // threshold on a uniform 64-bit draw.
            let threshold =
                ((u128::from(percent) * u128::from(LIMIT)) << 64) / (100 * u128::from(WINDOW));
            let threshold = threshold as u64;
            let mut rng = SplitMix64::new(seed);
            for tick in 0..WINDOWS * WINDOW {
                if rng.next_u64() < threshold {
                    out.push(tick);
                }
            }
        }
        Traffic::BoundaryBurst => {
            let spacing = WINDOW / (2 * u64::from(LIMIT));
            for cycle in 0..WINDOWS / 3 {
                let burst_at = (3 * cycle + 1) * WINDOW - 1;
                out.extend(std::iter::repeat_n(burst_at, LIMIT as usize));
                let next = burst_at + 1;
                out.extend((0..2 * u64::from(LIMIT)).map(|i| next + i * spacing));
            }
        }
    }
    out
}

/// The most units in any half-open span of `WINDOW` ticks, for sorted instants.
fn densest(admitted: &[u64]) -> u64 {
    let mut best = 0;
    let mut first = 0;
    for (last, &t) in admitted.iter().enumerate() {
        while admitted[first] + WINDOW <= t {
            first += 1;
        }
        best = best.max((last - first + 1) as u64);
    }
    best
}

/// Runs one scenario through both limiters.
pub fn simulate(name: &str, traffic: Traffic) -> Row {
    let quota = Quota::with_period(LIMIT, Duration::<HZ>::from_ticks(WINDOW));
    let counter = SlidingWindow::<HZ>::new(quota).unwrap();
    let mut log = SlidingLog::<HZ, { LIMIT as usize }>::new(quota).unwrap();
    let arrivals = arrivals(traffic);
    let (mut by_counter, mut by_log) = (Vec::new(), Vec::new());
    let (mut counter_only, mut log_only) = (0, 0);
    let (mut over_admits, mut over_denies) = (0, 0);
    let mut trailing = std::collections::VecDeque::new(); // the counter's, last second
    for &t in &arrivals {
        let now = Instant::<HZ>::from_ticks(t);
        let c = counter.check_at(now).is_ok();
        let l = log.check_at(now).is_ok();
        while trailing.front().is_some_and(|&a| a + WINDOW <= t) {
            trailing.pop_front();
        }
        let room = trailing.len() < LIMIT as usize;
        over_admits += u64::from(c && !room);
        over_denies += u64::from(!c && room);
        if c {
            trailing.push_back(t);
        }
        if c {
            by_counter.push(t);
        }
        if l {
            by_log.push(t);
        }
        counter_only += u64::from(c && !l);
        log_only += u64::from(l && !c);
    }
    Row {
        name: name.to_string(),
        arrivals: arrivals.len() as u64,
        log_admitted: by_log.len() as u64,
        counter_admitted: by_counter.len() as u64,
        counter_only,
        log_only,
        over_admits,
        over_denies,
        counter_densest: densest(&by_counter),
        log_densest: densest(&by_log),
    }
}

/// The scenarios of the README's table.
pub fn rows() -> Vec<Row> {
    vec![
        simulate(
            "Poisson, 0.5x the limit",
            Traffic::Poisson {
                percent: 50,
                seed: 1,
            },
        ),
        simulate(
            "Poisson, 1x the limit",
            Traffic::Poisson {
                percent: 100,
                seed: 2,
            },
        ),
        simulate(
            "Poisson, 2x the limit",
            Traffic::Poisson {
                percent: 200,
                seed: 3,
            },
        ),
        simulate("burst at a window boundary", Traffic::BoundaryBurst),
    ]
}

fn percent(part: u64, whole: u64) -> String {
    format!("{:.2} %", part as f64 * 100.0 / whole.max(1) as f64)
}

/// The table, in Markdown, as the README shows it.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| traffic | arrivals | admitted: log / counter | decisions that differ | counter over-admits | counter over-denies | most in any 1 s: log / counter |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for r in rows {
        out += &format!(
            "| {} | {} | {} / {} | {} | {} | {} | {} / {} |\n",
            r.name,
            r.arrivals,
            r.log_admitted,
            r.counter_admitted,
            percent(r.differ(), r.arrivals),
            percent(r.over_admits, r.arrivals),
            percent(r.over_denies, r.arrivals),
            r.log_densest,
            r.counter_densest,
        );
    }
    out
}
