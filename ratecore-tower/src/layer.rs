//! The tower layer and its service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::RateLimitBody;
use crate::grpc;
use crate::headers::{HeaderOptions, Values};
use crate::key::{Extracted, Key, KeyExtractor, NoKey, RequestInfo};
use crate::metrics::{Event, Metrics};
use crate::plan::{ConfigError, Plan, Plans};
use crate::plan_headers::PlanHeaders;
use crate::problem::{
    polled_after_completion, problem, problem_response, too_large, with_retry_after,
};
use crate::rc::{self, Clock, MS, MonotonicClock, WallClock, WhenFull};
use crate::store::{InMemoryStore, LimitStates, Outcome, Store, StoreRequest, Verdict};

/// A clock in milliseconds, shared by the layer's clones.
pub type SharedClock = Arc<dyn Clock<MS> + Send + Sync>;

/// What a store failure does to the request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OnStoreError {
    /// Admit it, without rate-limit headers (the default).
    #[default]
    Admit,
    /// Answer `503 Service Unavailable` with `Retry-After: 1`.
    Refuse,
}

struct Config<St> {
    plans: Plans,
    /// What each plan's answers share, by plan index.
    shared: Vec<PlanHeaders>,
    extractor: Box<dyn KeyExtractor>,
    store: St,
    metrics: Arc<dyn Metrics>,
    clock: SharedClock,
    wall: SharedClock,
    dry_run: bool,
    headers: HeaderOptions,
    near_limit_per_mille: u32,
    no_key_status: StatusCode,
    on_store_error: OnStoreError,
}

/// Builds a [`RateLimitLayer`]; see [`RateLimitLayer::builder`].
pub struct Builder {
    plans: Plans,
    extractor: Box<dyn KeyExtractor>,
    metrics: Arc<dyn Metrics>,
    clock: Option<SharedClock>,
    wall: Option<SharedClock>,
    dry_run: bool,
    headers: HeaderOptions,
    near_limit_per_mille: u32,
    no_key_status: StatusCode,
    on_store_error: OnStoreError,
    capacity: usize,
    when_full: WhenFull,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("plans", &self.plans)
            .field("dry_run", &self.dry_run)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// Builder methods that store their argument in a field.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident($ty:ty) => $($field:ident).+;)*) => {
        $(
            $(#[$doc])*
            #[must_use]
            pub fn $name(mut self, value: $ty) -> Self {
                self.$($field).+ = value;
                self
            }
        )*
    };
}

impl Builder {
    setters! {
        /// Keys held at once by the in-memory store (default 65,536; rounded
        /// up to a multiple of 1,024). Memory: 17 bytes per key per limit
        /// position, on the heap.
        capacity(usize) => capacity;
        /// What the in-memory store does with a new key when it has no room
        /// (default [`WhenFull::Deny`]: `503` with `Retry-After: 1`).
        when_full(WhenFull) => when_full;
        /// Dry-run mode: decide and report (headers, metrics) but never
        /// refuse, as nginx's `limit_req_dry_run`. A request that would have
        /// been refused (by a rate limit, the concurrency limit, the
        /// per-request cap, a full store) is reported as
        /// [`Event::Refused`] with `dry_run: true`, goes through, and charges
        /// nothing, as a refusal would. One over the per-request cap carries
        /// no rate-limit headers (the cap is decided before the rates, and
        /// its `413` would have carried none); nor, with the Redis store,
        /// does one over the concurrency limit (that store decides the
        /// concurrency limit first and does not read the rates of a request
        /// it refuses; the in-memory store reports them).
        dry_run(bool) => dry_run;
        /// Also write the legacy `X-RateLimit-Limit`, `-Remaining`, `-Reset`.
        legacy_headers(bool) => headers.legacy;
        /// The status of a request with no key (default `401 Unauthorized`).
        /// For a shared anonymous quota instead, wrap the extractor with
        /// [`KeyExtractorExt::or_anonymous`](crate::KeyExtractorExt::or_anonymous).
        no_key_status(StatusCode) => no_key_status;
        /// What a store failure does (default: admit).
        on_store_error(OnStoreError) => on_store_error;
    }

    /// Report [`Event::NearLimit`] when an admitted request leaves its
    /// binding limit at least `percent` % used (default 80).
    #[must_use]
    pub fn near_limit_percent(mut self, percent: u32) -> Self {
        self.near_limit_per_mille = percent.saturating_mul(10);
        self
    }

    /// The metrics hook (default: none).
    #[must_use]
    pub fn metrics(mut self, metrics: impl Metrics) -> Self {
        self.metrics = Arc::new(metrics);
        self
    }

    /// The clocks: `clock` monotonic, `wall` in Unix milliseconds (default
    /// ratecore's `MonotonicClock` and `WallClock`). Tests pass manual ones.
    #[must_use]
    pub fn clocks(mut self, clock: SharedClock, wall: SharedClock) -> Self {
        self.clock = Some(clock);
        self.wall = Some(wall);
        self
    }

    /// The layer, on the in-memory store.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoPlans`] if there are no plans.
    pub fn build(self) -> Result<RateLimitLayer<InMemoryStore>, ConfigError> {
        let store = InMemoryStore::new(&self.plans, self.capacity, self.when_full);
        self.build_with_store(store)
    }

    /// The layer, on `store` (built for the same plans).
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoPlans`] if there are no plans.
    pub fn build_with_store<St: Store>(self, store: St) -> Result<RateLimitLayer<St>, ConfigError> {
        if self.plans.is_empty() {
            return Err(ConfigError::NoPlans);
        }
        let clock = self
            .clock
            .unwrap_or_else(|| Arc::new(MonotonicClock::<MS>::new()));
        let wall = self.wall.unwrap_or_else(|| Arc::new(WallClock));
        let shared = self
            .plans
            .iter()
            .map(|(_, plan)| PlanHeaders::new(plan))
            .collect();
        Ok(RateLimitLayer {
            config: Arc::new(Config {
                shared,
                plans: self.plans,
                extractor: self.extractor,
                store,
                metrics: self.metrics,
                clock,
                wall,
                dry_run: self.dry_run,
                headers: self.headers,
                near_limit_per_mille: self.near_limit_per_mille,
                no_key_status: self.no_key_status,
                on_store_error: self.on_store_error,
            }),
        })
    }
}

/// Rate limits per key as a tower [`Layer`]: the services it makes are
/// `Clone` and share one limiter state, decide in `call`, answer a refusal
/// with an ordinary response (429 with `Retry-After` and an
/// `application/problem+json` body; the inner service's error type is
/// unchanged), and add `RateLimit-Policy` and `RateLimit` to every response.
///
/// ```
/// use ratecore_tower::{GlobalKey, Plan, Plans, Quota, RateLimitLayer};
///
/// let mut plans = Plans::new();
/// let all = plans.add(Plan::new("all").limit("per-second", Quota::per_second(100)))?;
/// let layer = RateLimitLayer::builder(plans, GlobalKey(all)).build()?;
/// # let _ = layer;
/// # Ok::<(), ratecore_tower::ConfigError>(())
/// ```
pub struct RateLimitLayer<St = InMemoryStore> {
    config: Arc<Config<St>>,
}

impl<St> Clone for RateLimitLayer<St> {
    fn clone(&self) -> Self {
        Self {
            config: Arc::clone(&self.config),
        }
    }
}

impl<St> fmt::Debug for RateLimitLayer<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("plans", &self.config.plans)
            .field("dry_run", &self.config.dry_run)
            .finish_non_exhaustive()
    }
}

impl RateLimitLayer<InMemoryStore> {
    /// A builder for `plans`, finding each request's key with `extractor`.
    pub fn builder(plans: Plans, extractor: impl KeyExtractor) -> Builder {
        Builder {
            plans,
            extractor: Box::new(extractor),
            metrics: Arc::new(()),
            clock: None,
            wall: None,
            dry_run: false,
            headers: HeaderOptions::default(),
            near_limit_per_mille: 800,
            no_key_status: StatusCode::UNAUTHORIZED,
            on_store_error: OnStoreError::Admit,
            capacity: 65_536,
            when_full: WhenFull::Deny,
        }
    }
}

impl<St> RateLimitLayer<St> {
    /// The layer's store.
    pub fn store(&self) -> &St {
        &self.config.store
    }

    /// The layer's plans.
    pub fn plans(&self) -> &Plans {
        &self.config.plans
    }
}

impl<S, St> Layer<S> for RateLimitLayer<St> {
    type Service = RateLimit<S, St>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service of a [`RateLimitLayer`]. Cloning it shares the limiter state.
pub struct RateLimit<S, St = InMemoryStore> {
    inner: S,
    config: Arc<Config<St>>,
}

impl<S: Clone, St> Clone for RateLimit<S, St> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: Arc::clone(&self.config),
        }
    }
}

impl<S: fmt::Debug, St> fmt::Debug for RateLimit<S, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// The layer's decision on a request.
enum Decision<P> {
    /// Answer without calling the inner service.
    Respond(Response<Bytes>),
    /// Call the inner service, holding `permit`, and add the headers.
    Pass {
        permit: Option<P>,
        headers: Option<Values>,
    },
}

impl<St: Store> Config<St> {
    fn no_key(&self, why: NoKey) -> Response<Bytes> {
        self.metrics.record(&Event::NoKey);
        match why {
            NoKey::Missing => problem(self.no_key_status, "No Key", "the request carries no key"),
            _ => problem(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "the request's key is malformed or unknown",
            ),
        }
    }

    /// The answer to a store failure: the layer's policy.
    fn store_error(&self, error: &St::Error) -> Decision<St::Permit> {
        self.metrics.record(&Event::StoreError { error });
        match self.on_store_error {
            OnStoreError::Admit => Decision::Pass {
                permit: None,
                headers: None,
            },
            OnStoreError::Refuse => Decision::Respond(with_retry_after(
                problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service Unavailable",
                    "the rate-limit store is unavailable",
                ),
                1,
            )),
        }
    }

    /// Decides on a request of `extracted` whose store check answered `verdict`.
    fn decide(
        &self,
        extracted: &Extracted,
        verdict: Result<Verdict<St::Permit>, St::Error>,
    ) -> Decision<St::Permit> {
        let (Some(plan), Some(shared)) = (
            self.plans.get(extracted.plan),
            self.shared.get(extracted.plan.index()),
        ) else {
            return Decision::Respond(self.no_key(NoKey::Invalid));
        };
        let key = &extracted.key;
        let Verdict {
            outcome,
            mut states,
            permit,
        } = match verdict {
            Ok(verdict) => verdict,
            Err(error) => return self.store_error(&error),
        };
        let limit_name = |position: usize| plan.limits().get(position).map_or("", |l| l.name());
        let refused_by = match outcome {
            Outcome::Admitted | Outcome::Unlimited => {
                self.metrics.record(&Event::Admitted {
                    key,
                    plan: plan.name(),
                });
                let limited = outcome == Outcome::Admitted;
                if limited {
                    self.near_limit(key, plan, &states);
                }
                let headers = match limited {
                    true => shared.values(plan, &states, self.header_unix_ms(), self.headers),
                    false => None,
                };
                return Decision::Pass { permit, headers };
            }
            Outcome::RateLimited { limit, .. } | Outcome::TooLarge { limit, .. } => {
                limit_name(limit)
            }
            Outcome::AtCapacity { .. } => "concurrency",
            Outcome::NoRoom => "no-room",
        };
        self.metrics.record(&Event::Refused {
            key,
            plan: plan.name(),
            limit: refused_by,
            dry_run: self.dry_run,
        });
        if self.dry_run {
            // Report the state as it is, without a refusal's wait; the
            // refusal charged nothing and holds no permit.
            states.clear_waits();
            let headers = shared.values(plan, &states, self.header_unix_ms(), self.headers);
            return Decision::Pass { permit, headers };
        }
        // A refusal's answer names its reset time: read the wall clock.
        let unix_ms = rc::now_ms(self.wall.as_ref());
        let response = match outcome {
            Outcome::RateLimited { .. } => self.too_many(plan, shared, &states, unix_ms),
            Outcome::TooLarge { max, .. } => too_large(refused_by, extracted.cost, max),
            Outcome::AtCapacity { limit } => {
                let unix_secs = rc::unix_secs_after(unix_ms, 1_000);
                let body = rc::problem_json("concurrency", limit, 0, 1, unix_secs);
                with_retry_after(
                    problem_response(StatusCode::TOO_MANY_REQUESTS, http::HeaderMap::new(), body),
                    1,
                )
            }
            _ => with_retry_after(
                problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service Unavailable",
                    "no room for a new key in the rate-limit store",
                ),
                1,
            ),
        };
        Decision::Respond(response)
    }

    fn near_limit(&self, key: &Key, plan: &Plan, states: &LimitStates) {
        // The binding limit: the fewest units left relative to its size.
        let per_mille = states
            .as_slice()
            .iter()
            .map(|s| {
                let used = u64::from(s.limit.saturating_sub(s.remaining));
                u16::try_from(used * 1_000 / u64::from(s.limit.max(1))).unwrap_or(1_000)
            })
            .max();
        if let Some(per_mille) = per_mille {
            if u32::from(per_mille) >= self.near_limit_per_mille {
                self.metrics.record(&Event::NearLimit {
                    key,
                    plan: plan.name(),
                    per_mille,
                });
            }
        }
    }

    /// The wall-clock time the headers of an admitted request need: only
    /// the legacy `X-RateLimit-Reset` names a time, the IETF fields carry
    /// seconds from now, so without it no clock is read (0).
    fn header_unix_ms(&self) -> u64 {
        match self.headers.legacy {
            true => rc::now_ms(self.wall.as_ref()),
            false => 0,
        }
    }

    /// The 429 of a rate limit: the plan's headers, with `Retry-After`,
    /// and the problem document, both by ratecore's writer.
    fn too_many(
        &self,
        plan: &Plan,
        shared: &PlanHeaders,
        states: &LimitStates,
        unix_ms: u64,
    ) -> Response<Bytes> {
        let mut map = http::HeaderMap::new();
        let body = shared.with_limits(plan, states, unix_ms, |headers| {
            Values::new(headers, self.headers, shared.policy.as_ref()).apply(&mut map);
            rc::too_many_requests_json(headers)
        });
        problem_response(StatusCode::TOO_MANY_REQUESTS, map, body.unwrap_or_default())
    }
}

impl<S, St, ReqBody, ResBody> Service<Request<ReqBody>> for RateLimit<S, St>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    St: Store,
    ReqBody: http_body::Body,
    ResBody: http_body::Body,
    ResBody::Data: From<Bytes>,
{
    type Response = Response<RateLimitBody<ResBody, St::Permit>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, St>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let config = &self.config;
        let extracted = match config.extractor.extract(&RequestInfo::new(&request)) {
            Ok(extracted) => extracted,
            Err(why) => {
                return ResponseFuture::respond(grpc::answer_for(&request, config.no_key(why)));
            }
        };
        let Some(plan) = config.plans.get(extracted.plan) else {
            let answer = config.no_key(NoKey::Invalid);
            return ResponseFuture::respond(grpc::answer_for(&request, answer));
        };
        if let Some((name, max)) = plan.max_cost_limit() {
            if extracted.cost > max {
                config.metrics.record(&Event::Refused {
                    key: &extracted.key,
                    plan: plan.name(),
                    limit: name,
                    dry_run: config.dry_run,
                });
                if !config.dry_run {
                    let answer = too_large(name, extracted.cost, max);
                    return ResponseFuture::respond(grpc::answer_for(&request, answer));
                }
                // Dry run: through, charging nothing, as the 413 would have.
                let pass = Decision::Pass {
                    permit: None,
                    headers: None,
                };
                return ResponseFuture::from(pass.start(&mut self.inner, request));
            }
        }
        let mut check = config.store.check(StoreRequest {
            key: extracted.key.clone(),
            plan: extracted.plan,
            cost: extracted.cost,
            now_ms: rc::now_ms(config.clock.as_ref()),
        });
        // An in-memory store answers at once: decide here, in `call`.
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(&mut check).poll(&mut cx) {
            Poll::Ready(verdict) => {
                let decision = config.decide(&extracted, verdict);
                ResponseFuture::from(decision.start(&mut self.inner, request))
            }
            Poll::Pending => {
                // A remote store: decide when it answers, with the service
                // that was made ready for this call.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                let deciding = Deciding {
                    check,
                    request,
                    inner,
                    extracted,
                    config: Arc::clone(&self.config),
                };
                ResponseFuture::from(State::Deciding {
                    deciding: Some(Box::new(deciding)),
                })
            }
        }
    }
}

impl<P> Decision<P> {
    /// The response future's state for this decision: an answer, or the
    /// inner service's call on `request`.
    fn start<S, ReqBody, St>(
        self,
        inner: &mut S,
        request: Request<ReqBody>,
    ) -> State<S, ReqBody, St>
    where
        S: Service<Request<ReqBody>>,
        St: Store<Permit = P>,
    {
        match self {
            Decision::Respond(response) => State::Respond {
                response: Some(Box::new(grpc::answer_for(&request, response))),
            },
            Decision::Pass { permit, headers } => State::Calling {
                future: inner.call(request),
                permit,
                headers,
            },
        }
    }
}

pin_project! {
    /// The future of [`RateLimit`]'s responses.
    pub struct ResponseFuture<S, ReqBody, St>
    where
        S: Service<Request<ReqBody>>,
        St: Store,
    {
        #[pin]
        state: State<S, ReqBody, St>,
    }
}

/// A request waiting for a remote store's answer, with all it needs to go
/// on. Boxed in the future's state: the common path (an in-memory store,
/// decided in `call`) then carries a small future.
struct Deciding<S, ReqBody, St: Store> {
    check: St::Future,
    request: Request<ReqBody>,
    inner: S,
    extracted: Extracted,
    config: Arc<Config<St>>,
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody, St>
    where
        S: Service<Request<ReqBody>>,
        St: Store,
    {
        // Boxed, as `Deciding`: a refusal allocates its body anyway.
        Respond {
            response: Option<Box<Response<Bytes>>>,
        },
        Deciding {
            deciding: Option<Box<Deciding<S, ReqBody, St>>>,
        },
        Calling {
            #[pin]
            future: S::Future,
            permit: Option<St::Permit>,
            headers: Option<Values>,
        },
    }
}

impl<S, ReqBody, St> ResponseFuture<S, ReqBody, St>
where
    S: Service<Request<ReqBody>>,
    St: Store,
{
    fn respond(response: Response<Bytes>) -> Self {
        Self::from(State::Respond {
            response: Some(Box::new(response)),
        })
    }
}

impl<S, ReqBody, St> From<State<S, ReqBody, St>> for ResponseFuture<S, ReqBody, St>
where
    S: Service<Request<ReqBody>>,
    St: Store,
{
    fn from(state: State<S, ReqBody, St>) -> Self {
        Self { state }
    }
}

impl<S, ReqBody, St> fmt::Debug for ResponseFuture<S, ReqBody, St>
where
    S: Service<Request<ReqBody>>,
    St: Store,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody, St> Future for ResponseFuture<S, ReqBody, St>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    St: Store,
    ResBody: http_body::Body,
    ResBody::Data: From<Bytes>,
{
    type Output = Result<Response<RateLimitBody<ResBody, St::Permit>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Respond { response } => {
                    let response = response.take().map_or_else(polled_after_completion, |r| *r);
                    return Poll::Ready(Ok(response.map(RateLimitBody::full)));
                }
                StateProj::Deciding { deciding } => {
                    let Some(waiting) = deciding.as_mut() else {
                        let response = polled_after_completion();
                        return Poll::Ready(Ok(response.map(RateLimitBody::full)));
                    };
                    let verdict = match Pin::new(&mut waiting.check).poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(verdict) => verdict,
                    };
                    let next = match deciding.take() {
                        Some(waiting) => {
                            let Deciding {
                                request,
                                mut inner,
                                extracted,
                                config,
                                ..
                            } = *waiting;
                            config
                                .decide(&extracted, verdict)
                                .start(&mut inner, request)
                        }
                        None => State::Respond { response: None },
                    };
                    this.state.set(next);
                }
                StateProj::Calling {
                    future,
                    permit,
                    headers,
                } => {
                    let mut response = match future.poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                        Poll::Ready(Ok(response)) => response,
                    };
                    if let Some(headers) = headers.take() {
                        headers.apply(response.headers_mut());
                    }
                    let permit = permit.take();
                    return Poll::Ready(
                        Ok(response.map(|body| RateLimitBody::inner(body, permit))),
                    );
                }
            }
        }
    }
}
