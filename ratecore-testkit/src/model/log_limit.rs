//! The Linux kernel's `___ratelimit` (lib/ratelimit.c), as a plain model.
//!
//! Written from the kernel's documented behaviour, not from `src/`:
//!
//! ```text
//! if (!rs->begin) rs->begin = jiffies;
//! if (time_is_before_jiffies(rs->begin + rs->interval)) {   // begin + interval < jiffies
//!     if (rs->missed) print("%d callbacks suppressed", rs->missed), rs->missed = 0;
//!     rs->begin = jiffies;
//!     rs->printed = 0;
//! }
//! if (burst && burst > rs->printed) { rs->printed++; return 1; }
//! rs->missed++; return 0;
//! ```
//!
//! Differences, each a parameter the tests set: `begin` is an `Option` (the
//! kernel's `0` sentinel would treat an event at jiffy 0 as no event), and a
//! window's start is rounded up to a multiple of `grain` (1 is the kernel
//! itself). Integers are `u128`: nothing wraps or saturates.

/// One `struct ratelimit_state`.
#[derive(Clone, Debug)]
pub struct KernelRatelimit {
    pub interval: u128,
    pub burst: u128,
    pub grain: u128,
    pub begin: Option<u128>,
    pub printed: u128,
    pub missed: u128,
}

/// What one call did: whether the event was printed, and the "callbacks
/// suppressed" message printed before it, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    pub printed: bool,
    pub suppressed_message: Option<u128>,
}

impl KernelRatelimit {
    pub fn new(interval: u64, burst: u32, grain: u64) -> Self {
        Self {
            interval: interval.into(),
            burst: burst.into(),
            grain: grain.into(),
            begin: None,
            printed: 0,
            missed: 0,
        }
    }

    fn start(&self, jiffies: u128) -> u128 {
        jiffies.div_ceil(self.grain) * self.grain
    }

    pub fn ratelimit(&mut self, jiffies: u64) -> Call {
        let jiffies = u128::from(jiffies);
        let mut message = None;
        let begin = *self.begin.get_or_insert(self.start(jiffies));
        if begin + self.interval < jiffies {
            if self.missed > 0 {
                message = Some(self.missed);
                self.missed = 0;
            }
            self.begin = Some(self.start(jiffies));
            self.printed = 0;
        }
        if self.burst > 0 && self.burst > self.printed {
            self.printed += 1;
            Call {
                printed: true,
                suppressed_message: message,
            }
        } else {
            self.missed += 1;
            Call {
                printed: false,
                suppressed_message: message,
            }
        }
    }
}
