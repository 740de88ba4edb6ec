//! The layer's own answers to gRPC calls, in gRPC's terms.
//!
//! A gRPC client reads a response's body as length-prefixed messages: the
//! `application/problem+json` body of a refusal would be misread as a
//! malformed frame (tonic reports `Internal`, "invalid compression flag").
//! So a call whose `content-type` is `application/grpc…` is refused with a
//! *Trailers-Only* response instead: HTTP 200, `content-type:
//! application/grpc`, the `grpc-status` and `grpc-message` in the headers,
//! no body. The layer's other headers (`RateLimit-Policy`, `RateLimit`,
//! `Retry-After`) stay, and reach the client as the status's metadata.

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{Request, Response, StatusCode};

/// Whether `request` is a gRPC call.
pub(crate) fn is_grpc<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// The gRPC status code and message of an answer of the layer's HTTP
/// status: a refusal by a limit (429), or a cost above the per-request
/// cap (413), is `RESOURCE_EXHAUSTED` (8, "perhaps a per-user quota"; not
/// `UNAVAILABLE`, which gRPC's mapping of a bare HTTP 429 gives and which
/// clients retry at once); a missing or unknown key `UNAUTHENTICATED`
/// (16), or `PERMISSION_DENIED` (7) for a 403; the store down or full
/// `UNAVAILABLE` (14); anything else `UNKNOWN` (2).
const fn code(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        429 => (
            "8",
            "rate limited: retry after the retry-after metadata (seconds)",
        ),
        413 => ("8", "the call's cost is above the plan's per-request cap"),
        401 => ("16", "the call carries no valid key"),
        403 => ("7", "the call's key is not allowed"),
        503 => ("14", "the rate-limit store is unavailable"),
        _ => ("2", "refused by the rate limiter"),
    }
}

/// `response`, an answer of the layer, as a Trailers-Only gRPC response
/// (see the [module documentation](self)).
pub(crate) fn answer(response: Response<Bytes>) -> Response<Bytes> {
    let (mut parts, _problem) = response.into_parts();
    let (status, message) = code(parts.status);
    parts.status = StatusCode::OK;
    let headers = &mut parts.headers;
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.remove(CONTENT_LENGTH);
    headers.insert("grpc-status", HeaderValue::from_static(status));
    headers.insert("grpc-message", HeaderValue::from_static(message));
    Response::from_parts(parts, Bytes::new())
}

/// `response` for `request`: in gRPC's terms if it is a gRPC call.
pub(crate) fn answer_for<B>(request: &Request<B>, response: Response<Bytes>) -> Response<Bytes> {
    if is_grpc(request) {
        answer(response)
    } else {
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_becomes_trailers_only_with_its_headers() {
        let response = Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header("retry-after", "20")
            .header(CONTENT_TYPE, "application/problem+json")
            .header(CONTENT_LENGTH, "2")
            .body(Bytes::from_static(b"{}"))
            .unwrap();
        let grpc = Request::builder()
            .header(CONTENT_TYPE, "application/grpc+proto")
            .body(())
            .unwrap();
        let answer = answer_for(&grpc, response);
        assert_eq!(answer.status(), StatusCode::OK);
        let h = answer.headers();
        assert_eq!(h["content-type"], "application/grpc");
        assert_eq!(h["grpc-status"], "8");
        assert_eq!(h["retry-after"], "20");
        assert!(h.get(CONTENT_LENGTH).is_none());
        assert!(answer.body().is_empty());
        let http = Request::builder()
            .header(CONTENT_TYPE, "application/json")
            .body(())
            .unwrap();
        let plain = Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .body(Bytes::from_static(b"{}"))
            .unwrap();
        assert_eq!(answer_for(&http, plain).status(), StatusCode::UNAUTHORIZED);
    }
}
