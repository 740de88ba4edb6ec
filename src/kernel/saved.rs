//! A one-word limiter's state, saved as plain words and restored.

use core::fmt;

use crate::kernel::sync::Ordering;
use crate::kernel::{Algorithm, Carry, Reconfigure, WordLimiter, WordRef};
use crate::time::Instant;

/// A one-word limiter's state with the fingerprint of its configuration:
/// what [`WordLimiter::save`] returns and [`WordLimiter::restore`] takes, to
/// keep a limiter's state across a restart (in flash, a file, a database).
///
/// The bytes ([`to_bytes`](Saved::to_bytes)) are 16: the fingerprint, then
/// the state, each little-endian. The fingerprint covers the algorithm's
/// name, the tick rate and every number of the configuration, so a state is
/// never read under other parameters.
///
/// The state is the limiter's own word, on its own time line: restore it
/// under a clock with the same origin (a wall clock, or a monotonic clock
/// that does not restart from zero at boot), or it means other instants.
/// The bytes are not authenticated: keep them where nobody else can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Saved {
    /// The algorithm's [`NAME`](Algorithm::NAME); `None` when read back from
    /// bytes (the fingerprint covers it).
    pub name: Option<&'static str>,
    /// The configuration's [`fingerprint`](Algorithm::fingerprint).
    pub fingerprint: u64,
    /// The state word.
    pub state: u64,
}

impl Saved {
    /// The length of [`to_bytes`](Saved::to_bytes).
    pub const BYTES: usize = 16;

    /// The fingerprint and the state, little-endian.
    pub const fn to_bytes(&self) -> [u8; Self::BYTES] {
        let f = self.fingerprint.to_le_bytes();
        let s = self.state.to_le_bytes();
        [
            f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], s[0], s[1], s[2], s[3], s[4], s[5],
            s[6], s[7],
        ]
    }

    /// Reads back [`to_bytes`](Saved::to_bytes).
    pub const fn from_bytes(bytes: [u8; Self::BYTES]) -> Self {
        let [
            f0,
            f1,
            f2,
            f3,
            f4,
            f5,
            f6,
            f7,
            s0,
            s1,
            s2,
            s3,
            s4,
            s5,
            s6,
            s7,
        ] = bytes;
        Self {
            name: None,
            fingerprint: u64::from_le_bytes([f0, f1, f2, f3, f4, f5, f6, f7]),
            state: u64::from_le_bytes([s0, s1, s2, s3, s4, s5, s6, s7]),
        }
    }

    /// Reads back [`to_bytes`](Saved::to_bytes) from a slice.
    ///
    /// # Errors
    ///
    /// [`RestoreError::WrongLength`] unless the slice has exactly
    /// [`BYTES`](Saved::BYTES) bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, RestoreError> {
        match <[u8; Self::BYTES]>::try_from(bytes) {
            Ok(bytes) => Ok(Self::from_bytes(bytes)),
            Err(_) => Err(RestoreError::WrongLength { len: bytes.len() }),
        }
    }
}

/// Why a saved state was not restored. The limiter is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RestoreError {
    /// The state was saved under another configuration (another algorithm,
    /// tick rate or quota): it would mean something else here.
    OtherConfiguration {
        /// The restoring limiter's algorithm.
        name: &'static str,
        /// The restoring limiter's fingerprint.
        expected: u64,
        /// The fingerprint that was saved.
        found: u64,
    },
    /// The bytes are not [`Saved::BYTES`] long.
    WrongLength {
        /// Their length.
        len: usize,
    },
    /// The word (or slot) to restore into is in use: a restore goes into a
    /// fresh one only, since a state in use already counts units that the
    /// saved one does not, and replacing it would forgive them.
    InUse,
    /// A saved slot of a keyed table is not one this table can hold: its
    /// position is past the table, it holds no live key, or its plan is
    /// not one of the table's.
    BadSlot {
        /// Its position, as saved.
        index: u64,
    },
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OtherConfiguration {
                name,
                expected,
                found,
            } => write!(
                f,
                "saved state belongs to another configuration: fingerprint {found:#018x}, \
                 this {name} limiter's is {expected:#018x}"
            ),
            Self::WrongLength { len } => {
                write!(f, "a saved state is {} bytes, not {len}", Saved::BYTES)
            }
            Self::InUse => f.write_str(
                "the limiter to restore into is in use: a saved state is restored into a fresh one",
            ),
            Self::BadSlot { index } => {
                write!(f, "saved slot at position {index} does not fit this table")
            }
        }
    }
}

impl core::error::Error for RestoreError {}

impl Saved {
    /// `state` under `algorithm`, with its fingerprint.
    fn of<const HZ: u64, A: Algorithm<HZ>>(algorithm: &A, state: u64) -> Self {
        Self {
            name: Some(A::NAME),
            fingerprint: algorithm.fingerprint(),
            state,
        }
    }

    /// The saved state, if it was saved under `saved_under`, carried to
    /// `next` by `carry` at `now`.
    fn carried<const HZ: u64, A: Reconfigure<HZ>>(
        self,
        saved_under: &A,
        next: &A,
        carry: Carry,
        now: Instant<HZ>,
    ) -> Result<u64, RestoreError> {
        let state = self.state_for(saved_under)?;
        Ok(saved_under.carry(state, next, carry, now))
    }

    /// The saved state, if it was saved under `algorithm`'s configuration.
    fn state_for<const HZ: u64, A: Algorithm<HZ>>(
        self,
        algorithm: &A,
    ) -> Result<u64, RestoreError> {
        let expected = algorithm.fingerprint();
        if self.fingerprint != expected || self.name.is_some_and(|name| name != A::NAME) {
            return Err(RestoreError::OtherConfiguration {
                name: A::NAME,
                expected,
                found: self.fingerprint,
            });
        }
        Ok(self.state)
    }
}

impl<A> WordLimiter<A> {
    /// The state and the fingerprint of the configuration, to restore later
    /// with [`restore`](WordLimiter::restore).
    ///
    /// ```
    /// use ratecore::kernel::Saved;
    /// use ratecore::{Gcra, Instant, Limiter, Quota};
    ///
    /// let t = Instant::<1_000>::from_ticks(0);
    /// let before = Gcra::<1_000>::new(Quota::per_second(10)).unwrap();
    /// before.check_n_at(7, t).unwrap();
    /// let bytes = before.save().to_bytes();
    ///
    /// // After a restart:
    /// let mut after = Gcra::<1_000>::new(Quota::per_second(10)).unwrap();
    /// after.restore(Saved::from_bytes(bytes)).unwrap();
    /// assert_eq!(after.snapshot_at(t).remaining(), 3);
    ///
    /// // Under another quota, the state would mean something else: refused.
    /// let mut other = Gcra::<1_000>::new(Quota::per_second(20)).unwrap();
    /// assert!(other.restore(Saved::from_bytes(bytes)).is_err());
    /// assert_eq!(other.snapshot_at(t).remaining(), 20);
    /// ```
    pub fn save<const HZ: u64>(&self) -> Saved
    where
        A: Algorithm<HZ>,
    {
        Saved::of(self.algorithm(), self.state())
    }

    /// Replaces the state by a saved one (`&mut self`, as
    /// [`reset`](WordLimiter::reset): no receipt outlives it).
    ///
    /// # Errors
    ///
    /// [`RestoreError::OtherConfiguration`] when `saved` was saved under
    /// another configuration; the limiter is then unchanged.
    pub fn restore<const HZ: u64>(&mut self, saved: Saved) -> Result<(), RestoreError>
    where
        A: Algorithm<HZ>,
    {
        let state = saved.state_for(self.algorithm())?;
        self.set_state(state);
        Ok(())
    }

    /// Restores a state saved under another configuration, `saved_under`,
    /// carried to this limiter's by the reconfiguration rule `carry` (see
    /// [`Reconfigure`]) at `now`: a restart that also changes the quota.
    /// `now` must be at or after every instant the saved limiter decided
    /// at (after a restart, a reading of a clock on the same time line), so
    /// that the units in use are counted where they are, never forgiven.
    ///
    /// ```
    /// use ratecore::kernel::{Carry, Saved};
    /// use ratecore::{Gcra, Instant, Limiter, Quota};
    ///
    /// let t = Instant::<1_000>::from_ticks(0);
    /// let before = Gcra::<1_000>::new(Quota::per_second(10)).unwrap();
    /// before.check_n_at(7, t).unwrap();
    /// let saved = Saved::from_bytes(before.save().to_bytes());
    ///
    /// // Restarted with twice the quota: the 7 units stay in use.
    /// let mut after = Gcra::<1_000>::new(Quota::per_second(20)).unwrap();
    /// after.restore_carried(saved, before.algorithm(), Carry::InUse, t).unwrap();
    /// assert_eq!(after.snapshot_at(t).remaining(), 13);
    /// ```
    ///
    /// # Errors
    ///
    /// [`RestoreError::OtherConfiguration`] when `saved` was not saved under
    /// `saved_under`; the limiter is then unchanged.
    pub fn restore_carried<const HZ: u64>(
        &mut self,
        saved: Saved,
        saved_under: &A,
        carry: Carry,
        now: Instant<HZ>,
    ) -> Result<(), RestoreError>
    where
        A: Reconfigure<HZ>,
    {
        let state = saved.carried(saved_under, self.algorithm(), carry, now)?;
        self.set_state(state);
        Ok(())
    }
}

impl<A> WordRef<'_, A> {
    /// The word's state and the fingerprint of the configuration, to restore
    /// later with [`restore`](WordRef::restore): a `static` word kept across
    /// a reboot.
    ///
    /// ```
    /// use ratecore::algorithms::GcraConfig;
    /// use ratecore::kernel::{AtomicU64, RestoreError, Saved, WordRef};
    /// use ratecore::{Instant, Limiter, Quota, const_unwrap};
    ///
    /// const UART: GcraConfig<1_000> = const_unwrap!(GcraConfig::new(Quota::per_second(10)));
    /// static BEFORE: AtomicU64 = AtomicU64::new(0);
    /// let t = Instant::<1_000>::from_ticks(0);
    /// WordRef::new(&BEFORE, &UART).check_n_at(7, t).unwrap();
    /// let bytes = WordRef::new(&BEFORE, &UART).save().to_bytes();
    ///
    /// // After the reboot, before the first check:
    /// static AFTER: AtomicU64 = AtomicU64::new(0);
    /// let limiter = WordRef::new(&AFTER, &UART);
    /// limiter.restore(Saved::from_bytes(bytes)).unwrap();
    /// assert_eq!(limiter.snapshot_at(t).remaining(), 3);
    /// // A word in use is never overwritten: that would forgive its units.
    /// assert_eq!(limiter.restore(Saved::from_bytes(bytes)), Err(RestoreError::InUse));
    /// ```
    pub fn save<const HZ: u64>(&self) -> Saved
    where
        A: Algorithm<HZ>,
    {
        Saved::of(self.algorithm(), self.state())
    }

    /// Puts a saved state into the word, if the word is fresh (`0`, never
    /// charged): through `&self`, since the word is often a `static`.
    ///
    /// Only a fresh word: a word in use counts units the saved state does
    /// not, and a receipt of this word could otherwise be undone against a
    /// state it did not charge (the reason
    /// [`WordLimiter::restore`] takes `&mut self`). Restore at start-up,
    /// before the first check.
    ///
    /// # Errors
    ///
    /// [`RestoreError::OtherConfiguration`] when `saved` was saved under
    /// another configuration; [`RestoreError::InUse`] when the word is not
    /// `0`. The word is then unchanged.
    pub fn restore<const HZ: u64>(&self, saved: Saved) -> Result<(), RestoreError>
    where
        A: Algorithm<HZ>,
    {
        self.put_fresh(saved.state_for(self.algorithm())?)
    }

    /// Stores `state` into the word if it is fresh.
    fn put_fresh<const HZ: u64>(&self, state: u64) -> Result<(), RestoreError>
    where
        A: Algorithm<HZ>,
    {
        // Relaxed, or the ordering of a charge for a semaphore: the restored
        // units are held as a charge's would be.
        let ordering = if A::GUARDS_MEMORY {
            Ordering::Acquire
        } else {
            Ordering::Relaxed
        };
        match self
            .word()
            .compare_exchange(0, state, ordering, Ordering::Relaxed)
        {
            Ok(_) => Ok(()),
            Err(_) => Err(RestoreError::InUse),
        }
    }
}
