//! A hook for counting what the layer decides.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::key::Key;

/// One decision of the layer, for a [`Metrics`] hook.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A request was admitted.
    Admitted {
        /// Its key.
        key: &'a Key,
        /// Its plan's name.
        plan: &'a str,
    },
    /// An admitted request left its binding limit at or above the layer's
    /// near-limit threshold (reported besides [`Event::Admitted`]).
    NearLimit {
        /// Its key.
        key: &'a Key,
        /// Its plan's name.
        plan: &'a str,
        /// The binding limit's utilisation, per mille.
        per_mille: u16,
    },
    /// A request was refused (or, in dry-run mode, would have been).
    Refused {
        /// Its key.
        key: &'a Key,
        /// Its plan's name.
        plan: &'a str,
        /// The limit that refused (`concurrency` for a concurrency limit,
        /// `no-room` for a full store).
        limit: &'a str,
        /// Whether the layer is in dry-run mode (the request went through).
        dry_run: bool,
    },
    /// A request had no key (or an invalid one).
    NoKey,
    /// The store failed.
    StoreError {
        /// The failure.
        error: &'a (dyn std::error::Error + 'static),
    },
}

/// Receives every decision of the layer. Called on the request's path: keep
/// it cheap (atomic counters, a channel).
pub trait Metrics: Send + Sync + 'static {
    /// One decision.
    fn record(&self, event: &Event<'_>);
}

/// No metrics.
impl Metrics for () {
    fn record(&self, _: &Event<'_>) {}
}

impl<M: Metrics + ?Sized> Metrics for std::sync::Arc<M> {
    fn record(&self, event: &Event<'_>) {
        (**self).record(event);
    }
}

/// Counters of every kind of event (relaxed atomics).
#[derive(Debug, Default)]
pub struct Counters {
    /// Admitted requests.
    pub admitted: AtomicU64,
    /// Refused requests (not in dry-run mode).
    pub refused: AtomicU64,
    /// Requests that dry-run mode let through but would have refused.
    pub dry_run_refused: AtomicU64,
    /// Admitted requests at or above the near-limit threshold.
    pub near_limit: AtomicU64,
    /// Requests with no key or an invalid one.
    pub no_key: AtomicU64,
    /// Store failures.
    pub store_errors: AtomicU64,
}

impl Counters {
    /// A snapshot: `[admitted, refused, dry_run_refused, near_limit, no_key,
    /// store_errors]`.
    pub fn snapshot(&self) -> [u64; 6] {
        [
            &self.admitted,
            &self.refused,
            &self.dry_run_refused,
            &self.near_limit,
            &self.no_key,
            &self.store_errors,
        ]
        .map(|c| c.load(Ordering::Relaxed))
    }
}

impl Metrics for Counters {
    fn record(&self, event: &Event<'_>) {
        let counter = match event {
            Event::Admitted { .. } => &self.admitted,
            Event::NearLimit { .. } => &self.near_limit,
            Event::Refused { dry_run: false, .. } => &self.refused,
            Event::Refused { dry_run: true, .. } => &self.dry_run_refused,
            Event::NoKey => &self.no_key,
            Event::StoreError { .. } => &self.store_errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
