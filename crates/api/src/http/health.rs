//! Liveness and readiness.

use actix_web::{HttpResponse, get, web};

use super::dto::StatusDto;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::state::Services;

/// The process answers.
#[utoipa::path(tag = "health", responses((status = 200, body = StatusDto)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(StatusDto { status: "ok" })
}

/// Readiness answers within this, whatever state the dependencies are in.
const READINESS_BUDGET: std::time::Duration = std::time::Duration::from_millis(900);

/// The database (and Redis, when configured) answer; 503 within a second when one does not.
#[utoipa::path(tag = "health", responses((status = 200, body = StatusDto), (status = 503, body = ErrorBody)))]
#[get("/readyz")]
pub async fn readyz(services: web::Data<Services>) -> Result<HttpResponse, ApiError> {
    let checked = tokio::time::timeout(READINESS_BUDGET, services.health.check())
        .await
        .unwrap_or_else(|_| Err(domain::DomainError::unavailable()));
    match checked {
        Ok(()) => Ok(HttpResponse::Ok().json(StatusDto { status: "ok" })),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            let error = ErrorDetail { code: "unavailable", message: "a dependency does not answer".into() };
            Ok(HttpResponse::ServiceUnavailable().json(ErrorBody { error }))
        }
    }
}
