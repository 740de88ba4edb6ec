//! Plans: several limits per key ("5 per minute and 100 per day"), a cap on
//! what one request may cost, and a concurrency limit.

use std::fmt;

use crate::rc::{self, MAX_PLANS, Quota};

/// The most limits one plan holds (besides its per-request cap and its
/// concurrency limit).
pub const MAX_LIMITS: usize = 4;

/// What a limit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Meter {
    /// One unit per request.
    Requests,
    /// The request's cost, as the key extractor reports it (bytes,
    /// characters, tokens).
    Cost,
}

/// One limit of a plan: "5 per minute", counted in requests or in cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    pub(crate) name: String,
    pub(crate) quota: Quota,
    pub(crate) meter: Meter,
}

impl Limit {
    /// The limit's name, as `RateLimit-Policy` and the 429 body name it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The limit's quota: `n` per period, with its burst.
    pub fn quota(&self) -> &Quota {
        &self.quota
    }

    /// What the limit counts.
    pub fn meter(&self) -> Meter {
        self.meter
    }
}

/// A plan: up to [`MAX_LIMITS`] limits, all of which must admit a request
/// (all or nothing), an optional cap on one request's cost and an optional
/// concurrency limit per key.
///
/// Quotas read as "n per period": [`Quota::per_minute(5)`](Quota::per_minute)
/// is five requests per minute (a burst of five, then one every 12 s), not
/// one request every five minutes.
///
/// ```
/// use ratecore_tower::{Plan, Quota};
///
/// let free = Plan::new("free")
///     .limit("free-minute", Quota::per_minute(5))
///     .limit("free-day", Quota::per_day(100))
///     .max_cost("free-request", 10_000)
///     .concurrency(5);
/// assert_eq!(free.limits().len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub(crate) name: String,
    pub(crate) limits: Vec<Limit>,
    pub(crate) max_cost: Option<(String, u32)>,
    pub(crate) concurrency: Option<u32>,
}

impl Plan {
    /// A plan named `name` with no limits yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            limits: Vec::new(),
            max_cost: None,
            concurrency: None,
        }
    }

    /// Adds a limit counting requests: `quota` per period.
    #[must_use]
    pub fn limit(self, name: impl Into<String>, quota: Quota) -> Self {
        self.metered(name, quota, Meter::Requests)
    }

    /// Adds a limit counting the requests' cost (as the key extractor
    /// reports it): `quota` units per period.
    #[must_use]
    pub fn cost_limit(self, name: impl Into<String>, quota: Quota) -> Self {
        self.metered(name, quota, Meter::Cost)
    }

    fn metered(mut self, name: impl Into<String>, quota: Quota, meter: Meter) -> Self {
        self.limits.push(Limit {
            name: name.into(),
            quota,
            meter,
        });
        self
    }

    /// Refuses (413) any request costing more than `max`, whatever quota is
    /// left; `name` is the limit the 413 body names.
    #[must_use]
    pub fn max_cost(mut self, name: impl Into<String>, max: u32) -> Self {
        self.max_cost = Some((name.into(), max));
        self
    }

    /// At most `limit` requests of one key in flight at once; a request
    /// holds its place until its response body is finished or dropped.
    #[must_use]
    pub fn concurrency(mut self, limit: u32) -> Self {
        self.concurrency = Some(limit);
        self
    }

    /// The plan's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plan's limits, in order.
    pub fn limits(&self) -> &[Limit] {
        &self.limits
    }

    /// The per-request cap on cost, with its name.
    pub fn max_cost_limit(&self) -> Option<(&str, u32)> {
        self.max_cost
            .as_ref()
            .map(|(name, max)| (name.as_str(), *max))
    }

    /// The concurrency limit per key.
    pub fn concurrency_limit(&self) -> Option<u32> {
        self.concurrency
    }

    fn validate(&self) -> Result<(), ConfigError> {
        check_name(&self.name)?;
        if self.limits.len() > MAX_LIMITS {
            return Err(ConfigError::TooManyLimits {
                plan: self.name.clone(),
            });
        }
        for limit in &self.limits {
            check_name(&limit.name)?;
            rc::rate(limit.quota).map_err(|e| ConfigError::Quota {
                limit: limit.name.clone(),
                message: e.to_string(),
            })?;
            rc::policy(&limit.name, &limit.quota).map_err(|e| ConfigError::Quota {
                limit: limit.name.clone(),
                message: e.to_string(),
            })?;
        }
        if let Some((name, _)) = &self.max_cost {
            check_name(name)?;
        }
        if let Some(limit) = self.concurrency {
            rc::concurrency(limit).map_err(|e| ConfigError::Quota {
                limit: format!("{} concurrency", self.name),
                message: e.to_string(),
            })?;
        }
        Ok(())
    }
}

/// Names go into header values and JSON unescaped: ASCII letters, digits,
/// `-`, `_`, `.` only, 1 to 64 bytes.
fn check_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Name {
            name: name.to_owned(),
        })
    }
}

/// A plan's position in its [`Plans`], returned by [`Plans::add`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlanId(pub(crate) u8);

impl PlanId {
    /// The plan's index in its [`Plans`] (in the order they were added).
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The plan at `index`, if `index` is below [`MAX_PLANS`]. Prefer the id
    /// [`Plans::add`] returns.
    pub const fn new(index: usize) -> Option<Self> {
        if index < MAX_PLANS {
            Some(Self(index as u8))
        } else {
            None
        }
    }
}

/// The plans of a layer, up to [`MAX_PLANS`].
///
/// ```
/// use ratecore_tower::{Plan, Plans, Quota};
///
/// let mut plans = Plans::new();
/// let free = plans.add(Plan::new("free").limit("free-minute", Quota::per_minute(5)))?;
/// assert_eq!(plans.get(free).unwrap().name(), "free");
/// # Ok::<(), ratecore_tower::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plans {
    plans: Vec<Plan>,
}

impl Plans {
    /// No plans yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `plan` and returns its id.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a plan past [`MAX_PLANS`], more than
    /// [`MAX_LIMITS`] limits, a name outside `[A-Za-z0-9._-]{1,64}`, or a
    /// quota ratecore refuses (zero, or too large for millisecond ticks).
    pub fn add(&mut self, plan: Plan) -> Result<PlanId, ConfigError> {
        plan.validate()?;
        let id = PlanId::new(self.plans.len()).ok_or(ConfigError::TooManyPlans)?;
        self.plans.push(plan);
        Ok(id)
    }

    /// The plan of `id`.
    pub fn get(&self, id: PlanId) -> Option<&Plan> {
        self.plans.get(id.index())
    }

    /// Every plan, by id.
    pub fn iter(&self) -> impl Iterator<Item = (PlanId, &Plan)> {
        self.plans
            .iter()
            .enumerate()
            .filter_map(|(i, plan)| PlanId::new(i).map(|id| (id, plan)))
    }

    /// How many plans.
    pub fn len(&self) -> usize {
        self.plans.len()
    }

    /// Whether there are no plans.
    pub fn is_empty(&self) -> bool {
        self.plans.is_empty()
    }
}

/// A plan the layer cannot enforce as written.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// More than [`MAX_PLANS`] plans.
    TooManyPlans,
    /// More than [`MAX_LIMITS`] limits in one plan.
    TooManyLimits {
        /// The plan.
        plan: String,
    },
    /// A name outside `[A-Za-z0-9._-]{1,64}`.
    Name {
        /// The name.
        name: String,
    },
    /// A quota ratecore refuses.
    Quota {
        /// The limit.
        limit: String,
        /// ratecore's reason.
        message: String,
    },
    /// The layer was built with no plans.
    NoPlans,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyPlans => write!(f, "more than {MAX_PLANS} plans"),
            Self::TooManyLimits { plan } => {
                write!(f, "plan {plan:?} has more than {MAX_LIMITS} limits")
            }
            Self::Name { name } => write!(
                f,
                "name {name:?} is not 1 to 64 of ASCII letters, digits, '-', '_', '.'"
            ),
            Self::Quota { limit, message } => write!(f, "limit {limit:?}: {message}"),
            Self::NoPlans => f.write_str("no plans"),
        }
    }
}

impl std::error::Error for ConfigError {}
