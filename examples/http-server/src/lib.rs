//! An HTTP API with per-API-key rate limits on two plans, answering with
//! ratecore's header values.
//!
//! - `free`: 5 requests per minute (burst 5);
//! - `pro`: 100 requests per minute with a burst of 120.
//!
//! A request names its key in `x-api-key`. An admitted request gets `200` with
//! `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`,
//! `RateLimit-Policy` and `RateLimit`; a refused one gets `429` with the same
//! plus `Retry-After` and an `application/problem+json` body carrying the
//! limit, what is left, the wait, the reset time (Unix and RFC 3339) and the
//! plan that refused. Unknown or missing keys get `401` and touch no limiter.
//!
//! The keys are a fixed array here; a server with many keys would hold its
//! limiters in a keyed table instead.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use core::fmt::Write;
use ratecore::http::{FixedBuf, Headers, PROBLEM_JSON, Policy, ServiceLimit};
use ratecore::{Clock, Gcra, Limiter, Quota};

/// The server's tick: milliseconds.
pub const MS: u64 = ratecore::time::MILLIS;

/// A plan: its quota and how the RateLimit-Policy field names it.
#[derive(Debug)]
pub struct Plan {
    /// The limiter's quota.
    pub quota: Quota,
    /// The advertised policy.
    pub policy: Policy<'static>,
}

const FREE_QUOTA: Quota = Quota::per_minute(5);
const PRO_QUOTA: Quota = Quota::per_minute(100).burst(120);

/// 5 requests per minute.
pub static FREE: Plan = Plan {
    quota: FREE_QUOTA,
    policy: ratecore::const_unwrap!(Policy::from_quota("free", &FREE_QUOTA)),
};

/// 100 requests per minute with a burst of 120.
pub static PRO: Plan = Plan {
    quota: PRO_QUOTA,
    policy: ratecore::const_unwrap!(Policy::from_quota("pro", &PRO_QUOTA)),
};

/// The known API keys and their plans. Demo values: real keys come from a
/// secret store, never from source code.
pub const KEYS: [(&str, &Plan); 3] = [
    ("demo-free-key-1", &FREE),
    ("demo-free-key-2", &FREE),
    ("demo-pro-key-1", &PRO),
];

/// The header that carries the API key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// One API key's limiter.
#[derive(Debug)]
struct Account {
    key: &'static str,
    plan: &'static Plan,
    limiter: Gcra<MS>,
}

/// A clock shared with the request handlers.
pub type SharedClock = Arc<dyn Clock<MS> + Send + Sync>;

/// Everything the handlers share: the accounts and two clocks, a monotonic
/// one for the limiters and a wall clock (Unix milliseconds) for
/// `X-RateLimit-Reset`. Tests inject manual clocks for both.
pub struct AppState {
    accounts: Vec<Account>,
    clock: SharedClock,
    wall: SharedClock,
}

impl AppState {
    /// One full limiter per known key.
    pub fn new(clock: SharedClock, wall: SharedClock) -> Self {
        let accounts = KEYS
            .iter()
            .map(|&(key, plan)| Account {
                key,
                plan,
                // Fails only for a zero or overflowing quota; both plans'
                // quotas are small constants.
                limiter: Gcra::new(plan.quota).expect("plan quotas are valid"),
            })
            .collect();
        Self {
            accounts,
            clock,
            wall,
        }
    }

    /// The account of `key`, comparing every known key in constant time so
    /// response timing does not reveal how much of a key was right.
    fn account(&self, key: &[u8]) -> Option<&Account> {
        let mut found = None;
        for account in &self.accounts {
            if constant_time_eq(account.key.as_bytes(), key) {
                found = Some(account);
            }
        }
        found
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The API: `GET /` under per-key limits.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(handle))
        .with_state(Arc::new(state))
}

async fn handle(State(state): State<Arc<AppState>>, request_headers: HeaderMap) -> Response {
    let Some(account) = request_headers
        .get(API_KEY_HEADER)
        .and_then(|key| state.account(key.as_bytes()))
    else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":"missing or unknown x-api-key"}"#,
        )
            .into_response();
    };

    let decision = account.limiter.check_at(state.clock.now());
    let limit = match ServiceLimit::from_decision(account.plan.policy, &decision, state.wall.now())
    {
        Ok(limit) => limit,
        // A one-unit check never exceeds a burst of at least one, and these
        // plans have no request cap; answer sensibly all the same.
        Err(refusal) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, refusal.to_string()).into_response();
        }
    };
    let headers = Headers::single(&limit);
    let mut response = match headers.too_many_requests() {
        Some(body) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::CONTENT_TYPE, PROBLEM_JSON)],
            body.json().to_string(),
        )
            .into_response(),
        None => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            format!(
                r#"{{"plan":"{}","remaining":{}}}"#,
                account.plan.policy.name(),
                limit.remaining()
            ),
        )
            .into_response(),
    };
    for (name, value) in headers {
        // Each value is formatted on the stack; the longest here is well
        // under 128 bytes.
        let mut buf = FixedBuf::<128>::new();
        if write!(buf, "{value}").is_err() {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(buf.as_bytes()),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
