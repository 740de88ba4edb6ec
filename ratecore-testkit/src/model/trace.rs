//! Traces: operations in raw numbers (from a proptest strategy or fuzz
//! bytes) and the [`Driver`] that turns them into concrete actions relative
//! to the limiter under test: check sizes relative to the burst, clock moves
//! relative to the time per unit, jumps to the last `retry_after` and
//! `reset_after` (to land exactly on the boundaries), to the horizon and
//! near `u64::MAX`.

use super::Answer;
use super::spec::{Period, QuotaSpec};
use super::subject::Outcome;
use super::token_bucket::Refill;

/// One step of a trace, in raw numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Check `raw % (burst + 3)` units (0 is a peek, above the burst is "never").
    Check(u32),
    /// Check exactly this many units.
    CheckRaw(u32),
    /// `snapshot_at(now)`.
    Peek,
    /// Refund a few units (or, for raw values near `u32::MAX`, that many).
    Refund(u32),
    /// `add_tokens` (a refund at tick 0 for a `Gcra`), sized as `Refund`.
    AddTokens(u32),
    /// `available_at(now)` (the snapshot's `remaining` for a `Gcra`).
    Available,
    /// Clock forwards by a fraction of a unit's time, or by many units.
    Forward(u32),
    /// Clock forwards by 0 to 3 ticks.
    Tick(u8),
    /// Clock backwards, sized as `Forward`.
    Back(u32),
    /// Clock to `now + last retry_after`, plus -1, 0 or +1 tick.
    WaitRetry(i8),
    /// Clock to `now + last reset_after`, plus -1, 0 or +1 tick.
    WaitReset(i8),
    /// Clock to any instant.
    Jump(u64),
    /// Clock to within 65,535 ticks of `u64::MAX`.
    NearEnd(u32),
    /// Clock to within two units' time of the horizon.
    NearHorizon(i32),
    /// Reserve `n` (sized as `Check`) with a `max_wait` sized as `Forward`,
    /// and use the units at the ready instant (the reservation is kept).
    Reserve(u32, u32),
    /// `reset`: full again, as if idle forever.
    Reset,
}

/// What the limiter under test looks like to the driver and the invariants.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub burst: u32,
    pub horizon: u64,
    pub rate: Refill,
}

impl Config {
    /// Ticks of about one unit's worth of refill (at least 1).
    pub fn unit(&self) -> u64 {
        match self.rate {
            Refill::Greedy { units, scale } => units.div_ceil(scale).max(1),
            Refill::Interval { period, .. } => period.max(1),
        }
    }
}

/// A concrete operation at a concrete instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Check(u32, u64),
    Peek(u64),
    Refund(u32, u64),
    AddTokens(u32),
    Available(u64),
    /// Reserve `n` at `t` with this `max_wait`.
    Reserve(u32, u64, u64),
    Reset,
    /// Only the clock moved.
    Moved,
}

/// The clock of a trace, and the last waits the limiter announced.
#[derive(Clone, Debug, Default)]
pub struct Driver {
    pub now: u64,
    retry: u64,
    reset: u64,
}

fn reduce(raw: u32, modulus: u64) -> u32 {
    u32::try_from(u64::from(raw) % modulus).expect("below a u32")
}

fn amount(raw: u32, burst: u32) -> u32 {
    if raw >= 0xFFF0_0000 {
        raw
    } else {
        reduce(raw, u64::from(burst) + 2)
    }
}

fn span(raw: u32, unit: u64) -> u64 {
    if raw & 0x8000_0000 != 0 {
        unit.saturating_mul(u64::from(raw % 1_025))
    } else {
        let fraction = u128::from(unit) * u128::from(raw % 257) / 32;
        u64::try_from(fraction)
            .unwrap_or(u64::MAX)
            .saturating_add(u64::from((raw >> 16) % 3))
    }
}

fn nudge(t: u64, offset: i8) -> u64 {
    match offset.rem_euclid(3) {
        0 => t.saturating_sub(1),
        1 => t,
        _ => t.saturating_add(1),
    }
}

impl Driver {
    pub fn action(&mut self, op: Op, cfg: &Config) -> Action {
        let unit = cfg.unit();
        match op {
            Op::Check(raw) => {
                return Action::Check(reduce(raw, u64::from(cfg.burst) + 3), self.now);
            }
            Op::CheckRaw(n) => return Action::Check(n, self.now),
            Op::Peek => return Action::Peek(self.now),
            Op::Refund(raw) => return Action::Refund(amount(raw, cfg.burst), self.now),
            Op::AddTokens(raw) => return Action::AddTokens(amount(raw, cfg.burst)),
            Op::Available => return Action::Available(self.now),
            Op::Reserve(raw, wait) => {
                let n = reduce(raw, u64::from(cfg.burst) + 3);
                return Action::Reserve(n, span(wait, unit), self.now);
            }
            Op::Reset => return Action::Reset,
            Op::Forward(raw) => self.now = self.now.saturating_add(span(raw, unit)),
            Op::Tick(raw) => self.now = self.now.saturating_add(u64::from(raw % 4)),
            Op::Back(raw) => self.now = self.now.saturating_sub(span(raw, unit)),
            Op::WaitRetry(o) => self.now = nudge(self.now.saturating_add(self.retry), o),
            Op::WaitReset(o) => self.now = nudge(self.now.saturating_add(self.reset), o),
            Op::Jump(t) => self.now = t,
            Op::NearEnd(raw) => self.now = u64::MAX - u64::from(raw % 65_536),
            Op::NearHorizon(raw) => {
                let reach = 2 * i128::from(unit) + 1;
                let t = i128::from(cfg.horizon) + i128::from(raw) % reach;
                self.now = u64::try_from(t.max(0)).unwrap_or(u64::MAX);
            }
        }
        Action::Moved
    }

    /// Remembers the waits an answer announced, for `WaitRetry`/`WaitReset`.
    pub fn saw(&mut self, outcome: &Outcome) {
        let clamp = |x: u128| u64::try_from(x).unwrap_or(u64::MAX);
        match outcome {
            Outcome::Answer(Answer::RateLimited {
                retry_after,
                reset_after,
                ..
            }) => {
                self.retry = clamp(*retry_after);
                self.reset = clamp(*reset_after);
            }
            Outcome::Answer(Answer::Admitted(s)) | Outcome::Status(s) => {
                self.reset = clamp(s.reset_after)
            }
            _ => {}
        }
    }
}

/// Reads fuzz input: little-endian integers, zeros once it runs out.
pub struct Bytes<'a>(pub &'a [u8]);

impl Bytes<'_> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }

    pub fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }

    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }

    /// A quota: count, burst (or the default), period.
    pub fn quota_spec(&mut self) -> QuotaSpec {
        let flags = self.u8();
        // Mostly small numbers, sometimes any: small ones make dense traces.
        let count = if flags & 1 != 0 {
            self.u32()
        } else {
            u32::from(self.u8())
        };
        let burst = match (flags >> 1) & 3 {
            0 => None,
            1 => Some(self.u32()),
            _ => Some(u32::from(self.u8())),
        };
        let kind = self.u8();
        let ticks = self.u64() >> (self.u8() % 64);
        QuotaSpec {
            count,
            burst,
            period: Period::from_raw(kind, ticks),
        }
    }

    /// Operations until the input runs out (at most `limit`).
    pub fn ops(&mut self, limit: usize) -> Vec<Op> {
        let mut ops = Vec::new();
        while !self.is_empty() && ops.len() < limit {
            ops.push(match self.u8() % 16 {
                0 => Op::Check(self.u32()),
                1 => Op::CheckRaw(self.u32()),
                2 => Op::Peek,
                3 => Op::Refund(self.u32()),
                4 => Op::AddTokens(self.u32()),
                5 => Op::Available,
                6 => Op::Forward(self.u32()),
                7 => Op::Tick(self.u8()),
                8 => Op::Back(self.u32()),
                9 => Op::WaitRetry(self.u8() as i8),
                10 => Op::WaitReset(self.u8() as i8),
                11 => Op::Jump(self.u64()),
                12 => Op::NearEnd(self.u32()),
                13 => Op::NearHorizon(self.u32() as i32),
                14 => Op::Reserve(self.u32(), self.u32()),
                _ => Op::Reset,
            });
        }
        ops
    }
}
