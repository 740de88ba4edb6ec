//! The layer's own answers: `application/problem+json` documents.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};

use crate::rc;

pub(crate) fn problem(status: StatusCode, title: &str, detail: &str) -> Response<Bytes> {
    // `title` and `detail` are constants of this crate or validated names.
    let body = format!(
        r#"{{"type":"about:blank","title":"{title}","status":{},"detail":"{detail}"}}"#,
        status.as_u16()
    );
    problem_response(status, http::HeaderMap::new(), body)
}

/// An `application/problem+json` answer of `status`, with `headers` and `body`.
pub(crate) fn problem_response(
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(rc::PROBLEM_JSON));
    response
}

pub(crate) fn with_retry_after(mut response: Response<Bytes>, secs: u64) -> Response<Bytes> {
    response
        .headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    response
}

pub(crate) fn too_large(limit: &str, requested: u32, max: u32) -> Response<Bytes> {
    let body = format!(
        concat!(
            r#"{{"type":"about:blank","title":"Request Too Large","status":413,"#,
            r#""violated-policies":["{}"],"limit":{},"requested":{}}}"#
        ),
        limit, max, requested
    );
    problem_response(StatusCode::PAYLOAD_TOO_LARGE, http::HeaderMap::new(), body)
}

/// The answer of a future polled again after it completed (a caller's bug).
pub(crate) fn polled_after_completion() -> Response<Bytes> {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Polled After Completion",
        "",
    )
}
