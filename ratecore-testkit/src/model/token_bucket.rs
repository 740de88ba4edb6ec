//! A token bucket as a token counter: tokens, plus the time they were counted.
//!
//! The bucket holds at most `burst` tokens and starts full at tick 0. It earns
//! tokens with time, either continuously (one token per `T = units / scale`
//! ticks) or in lumps (`count` tokens at every tick that is a multiple of
//! `period`). A check of `n` takes `n` tokens if the bucket has them.
//!
//! Three details make the counter agree with the crate's semantics, which are
//! stated for a time line on which instants can arrive out of order (a stale
//! clock reading, a clock that went backwards):
//!
//! - The counter is stored *uncapped* at the instant of the last charge and
//!   capped only when read: at any instant `t` the bucket holds
//!   `min(level + earned(since, t), burst)`. For an earlier `t`, `earned` is
//!   negative: the tokens the bucket had then were fewer by what it has earned
//!   since, so a stale reading sees less, never more.
//! - A check of 0 units takes nothing and stores nothing (a peek).
//! - Instants after the horizon are read as the horizon.
//! - A refund puts tokens back, but the bucket never holds more than it did at
//!   tick 0, when it was full: `level + earned(since, 0) <= burst`. (A refund
//!   while the bucket is full is then visible only to stale readings.)
//!
//! Numbers are integers in "fine" units: for continuous refill one token is
//! `units` fine units and a tick earns `scale` of them; for lump refill a token
//! is one unit.

use super::{Answer, Status, ceil_div, floor_div, ticks, units};

/// How the bucket earns tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refill {
    /// One token per `units / scale` ticks, continuously.
    Greedy { units: u64, scale: u64 },
    /// `count` tokens at every multiple of `period` ticks.
    Interval { period: u64, count: u32 },
}

#[derive(Clone, Debug)]
pub struct TokenBucket {
    refill: Refill,
    burst: u32,
    horizon: u64,
    /// Tokens (fine units) at `since`, not capped.
    level: i128,
    /// The instant `level` was counted at (already at most the horizon).
    since: u64,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens.
    pub fn new(refill: Refill, burst: u32, horizon: u64) -> Self {
        match refill {
            Refill::Greedy { units, scale } => assert!(units > 0 && scale > 0),
            Refill::Interval { period, count } => assert!(period > 0 && count > 0),
        }
        assert!(burst > 0);
        let mut bucket = Self {
            refill,
            burst,
            horizon,
            level: 0,
            since: 0,
        };
        bucket.level = bucket.capacity();
        bucket
    }

    /// Full again, as if idle forever: full at tick 0, and so at every tick.
    pub fn reset(&mut self) {
        self.level = self.capacity();
        self.since = 0;
    }

    /// One token in fine units.
    fn token(&self) -> i128 {
        match self.refill {
            Refill::Greedy { units, .. } => units.into(),
            Refill::Interval { .. } => 1,
        }
    }

    fn capacity(&self) -> i128 {
        i128::from(self.burst) * self.token()
    }

    /// Fine units earned from `from` to `to` (negative if `to` is earlier).
    fn earned(&self, from: u64, to: u64) -> i128 {
        match self.refill {
            Refill::Greedy { scale, .. } => (i128::from(to) - i128::from(from)) * i128::from(scale),
            Refill::Interval { period, count } => {
                let boundaries = i128::from(to / period) - i128::from(from / period);
                boundaries * i128::from(count)
            }
        }
    }

    /// Ticks from `t` until a bucket now at `level` (and not full) reaches
    /// `target`; 0 if it already has.
    fn wait(&self, t: u64, level: i128, target: i128) -> u128 {
        let missing = target - level;
        if missing <= 0 {
            return 0;
        }
        match self.refill {
            Refill::Greedy { scale, .. } => ticks(ceil_div(missing, scale.into())),
            Refill::Interval { period, count } => {
                // The lumps arrive at the next boundaries after t.
                let lumps = ceil_div(missing, count.into());
                let boundary = i128::from(t / period) + lumps;
                ticks(boundary * i128::from(period) - i128::from(t))
            }
        }
    }

    /// Tokens in the bucket at `t` (fine units; negative if a stale reading
    /// sees the bucket over-committed).
    fn tokens(&self, t: u64) -> i128 {
        (self.level + self.earned(self.since, t)).min(self.capacity())
    }

    pub fn check(&mut self, n: u32, t: u64) -> Answer {
        if let Some(answer) = Answer::before_arithmetic(n, self.burst, || self.snapshot(t)) {
            return answer;
        }
        let t = t.min(self.horizon);
        let have = self.tokens(t);
        let want = i128::from(n) * self.token();
        if have >= want {
            let left = have - want;
            if n > 0 {
                self.level = left;
                self.since = t;
            }
            Answer::Admitted(Status {
                limit: self.burst,
                remaining: units(floor_div(left, self.token())),
                reset_after: self.wait(t, left, self.capacity()),
            })
        } else {
            Answer::RateLimited {
                limit: self.burst,
                remaining: units(floor_div(have.max(0), self.token())),
                retry_after: self.wait(t, have, want),
                reset_after: self.wait(t, have, self.capacity()),
            }
        }
    }

    pub fn snapshot(&self, t: u64) -> Status {
        let t = t.min(self.horizon);
        let have = self.tokens(t);
        Status {
            limit: self.burst,
            remaining: units(floor_div(have.max(0), self.token())),
            reset_after: self.wait(t, have, self.capacity()),
        }
    }

    /// Whole tokens in the bucket at `t`.
    pub fn available(&self, t: u64) -> u32 {
        self.snapshot(t).remaining
    }

    /// Puts `n` tokens back (never more than the bucket held at tick 0).
    pub fn add_tokens(&mut self, n: u32) {
        let most = self.capacity() - self.earned(self.since, 0);
        self.level = (self.level + i128::from(n) * self.token()).min(most);
    }

    /// Puts `n` tokens back; reports the state at `t`.
    pub fn refund(&mut self, n: u32, t: u64) -> Status {
        self.add_tokens(n);
        self.snapshot(t)
    }
}
