//! One log line per request: request id, method, path (never the query, which may hold a token),
//! user, status and latency. Bodies are never logged.
//!
//! The request id is the caller's `X-Request-Id` when it is short and made of safe characters (a proxy
//! or another service can follow a request through), a new one otherwise; it is answered in the
//! response's `X-Request-Id` and carried by every line the request logs. A WebSocket keeps its
//! upgrade's request id, with a connection id, on every line its connection logs.

use std::fmt;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id taken from a caller.
const MAX_REQUEST_ID: usize = 64;

/// The id of one request, and of whatever it causes.
#[derive(Clone, Debug)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The caller's id when it is 1 to 64 letters, digits, `-`, `_`, `.` or `:`; else a new UUID.
    pub fn of(request: &ServiceRequest) -> Self {
        request.headers().get(&REQUEST_ID).filter(|given| Self::acceptable(given.as_bytes())).map_or_else(
            || Self(HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).unwrap_or(HeaderValue::from_static("-"))),
            |given| Self(given.clone()),
        )
    }

    fn acceptable(id: &[u8]) -> bool {
        (1..=MAX_REQUEST_ID).contains(&id.len())
            && id.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only ASCII is ever accepted or made.
        f.write_str(self.0.to_str().unwrap_or("-"))
    }
}

pub struct RequestSpan;

#[derive(Clone, Copy)]
struct Started(Instant);

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let id = RequestId::of(request);
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            method = %request.method(),
            path = %request.path(),
            user_id = tracing::field::Empty,
            otel.name = tracing::field::Empty,
            otel.kind = tracing::field::Empty,
        );
        crate::telemetry::join_trace(&span, request);
        let mut extensions = request.extensions_mut();
        extensions.insert(Started(Instant::now()));
        extensions.insert(id);
        span
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let _entered = span.enter();
        match outcome {
            Ok(response) => {
                let latency_ms =
                    response.request().extensions().get::<Started>().map(|s| s.0.elapsed().as_secs_f64() * 1000.0);
                let status = response.status().as_u16();
                if status >= 500 {
                    tracing::error!(status, latency_ms, "request failed");
                } else {
                    tracing::info!(status, latency_ms, "request finished");
                }
            }
            Err(error) => tracing::error!(%error, "request failed"),
        }
    }
}

/// A `wrap_fn` middleware inside the tracing one: answers the request's id in `X-Request-Id`.
pub fn answer_request_id<S, B>(
    req: ServiceRequest,
    service: &S,
) -> LocalBoxFuture<'static, Result<ServiceResponse<B>, Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
{
    let call = service.call(req);
    Box::pin(async move {
        let mut response = call.await?;
        let id = response.request().extensions().get::<RequestId>().map(|id| id.0.clone());
        if let Some(id) = id {
            response.headers_mut().insert(REQUEST_ID, id);
        }
        Ok(response)
    })
}

/// The span of one WebSocket connection: every line its tasks log carries the upgrade's request id and
/// the connection's id. A root of its own, so that a long connection does not hold its upgrade's
/// request open (in a trace, it follows from it).
pub fn websocket_span(req: &HttpRequest, connection: uuid::Uuid, user: domain::UserId) -> Span {
    let request_id = req.extensions().get::<RequestId>().map(ToString::to_string).unwrap_or_default();
    let span = tracing::info_span!(parent: None, "websocket", request_id = %request_id, connection = %connection, user_id = %user);
    span.follows_from(Span::current());
    span
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn id_for(given: Option<&str>) -> String {
        let mut request = TestRequest::default();
        if let Some(given) = given {
            request = request.insert_header((REQUEST_ID, given));
        }
        RequestId::of(&request.to_srv_request()).to_string()
    }

    #[test]
    fn a_callers_safe_request_id_is_kept_and_anything_else_replaced() {
        assert_eq!(id_for(Some("req-42_a.b:c")), "req-42_a.b:c");
        for unsafe_id in ["", "has space", "quote\"", "semi;colon", "ünïcode", &"x".repeat(65)] {
            let made = id_for(Some(unsafe_id));
            assert_ne!(made, unsafe_id);
            assert!(uuid::Uuid::parse_str(&made).is_ok(), "{made}");
        }
        assert!(uuid::Uuid::parse_str(&id_for(None)).is_ok());
    }
}
