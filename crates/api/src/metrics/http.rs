//! Every HTTP request counted by method, route and status, and timed by route. The route is the
//! pattern that matched (`/history/{chat_id}`), never the path: one series per route, not per chat.

use std::sync::Arc;
use std::time::Instant;

use actix_web::Error;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use futures_util::future::LocalBoxFuture;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use super::ws::LATENCY_BUCKETS;

/// The label of requests no route took (404s, 405s of unknown paths): bounded whatever clients send.
pub const UNMATCHED: &str = "unmatched";

/// The WebSocket's route: an answer other than 101 there is a refused upgrade.
const WEBSOCKET: &str = "/ws";

pub struct HttpMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
    upgrades_refused: IntCounterVec,
}

impl HttpMetrics {
    pub fn new() -> Self {
        let metrics = Self {
            requests: IntCounterVec::new(
                Opts::new("messenger_http_requests_total", "HTTP requests by method, route pattern and status"),
                &["method", "route", "status"],
            )
            .expect("a constant, valid metric name"),
            duration: HistogramVec::new(
                HistogramOpts::new(
                    "messenger_http_request_duration_seconds",
                    "Time from a request's arrival to its response head, by route pattern, in seconds",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["route"],
            )
            .expect("a constant, valid metric name and increasing buckets"),
            upgrades_refused: IntCounterVec::new(
                Opts::new(
                    "messenger_ws_upgrades_refused_total",
                    "WebSocket upgrades answered with an error instead of 101, by status: 401 no or a bad token, \
                     429 over the request budget or WS_MAX_CONNECTIONS_PER_USER, 400 not a WebSocket handshake",
                ),
                &["status"],
            )
            .expect("a constant, valid metric name"),
        };
        // The usual refusals exist from the start, at 0: a rate is then defined before the first one.
        for status in ["400", "401", "429"] {
            metrics.upgrades_refused.with_label_values(&[status]);
        }
        metrics
    }

    /// # Errors
    /// When a series of the same name is registered already.
    pub fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.requests.clone()))?;
        registry.register(Box::new(self.duration.clone()))?;
        registry.register(Box::new(self.upgrades_refused.clone()))
    }

    /// A `wrap_fn` middleware: passes the request on and records its answer.
    pub fn around<S, B>(
        self: &Arc<Self>,
        req: ServiceRequest,
        service: &S,
    ) -> LocalBoxFuture<'static, Result<ServiceResponse<B>, Error>>
    where
        S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
        S::Future: 'static,
        B: 'static,
    {
        let started = Instant::now();
        let method = method_label(req.method());
        let metrics = self.clone();
        let call = service.call(req);
        Box::pin(async move {
            let outcome = call.await;
            match &outcome {
                Ok(response) => {
                    let route = response.request().match_pattern();
                    metrics.record(method, route.as_deref(), response.status(), started);
                }
                // Handlers and extractors answer their errors themselves; this is a middleware's, before
                // any route was taken.
                Err(error) => metrics.record(method, None, error.as_response_error().status_code(), started),
            }
            outcome
        })
    }

    fn record(&self, method: &str, route: Option<&str>, status: StatusCode, started: Instant) {
        let route = route.unwrap_or(UNMATCHED);
        self.requests.with_label_values(&[method, route, status.as_str()]).inc();
        self.duration.with_label_values(&[route]).observe(started.elapsed().as_secs_f64());
        if route == WEBSOCKET && status != StatusCode::SWITCHING_PROTOCOLS {
            self.upgrades_refused.with_label_values(&[status.as_str()]).inc();
        }
    }
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Methods outside the standard set share one label, so that made-up methods add no series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
