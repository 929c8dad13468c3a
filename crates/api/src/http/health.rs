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

/// The database (and Redis, when configured) answer.
#[utoipa::path(tag = "health", responses((status = 200, body = StatusDto), (status = 503, body = ErrorBody)))]
#[get("/readyz")]
pub async fn readyz(services: web::Data<Services>) -> Result<HttpResponse, ApiError> {
    match services.health.check().await {
        Ok(()) => Ok(HttpResponse::Ok().json(StatusDto { status: "ok" })),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            let error = ErrorDetail { code: "unavailable", message: "a dependency does not answer".into() };
            Ok(HttpResponse::ServiceUnavailable().json(ErrorBody { error }))
        }
    }
}
