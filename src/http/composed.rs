//! Header input from tiered and keyed answers.

use super::{Policy, ServiceLimit};
use crate::answer::{Denied, Status};
use crate::compose::{TierDecision, Tiers};
use crate::kernel::Charge;
use crate::keyed::{Admitted, KeyedDecision};
use crate::time::{Duration, Instant};

impl<'a> ServiceLimit<'a> {
    /// One state per tier after a [`Tiers`] check at `now`, in the tiers'
    /// order, for [`Headers::new`](super::Headers::new): the tier that refused
    /// (if any) with its exact wait, every other tier as a peek at `now`.
    /// `policies[i]` describes tier `i`.
    ///
    /// ```
    /// use ratecore::http::{Headers, Policy, ServiceLimit};
    /// use ratecore::{Gcra, Instant, Quota, compose::Tier, Tiers};
    ///
    /// const MINUTE: Quota = Quota::per_minute(100).burst(120);
    /// const DAY: Quota = Quota::per_day(10_000);
    /// let minute = Gcra::<1_000>::new(MINUTE).unwrap();
    /// let day = Gcra::<1_000>::new(DAY).unwrap();
    /// let plan = Tiers::new([Tier::new("minute", &minute), Tier::new("daily", &day)]);
    /// let policies = [Policy::from_quota("minute", &MINUTE).unwrap(), Policy::from_quota("daily", &DAY).unwrap()];
    ///
    /// let (now, unix_now) = (Instant::<1_000>::from_ticks(0), Instant::<1_000>::from_ticks(1_700_000_000_000));
    /// let decision = plan.check_tiered_n_at(1, now);
    /// let limits = ServiceLimit::for_tiers(policies, &plan, &decision, now, unix_now).unwrap();
    /// let headers = Headers::new(&limits);
    /// assert_eq!(headers.x_ratelimit_remaining(), Some(119)); // the minute tier binds
    /// assert_eq!(headers.ratelimit().unwrap().to_string(), r#""minute";r=119;t=1, "daily";r=9999;t=9"#);
    /// ```
    ///
    /// # Errors
    ///
    /// A refusal other than [`Denied::RateLimited`] (a request cap, a
    /// concurrency limit, `n` over a burst), as
    /// [`from_decision`](ServiceLimit::from_decision) returns it.
    pub fn for_tiers<const HZ: u64, const N: usize, C: Charge<HZ> + ?Sized>(
        policies: [Policy<'a>; N],
        tiers: &Tiers<'_, HZ, N, C>,
        decision: &TierDecision<HZ>,
        now: Instant<HZ>,
        unix_now: Instant<HZ>,
    ) -> Result<[Self; N], Denied<HZ>> {
        let refused = match decision {
            Ok(_) => None,
            Err(answer) => match answer.answer {
                Denied::RateLimited(limited) => Some((answer.tier, limited)),
                other => return Err(other),
            },
        };
        let snapshots = tiers.snapshot_all_at(now);
        // `snapshots` has one status per tier: this fallback is unreachable,
        // and a peek-free "nothing known" state keeps the function total.
        let nothing_known = Status::new(0, 0, Duration::<HZ>::from_ticks(0));
        let mut tier: usize = 0;
        Ok(policies.map(|policy| {
            let this = tier;
            tier = tier.saturating_add(1);
            match (refused, snapshots.get(this)) {
                (Some((at, limited)), _) if at == this => {
                    Self::rate_limited(policy, &limited, unix_now)
                }
                (_, status) => Self::admitted(policy, status.unwrap_or(&nothing_known), unix_now),
            }
        }))
    }

    /// The state after a [`KeyedLimiter`](crate::KeyedLimiter) check, or
    /// `None` for a check admitted [unlimited](Admitted::Unlimited) by a full
    /// table's [`WhenFull::Allow`](crate::keyed::WhenFull::Allow) policy: no limit
    /// was applied, so no rate-limit headers describe it.
    ///
    /// # Errors
    ///
    /// A refusal other than [`Denied::RateLimited`], as
    /// [`from_decision`](ServiceLimit::from_decision) returns it; this
    /// includes [`Denied::TableFull`].
    pub const fn for_key<const HZ: u64>(
        policy: Policy<'a>,
        decision: &KeyedDecision<HZ>,
        unix_now: Instant<HZ>,
    ) -> Result<Option<Self>, Denied<HZ>> {
        match decision {
            Ok(Admitted::Limited(status)) => Ok(Some(Self::admitted(policy, status, unix_now))),
            Ok(Admitted::Unlimited) => Ok(None),
            Err(Denied::RateLimited(limited)) => {
                Ok(Some(Self::rate_limited(policy, limited, unix_now)))
            }
            Err(other) => Err(*other),
        }
    }
}
