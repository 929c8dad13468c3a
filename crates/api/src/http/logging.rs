//! One log line per request: request id, method, path (never the query, which may hold a token),
//! user, status and latency. Bodies are never logged.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;

pub struct RequestSpan;

#[derive(Clone, Copy)]
struct Started(Instant);

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request.extensions_mut().insert(Started(Instant::now()));
        tracing::info_span!(
            "request",
            request_id = %uuid::Uuid::new_v4(),
            method = %request.method(),
            path = %request.path(),
            user_id = tracing::field::Empty,
        )
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
