//! The backoff schedule as an iterator.

use core::iter::FusedIterator;

use super::backoff::{Backoff, at_least};
use super::random::RandomSource;
use crate::time::Duration;

/// The delays of a [`Backoff`], one per retry, until the attempts are used
/// up: an allocation-free iterator carrying the exponential term, the
/// previous delay (for decorrelated jitter) and its random source.
///
/// Each step costs one multiplication, whatever the retry count. After a
/// response with a `Retry-After`, take the next delay with
/// [`next_with_retry_after`](BackoffSchedule::next_with_retry_after); the
/// server's wait raises that one delay and does not change the schedule.
///
/// ```
/// use ratecore::client::{Backoff, Jitter, SplitMix64};
/// use ratecore::Duration;
///
/// type Ms = Duration<1_000>;
/// let backoff = Backoff::new(Ms::from_ticks(50), Ms::from_ticks(1_000)).jitter(Jitter::Equal);
/// let mut schedule = backoff.schedule(SplitMix64::new(1));
/// let first = schedule.next().unwrap().as_ticks();
/// assert!((25..=50).contains(&first));
/// let second = schedule.next_with_retry_after(Some(Ms::from_ticks(3_000))).unwrap();
/// assert_eq!(second.as_ticks(), 3_000);
/// assert!((100..=200).contains(&schedule.next().unwrap().as_ticks()));
/// assert_eq!(schedule.retries_done(), 3);
/// ```
#[derive(Clone, Debug)]
pub struct BackoffSchedule<const HZ: u64, R> {
    backoff: Backoff<HZ>,
    random: R,
    retry: u32,
    term: u64,
    previous: u64,
}

impl<const HZ: u64, R: RandomSource> BackoffSchedule<HZ, R> {
    /// The schedule of `backoff` from its first retry.
    pub const fn new(backoff: Backoff<HZ>, random: R) -> Self {
        Self {
            backoff,
            random,
            retry: 0,
            term: backoff.first_term(),
            previous: backoff.first_term(),
        }
    }

    /// The backoff this schedule follows.
    pub const fn backoff(&self) -> &Backoff<HZ> {
        &self.backoff
    }

    /// How many delays have been taken.
    pub const fn retries_done(&self) -> u32 {
        self.retry
    }

    /// Starts over from the first retry (after a success, say), keeping the
    /// random source where it is.
    pub fn reset(&mut self) {
        self.retry = 0;
        self.term = self.backoff.first_term();
        self.previous = self.term;
    }

    /// The next delay raised to at least the server's `retry_after`, or
    /// `None` when the attempts are used up.
    pub fn next_with_retry_after(
        &mut self,
        retry_after: Option<Duration<HZ>>,
    ) -> Option<Duration<HZ>> {
        if self.retry >= self.backoff.retries() {
            return None;
        }
        let delay = self
            .backoff
            .draw(self.term, self.previous, self.random.next_u64());
        self.previous = delay;
        self.term = self.backoff.next_term(self.term);
        // `retry < retries() <= u32::MAX - 1`.
        self.retry = self.retry.saturating_add(1);
        Some(at_least(Duration::<HZ>::from_ticks(delay), retry_after))
    }
}

impl<const HZ: u64, R: RandomSource> Iterator for BackoffSchedule<HZ, R> {
    type Item = Duration<HZ>;

    fn next(&mut self) -> Option<Duration<HZ>> {
        self.next_with_retry_after(None)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.backoff.retries().saturating_sub(self.retry);
        match usize::try_from(left) {
            Ok(left) => (left, Some(left)),
            // A 16-bit target: more than `usize::MAX` delays are left.
            Err(_) => (usize::MAX, None),
        }
    }
}

impl<const HZ: u64, R: RandomSource> FusedIterator for BackoffSchedule<HZ, R> {}

crate::macros::defmt_format!(
    /// The backoff and the position in the schedule (the random source is not shown).
    impl[const HZ: u64, R] for BackoffSchedule<HZ, R> => |schedule|
        "BackoffSchedule {{ backoff: {}, retry: {=u32}, previous: {=u64} ticks }}",
        schedule.backoff,
        schedule.retry,
        schedule.previous,
);
