//! `GET /metrics`: on `LISTEN_ADDR`, or only on `METRICS_ADDR` when that is set; behind a bearer token
//! when `METRICS_TOKEN` is set.

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use domain::DomainError;

use super::Metrics;
use crate::error::ApiError;
use crate::wire::bearer_token;

/// Where `/metrics` is served and who may read it.
#[derive(Clone, Default)]
pub struct MetricsSettings {
    /// Serve `/metrics` on this address only (a port that is not published, a private network).
    pub addr: Option<SocketAddr>,
    /// Require `Authorization: Bearer <token>`.
    pub token: Option<String>,
}

impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field("addr", &self.addr)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// What the `/metrics` handler needs: the series and the token, if any.
pub struct Endpoint {
    metrics: Arc<Metrics>,
    token: Option<String>,
}

impl Endpoint {
    pub fn new(metrics: Arc<Metrics>, token: Option<String>) -> Self {
        Self { metrics, token }
    }

    fn admits(&self, req: &HttpRequest) -> bool {
        match &self.token {
            None => true,
            Some(expected) => bearer_token(req).is_some_and(|given| same_secret(given.as_bytes(), expected.as_bytes())),
        }
    }
}

/// Adds `/metrics` (`GET` and `HEAD`; other methods are 405).
pub fn routes(endpoint: web::Data<Endpoint>) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        cfg.service(web::resource("/metrics").app_data(endpoint).route(web::get().to(scrape)).default_service(
            web::to(|| async { Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow: "GET, HEAD".into() }) }),
        ));
    }
}

async fn scrape(req: HttpRequest, endpoint: web::Data<Endpoint>) -> Result<HttpResponse, ApiError> {
    if !endpoint.admits(&req) {
        return Err(DomainError::Unauthorized.into());
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(prometheus::TEXT_FORMAT)))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(endpoint.metrics.render()))
}

/// Compares without stopping at the first difference, so that the time taken tells nothing of the token.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn only_the_exact_token_is_the_same_secret() {
        assert!(same_secret(b"s3cret-token", b"s3cret-token"));
        assert!(!same_secret(b"s3cret-tokem", b"s3cret-token"));
        assert!(!same_secret(b"s3cret", b"s3cret-token"));
        assert!(!same_secret(b"", b"s3cret-token"));
    }
}
