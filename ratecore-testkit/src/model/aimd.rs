//! Reference model of the AIMD pacer, from its specification: rates in mHz
//! (thousandths of a request per second), plain `u128` arithmetic.
//!
//! - A response with `remaining * hd > limit * hn` raises the rate by `inc`,
//!   up to the ceiling; other responses change nothing.
//! - A `429` multiplies the rate by `dn / dd` (rounded down), down to the
//!   floor, and with a `Retry-After` moves the next send to at least
//!   `now + retry_after`.
//! - Sends are spaced by `max(1, ceil(HZ * 1000 / rate))` ticks: a send at
//!   `now >= next` is allowed and moves `next` to `now + interval`; a
//!   reservation takes the slot `max(next, now)` and moves `next` one interval on.

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub floor: u64,
    pub ceiling: u64,
    pub start: u64,
    pub inc: u64,
    pub decrease: (u32, u32),
    pub headroom: (u32, u32),
}

#[derive(Clone, Debug)]
pub struct Pacer {
    pub hz: u64,
    pub config: Config,
    pub rate: u64,
    pub next: u64,
}

fn sat(x: u128) -> u64 {
    x.min(u64::MAX as u128) as u64
}

impl Pacer {
    pub fn new(hz: u64, config: Config) -> Self {
        Self {
            hz,
            config,
            rate: config.start,
            next: 0,
        }
    }

    pub fn interval(&self) -> u64 {
        sat((self.hz as u128 * 1000).div_ceil(self.rate as u128)).max(1)
    }

    pub fn response(&mut self, remaining: u32, limit: u32) {
        let (hn, hd) = self.config.headroom;
        if remaining as u128 * hd as u128 > limit as u128 * hn as u128 {
            self.rate = sat(self.rate as u128 + self.config.inc as u128).min(self.config.ceiling);
        }
    }

    pub fn throttled(&mut self, now: u64, retry_after: Option<u64>) {
        let (dn, dd) = self.config.decrease;
        self.rate = sat(self.rate as u128 * dn as u128 / dd as u128).max(self.config.floor);
        if let Some(wait) = retry_after {
            self.next = self.next.max(sat(now as u128 + wait as u128));
        }
    }

    pub fn try_acquire(&mut self, now: u64) -> Result<(), u64> {
        if now < self.next {
            return Err(self.next);
        }
        self.next = sat(now as u128 + self.interval() as u128);
        Ok(())
    }

    pub fn reserve(&mut self, now: u64) -> u64 {
        let slot = self.next.max(now);
        self.next = sat(slot as u128 + self.interval() as u128);
        slot
    }
}
