//! GCRA decided on the server, for a contended key: one script runs the
//! kernel's transition in Lua with integers kept below 2^52, and the client
//! re-decides the batch on the old word the script returns, so the answers
//! are the kernel's by construction and the script is checked on every call.
//!
//! # Why the arithmetic is exact
//!
//! Lua 5.1's numbers are IEEE doubles: every integer of magnitude at most
//! 2^53 is exact, and so is every sum, difference and product whose exact
//! result is such an integer. GCRA's words are far beyond that (ticks since
//! 1970 times the schedule's scale), so the script works **relative to a
//! base** the client sends: `V0 = base_secs * HZ * scale`, the virtual time
//! at a whole second of the server's clock. With `ds = secs - base_secs`
//! (refused unless `0 <= ds <= max_secs`):
//!
//! - `ticks = ds * HZ + floor(micros * HZ / 10^6)` is the kernel's
//!   `floor(ns * HZ / 10^9)` minus `base_secs * HZ` (`secs * HZ` is whole);
//!   `micros * HZ < 10^6 * HZ <= 2^53` by [`GcraParams::of`]'s guard;
//! - `v = ticks * scale <= (max_secs + 1) * HZ * scale`, and every backlog,
//!   start and next state is at most `v + capacity`, which `max_secs` keeps
//!   `<= 2^52`;
//! - the stored word is read as two decimal halves (`hi`: all but the last
//!   15 digits, below 18,447; `lo`: the last 15, below 10^15), both exact,
//!   and `word - V0 = (hi - V0hi) * 10^15 + (lo - V0lo)` is exact whenever
//!   it is below 2^53 (rounding is monotonic, so a larger one is seen as
//!   `>= 2^52` and refused);
//! - the new word is written as `V0hi`, carried, followed by
//!   `V0lo + next_rel` (below `10^15 + 2^52 < 2^53`) in 15 zero-padded digits;
//! - the expiry is `ceil(ceil(next_rel / scale) - ticks) * 1000 / HZ)`,
//!   computed as `ceil(idle * (1000 / g) / (HZ / g))` with `g = gcd(1000, HZ)`,
//!   and `idle <= ceil(capacity / scale)` keeps the product below 2^53;
//! - every floor division is corrected by one step each way, since a
//!   double quotient can round across an integer.
//!
//! The base never lets the instant reach the kernel's horizon (where the
//! kernel would clamp it), and configurations for which no `max_secs >= 1`
//! satisfies the bounds do not use the script at all.

use std::any::Any;

use ratecore::Gcra;
use ratecore::algorithms::GcraConfig;
use ratecore::kernel::WordLimiter;

/// Decides a batch of GCRA checks on the server, exactly as the kernel's
/// `GcraConfig::decide` on the stored word (see the crate's README,
/// "Contended keys").
///
/// `ARGV = {V0hi, V0lo, base_secs, max_secs, HZ, scale, cost, capacity,
/// burst, ttl_mul, ttl_div, secs, micros, expiry_floor_ms, n1, n2, ...}`
/// (`secs`/`micros` `''`: the server's `TIME`; `expiry_floor_ms` `0` but in
/// tests). Returns `{0, current, secs, micros}` when it refuses (the base is
/// out of range, the word is too far ahead, or not a canonical decimal),
/// else `{1, old, secs, micros, new or '', ttl_ms or ''}`.
pub const GCRA_SCRIPT: &str = r"
local cur = redis.call('GET', KEYS[1])
if not cur then cur = '' end
local secs, micros = ARGV[12], ARGV[13]
if secs == '' then
  local t = redis.call('TIME')
  secs, micros = t[1], t[2]
end
local ds = tonumber(secs) - tonumber(ARGV[3])
if ds < 0 or ds > tonumber(ARGV[4]) then return {0, cur, secs, micros} end
local floor = math.floor
local hz, scale = tonumber(ARGV[5]), tonumber(ARGV[6])
local m = tonumber(micros) * hz
local f = floor(m / 1000000)
if f * 1000000 > m then f = f - 1 elseif (f + 1) * 1000000 <= m then f = f + 1 end
local ticks = ds * hz + f
local v = ticks * scale
local start = v
local v0hi, v0lo = tonumber(ARGV[1]), tonumber(ARGV[2])
local n = #cur
if n > 0 then
  if n > 20 or not string.find(cur, '^[1-9]%d*$') and cur ~= '0' then return {0, cur, secs, micros} end
  local hi, lo = 0, 0
  if n > 15 then
    hi = tonumber(string.sub(cur, 1, n - 15))
    lo = tonumber(string.sub(cur, n - 14))
  else
    lo = tonumber(cur)
  end
  local d = (hi - v0hi) * 1e15 + (lo - v0lo)
  if d >= 4503599627370496 then return {0, cur, secs, micros} end
  if d > start then start = d end
end
local cost, cap, burst = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local backlog = start - v
local changed = false
for i = 15, #ARGV do
  local k = tonumber(ARGV[i])
  if k >= 1 and k <= burst then
    local need = k * cost
    if backlog <= cap - need then
      backlog = backlog + need
      changed = true
    end
  end
end
if not changed then return {1, cur, secs, micros, '', ''} end
local e = v + backlog
local a = e + scale - 1
local q = floor(a / scale)
if q * scale > a then q = q - 1 elseif (q + 1) * scale <= a then q = q + 1 end
local div = tonumber(ARGV[11])
a = (q - ticks) * tonumber(ARGV[10]) + div - 1
local ttl = floor(a / div)
if ttl * div > a then ttl = ttl - 1 elseif (ttl + 1) * div <= a then ttl = ttl + 1 end
if ttl < 1 then ttl = 1 end
local s = v0lo + e
local c = floor(s / 1e15)
if c * 1e15 > s then c = c - 1 elseif (c + 1) * 1e15 <= s then c = c + 1 end
local new
if v0hi + c > 0 then
  new = string.format('%.0f%015.0f', v0hi + c, s - c * 1e15)
else
  new = string.format('%.0f', s)
end
local px = ttl
local floor_ms = tonumber(ARGV[14])
if floor_ms > px then px = floor_ms end
redis.call('SET', KEYS[1], new, 'PX', string.format('%.0f', px))
return {1, cur, secs, micros, new, ttl}
";

/// 2^52: the bound of every relative value of the script.
const RELATIVE_LIMIT: u128 = 1 << 52;
/// 2^53: the bound of every product of the script.
const EXACT_LIMIT: u128 = 1 << 53;

/// A GCRA configuration's numbers, as the script needs them, for one that
/// the script can decide exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GcraParams {
    hz: u64,
    scale: u64,
    cost: u64,
    capacity: u64,
    burst: u64,
    horizon: u64,
    ttl_mul: u64,
    ttl_div: u64,
    /// The largest `secs - base_secs` that keeps every value below 2^52.
    max_secs: u64,
}

const fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let r = a % b;
        a = b;
        b = r;
    }
    a
}

impl GcraParams {
    /// The numbers of `algorithm` if it is a [`Gcra`] or a [`GcraConfig`]
    /// (the one algorithm with a server-side script so far) whose every
    /// value in the script stays below 2^52 for at least one second past a
    /// base; `None` otherwise (the batch then always takes the
    /// compare-and-set path).
    pub(crate) fn of<A: Any, const HZ: u64>(algorithm: &A) -> Option<Self> {
        let any: &dyn Any = algorithm;
        let config = match any.downcast_ref::<Gcra<HZ>>() {
            Some(limiter) => *WordLimiter::algorithm(limiter),
            None => *any.downcast_ref::<GcraConfig<HZ>>()?,
        };
        let (cost, scale) = config.emission_interval();
        let burst = u64::from(config.burst());
        Self::new(HZ, scale, cost, burst, config.horizon().as_ticks())
    }

    fn new(hz: u64, scale: u64, cost: u64, burst: u64, horizon: u64) -> Option<Self> {
        let capacity = burst.checked_mul(cost)?;
        // `micros * HZ` with `micros < 10^6`.
        if u128::from(hz) * 1_000_000 > EXACT_LIMIT || hz == 0 || scale == 0 {
            return None;
        }
        let g = gcd(1_000, hz);
        let (ttl_mul, ttl_div) = (1_000 / g, hz / g);
        // `idle <= ceil(capacity / scale)`; `idle * ttl_mul + ttl_div` exact.
        let idle_max = u128::from(capacity.div_ceil(scale));
        if idle_max * u128::from(ttl_mul) + u128::from(ttl_div) > EXACT_LIMIT {
            return None;
        }
        // `(max_secs + 1) * HZ * scale + capacity <= 2^52`.
        let per_sec = u128::from(hz) * u128::from(scale);
        let room = RELATIVE_LIMIT.checked_sub(u128::from(capacity))?;
        let max_secs = u64::try_from((room / per_sec).checked_sub(1)?).ok()?;
        (max_secs >= 1).then_some(Self {
            hz,
            scale,
            cost,
            capacity,
            burst,
            horizon,
            ttl_mul,
            ttl_div,
            max_secs,
        })
    }

    /// The batch for checks of `ns` relative to the server's second
    /// `base_secs`, or `None` when instants that far along would reach
    /// the kernel's horizon.
    pub(crate) fn batch(&self, base_secs: u64, ns: Vec<u32>) -> Option<GcraBatch> {
        let hz = u128::from(self.hz);
        // Every evaluated tick, up to `(base_secs + max_secs + 1) * HZ - 1`,
        // must be at most the horizon.
        let last_second = (u128::from(self.horizon) + 1) / hz;
        let max_secs = last_second
            .checked_sub(u128::from(base_secs) + 1)?
            .min(u128::from(self.max_secs));
        let max_secs = u64::try_from(max_secs).ok().filter(|&m| m >= 1)?;
        let v0 = u64::try_from(u128::from(base_secs) * hz * u128::from(self.scale)).ok()?;
        Some(GcraBatch {
            base_secs,
            max_secs,
            v0,
            hz: self.hz,
            scale: self.scale,
            cost: self.cost,
            capacity: self.capacity,
            burst: self.burst,
            ttl_mul: self.ttl_mul,
            ttl_div: self.ttl_div,
            ns,
            at_ns: None,
            expiry_floor_ms: 0,
        })
    }
}

/// A batch of GCRA checks for a store to decide with [`GCRA_SCRIPT`]'s
/// transition (see [`Store::decide_gcra`](crate::Store::decide_gcra)).
///
/// Every number is the kernel's (`GcraConfig`'s emission interval, burst,
/// tick rate); the base makes every value of the script relative and below
/// 2^52.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GcraBatch {
    /// A whole second of the server's clock at or before now.
    pub base_secs: u64,
    /// The store refuses the batch unless its second is at most this many
    /// seconds after `base_secs`.
    pub max_secs: u64,
    /// `base_secs * hz * scale`: the virtual time at the base.
    pub v0: u64,
    /// Ticks per second.
    pub hz: u64,
    /// Virtual units per tick.
    pub scale: u64,
    /// Virtual units per admitted unit.
    pub cost: u64,
    /// `burst * cost`.
    pub capacity: u64,
    /// The most units admitted at one instant.
    pub burst: u64,
    /// The expiry in ms is `ceil(idle_ticks * ttl_mul / ttl_div)`, at least 1.
    pub ttl_mul: u64,
    /// See `ttl_mul`.
    pub ttl_div: u64,
    /// The checks' units, in order.
    pub ns: Vec<u32>,
    /// The time to decide at, in ns since the Unix epoch (whole
    /// microseconds), instead of the server's clock: for store wrappers
    /// that inject a clock (tests). `None` in production.
    pub at_ns: Option<u64>,
    /// The least expiry actually set, in ms (the reported one is unchanged):
    /// for store wrappers that keep real expiry out of an injected clock's
    /// way. `0` in production.
    pub expiry_floor_ms: u64,
}

impl GcraBatch {
    /// The script's `ARGV`.
    pub(crate) fn args(&self) -> Vec<String> {
        const E: u64 = 1_000_000_000_000_000;
        let (secs, micros) = match self.at_ns {
            Some(ns) => (
                (ns / 1_000_000_000).to_string(),
                (ns % 1_000_000_000 / 1_000).to_string(),
            ),
            None => (String::new(), String::new()),
        };
        let head = [
            self.v0 / E,
            self.v0 % E,
            self.base_secs,
            self.max_secs,
            self.hz,
            self.scale,
            self.cost,
            self.capacity,
            self.burst,
            self.ttl_mul,
            self.ttl_div,
        ];
        let mut args: Vec<String> = head.iter().map(u64::to_string).collect();
        args.extend([secs, micros, self.expiry_floor_ms.to_string()]);
        args.extend(self.ns.iter().map(u32::to_string));
        args
    }
}

/// What the store answered to a [`GcraBatch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcraOutcome {
    /// Not decided (the base was out of range, or the word too far ahead
    /// for exact arithmetic): the current word and time, as a refused
    /// compare-and-set returns them.
    Refused(crate::Read),
    /// Decided on `old`, at its time.
    Decided {
        /// The word the batch was decided on, and the store's time.
        old: crate::Read,
        /// The word stored and its expiry in ms; `None` when nothing was
        /// admitted (nothing written).
        stored: Option<(u64, u64)>,
    },
}

#[cfg(test)]
mod on_redis;

#[cfg(test)]
mod tests {
    use super::*;
    use ratecore::Quota;

    #[test]
    fn gcra_configs_are_recognised_and_bounded() {
        let gcra = Gcra::<1_000_000_000>::new(Quota::per_second(100).burst(20)).unwrap();
        let p = GcraParams::of::<_, 1_000_000_000>(&gcra).unwrap();
        assert_eq!(
            p,
            GcraParams::of::<_, 1_000_000_000>(gcra.algorithm()).unwrap()
        );
        assert_eq!((p.cost, p.scale, p.capacity), (10_000_000, 1, 200_000_000));
        // (max_secs + 1) * 10^9 + capacity <= 2^52 < (max_secs + 2) * 10^9 + capacity.
        let limit = 1u128 << 52;
        let m = u128::from(p.max_secs);
        assert!((m + 1) * 1_000_000_000 + 200_000_000 <= limit);
        assert!((m + 2) * 1_000_000_000 + 200_000_000 > limit);
        assert_eq!((p.ttl_mul, p.ttl_div), (1, 1_000_000));
        // Another algorithm, or another tick rate: no server path.
        let bucket =
            ratecore::TokenBucket::<1_000>::new(Quota::per_second(1), ratecore::RefillMode::Greedy)
                .unwrap();
        assert_eq!(GcraParams::of::<_, 1_000>(&bucket), None);
        assert_eq!(GcraParams::of::<_, 1_000>(&gcra), None);
    }

    #[test]
    fn capacities_near_two_to_the_52_are_refused_or_tightly_bounded() {
        // One second of room exactly, then none.
        let hz = 1_000_000_000u64;
        let cap = (1u64 << 52) - 2 * hz;
        assert_eq!(
            GcraParams::new(hz, 1, cap, 1, u64::MAX).unwrap().max_secs,
            1
        );
        assert!(GcraParams::new(hz, 1, cap + 1, 1, u64::MAX).is_none());
        // A tick rate whose micros product would exceed 2^53.
        assert!(GcraParams::new(10_000_000_000, 1, 1, 1, u64::MAX).is_none());
    }

    #[test]
    fn the_horizon_bounds_the_base() {
        let p = GcraParams::new(1_000, 1, 1_000, 5, 10_999).unwrap();
        // Ticks up to (base + max_secs + 1) * 1000 - 1 <= 10,999.
        assert_eq!(p.batch(9, vec![1]).unwrap().max_secs, 1);
        assert!(p.batch(10, vec![1]).is_none());
        let b = p.batch(3, vec![1, 2]).unwrap();
        assert_eq!((b.max_secs, b.v0), (7, 3_000));
    }

    #[test]
    fn arguments_split_the_base_into_decimal_halves() {
        let p = GcraParams::new(1_000_000_000, 4, 7, 3, u64::MAX).unwrap();
        let mut b = p.batch(1_700_000_000, vec![1, 0]).unwrap();
        b.at_ns = Some(1_700_000_001_123_456_789);
        let args = b.args();
        // v0 = 1.7e9 * 1e9 * 4 = 6.8e18.
        assert_eq!(&args[..2], ["6800", "0"]);
        assert_eq!(&args[11..], ["1700000001", "123456", "0", "1", "0"]);
    }
}
