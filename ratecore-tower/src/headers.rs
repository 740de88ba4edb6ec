//! Writing ratecore's header values into an `http::HeaderMap`.

use std::cell::RefCell;
use std::fmt::{Display, Write};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::rc::{self, RcHeaders};

/// Which headers to write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HeaderOptions {
    /// `X-RateLimit-Limit`, `-Remaining` and `-Reset` as well as the IETF
    /// fields (default: no).
    pub legacy: bool,
}

/// The names, in the order of ratecore's `Headers::iter`, from ratecore's
/// lower-case constants. Constants: `HeaderName::from_static` runs at
/// compile time, and cloning a static name costs nothing.
const NAMES: [HeaderName; FIELDS] = [
    HeaderName::from_static(rc::X_RATELIMIT_LIMIT_LOWER),
    HeaderName::from_static(rc::X_RATELIMIT_REMAINING_LOWER),
    HeaderName::from_static(rc::X_RATELIMIT_RESET_LOWER),
    HeaderName::from_static(rc::RATELIMIT_POLICY_LOWER),
    HeaderName::from_static(rc::RATELIMIT_LOWER),
    HeaderName::from_static(rc::RETRY_AFTER_LOWER),
];

/// How many fields ratecore writes.
const FIELDS: usize = 6;

/// The position of `RateLimit-Policy` in [`NAMES`].
const POLICY: usize = 3;

/// ratecore's (mixed-case) names, in the order of [`NAMES`].
#[cfg(test)]
const MIXED: [&str; FIELDS] = [
    rc::X_RATELIMIT_LIMIT,
    rc::X_RATELIMIT_REMAINING,
    rc::X_RATELIMIT_RESET,
    rc::RATELIMIT_POLICY,
    rc::RATELIMIT,
    rc::RETRY_AFTER,
];

fn as_display<T: Display>(value: &T) -> &dyn Display {
    value
}

/// Bytes taken from the thread's arena when it runs short: one allocation
/// serves many responses' values.
const ARENA_CHUNK: usize = 8 * 1_024;

/// The most one response's values are expected to need; a value that does
/// not fit grows the arena as any `BytesMut` grows.
const ARENA_LOW: usize = 512;

thread_local! {
    /// Every header value this thread formats is written here and split off
    /// as a `Bytes` that shares the chunk: no allocation per value. Once
    /// every value of a chunk is dropped, the chunk is reused in place.
    static ARENA: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// Runs `write` on this thread's arena and returns what it wrote, as a
/// `Bytes` sharing the arena's chunk (`None` if the arena is in use).
fn with_arena(write: impl FnOnce(&mut BytesMut)) -> Option<Bytes> {
    ARENA.with(|arena| {
        let mut arena = arena.try_borrow_mut().ok()?;
        if arena.capacity().saturating_sub(arena.len()) < ARENA_LOW {
            // Reclaims the chunk if nothing uses it any more, else allocates.
            arena.reserve(ARENA_CHUNK);
        }
        write(&mut arena);
        Some(arena.split().freeze())
    })
}

/// The values of one answer's header fields, formatted and ready to insert
/// (no borrow of the plan is held while the inner service runs). Compact,
/// since the response future carries it: the formatted values are one
/// slice of the arena, split into header values only when inserted.
#[derive(Clone, Debug, Default)]
pub(crate) struct Values {
    /// The formatted values, one after another, in field order.
    text: Bytes,
    /// Each field's length in `text`; `None` for a field not written.
    lens: [Option<u16>; FIELDS],
    /// `RateLimit-Policy`, formatted once per plan by the layer.
    policy: Option<HeaderValue>,
}

impl Values {
    /// The fields of `headers` (with `options.legacy` the `X-RateLimit-*`
    /// ones), `RateLimit-Policy` as `policy` if given (a plan's is the same
    /// on every answer, so the layer formats it once).
    pub(crate) fn new(
        headers: &RcHeaders<'_>,
        options: HeaderOptions,
        policy: Option<&HeaderValue>,
    ) -> Self {
        let mut lens = [None; FIELDS];
        let text = with_arena(|arena| {
            // Field `i` (an index of `NAMES`) with `value`, if any.
            let mut put = |i: usize, value: Option<&dyn Display>| {
                let Some(value) = value else { return };
                let start = arena.len();
                let written = write!(arena, "{value}").is_ok();
                let len = u16::try_from(arena.len().saturating_sub(start)).ok();
                match (written, len, lens.get_mut(i)) {
                    (true, Some(len), Some(slot)) => *slot = Some(len),
                    _ => arena.truncate(start),
                }
            };
            // ratecore's fields in `Headers::iter`'s order, asking only for
            // those written (each getter finds the binding limit again).
            if options.legacy {
                put(0, headers.x_ratelimit_limit().as_ref().map(as_display));
                put(1, headers.x_ratelimit_remaining().as_ref().map(as_display));
                put(2, headers.x_ratelimit_reset().as_ref().map(as_display));
            }
            if policy.is_none() {
                put(POLICY, headers.ratelimit_policy().as_ref().map(as_display));
            }
            put(4, headers.ratelimit().as_ref().map(as_display));
            put(5, headers.retry_after().as_ref().map(as_display));
        });
        Self {
            text: text.unwrap_or_default(),
            lens,
            policy: policy.cloned(),
        }
    }

    /// Inserts every value into `map`, replacing fields of the same names.
    pub(crate) fn apply(self, map: &mut HeaderMap) {
        let mut text = self.text;
        for (i, (name, len)) in NAMES.into_iter().zip(self.lens).enumerate() {
            let value = match (len, &self.policy) {
                (_, Some(policy)) if i == POLICY => Some(policy.clone()),
                (Some(len), _) => {
                    let len = usize::from(len).min(text.len());
                    HeaderValue::from_maybe_shared(text.split_to(len)).ok()
                }
                (None, _) => None,
            };
            if let Some(value) = value {
                map.insert(name, value);
            }
        }
    }
}

/// Writes every header of `headers` (`RateLimit-Policy`, `RateLimit`,
/// `Retry-After` on a refusal, and with `options.legacy` the
/// `X-RateLimit-*` fields) into `map`, replacing fields of the same names.
///
/// Allocation: none per value. Each value is formatted into a per-thread
/// arena (an 8 KiB `BytesMut`) and split off as a `Bytes` sharing it
/// (`HeaderValue::from_maybe_shared` takes it without a copy); the arena
/// allocates a new chunk only when it runs short while values of its
/// current one are still alive, and reuses the chunk in place once they are
/// dropped. Names are constants. Beyond that, only the map's own storage.
///
/// ```
/// use http::HeaderMap;
/// use ratecore::{Duration, Instant};
/// use ratecore::http::{Headers, Policy, ServiceLimit};
/// use ratecore_tower::{HeaderOptions, write_headers};
///
/// let limit = ServiceLimit::new(
///     Policy::new("free", 5, 60).unwrap(),
///     5, 0,
///     Duration::<1_000>::from_ticks(57_500),
///     Some(Duration::from_ticks(9_500)),
///     Instant::from_ticks(1_700_000_000_000),
/// );
/// let mut map = HeaderMap::new();
/// write_headers(&mut map, &Headers::single(&limit), HeaderOptions::default());
/// assert_eq!(map["ratelimit-policy"], r#""free";q=5;w=60"#);
/// assert_eq!(map["ratelimit"], r#""free";r=0;t=10"#);
/// assert_eq!(map["retry-after"], "10");
/// assert!(map.get("x-ratelimit-limit").is_none());
/// ```
pub fn write_headers(map: &mut HeaderMap, headers: &RcHeaders<'_>, options: HeaderOptions) {
    Values::new(headers, options, None).apply(map);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values written one after another share the arena, and each is whole,
    /// also across chunks (2,000 values of 4 to 5 bytes, all kept alive).
    #[test]
    fn arena_values_are_separate() {
        let values: Vec<Bytes> = (0..2_000u32)
            .map(|i| with_arena(|arena| write!(arena, "v{i}").unwrap()).unwrap())
            .collect();
        for (i, value) in values.iter().enumerate() {
            assert_eq!(&value[..], format!("v{i}").as_bytes());
        }
    }

    /// Each name is its mixed-case one lower-cased.
    #[test]
    fn names_are_ratecores_lower_cased() {
        for (name, mixed) in NAMES.iter().zip(MIXED) {
            assert_eq!(name.as_str(), mixed.to_ascii_lowercase());
        }
    }
}
