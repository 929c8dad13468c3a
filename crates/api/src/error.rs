//! The one mapping from failures to the contract's error body `{"error": {"code", "message"}}`.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{ALLOW, HeaderValue, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};
use domain::DomainError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::wire::ErrorCode;

/// The error body of every non-2xx answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case code, e.g. `not_found`.
    #[schema(example = "not_found")]
    pub code: &'static str,
    /// A human-readable explanation.
    #[schema(example = "chat not found")]
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Unparsable body or query, a missing field, a value of the wrong type.
    #[error("{0}")]
    BadRequest(String),
    #[error("no such route")]
    RouteNotFound,
    /// A known path with another method; `allow` lists the ones it takes.
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    /// A body over the route's limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl ApiError {
    fn code_and_message(&self) -> (ErrorCode, String) {
        match self {
            Self::BadRequest(message) => (ErrorCode::BadRequest, message.clone()),
            Self::RouteNotFound => (ErrorCode::NotFound, "no such route".to_owned()),
            Self::MethodNotAllowed { allow } => (ErrorCode::MethodNotAllowed, format!("this path takes {allow}")),
            Self::PayloadTooLarge(message) => (ErrorCode::PayloadTooLarge, message.clone()),
            Self::Domain(error) => ErrorCode::of(error),
        }
    }
}

/// Whole seconds, rounded up, at least one: what `Retry-After` carries.
fn retry_after_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            // No logging here: the code of an unexpected error is known without looking at it.
            Self::Domain(DomainError::Unexpected(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Domain(_) => self.code_and_message().0.status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (code, message) = self.code_and_message();
        let mut response = HttpResponse::build(code.status());
        if let Self::MethodNotAllowed { allow } = self
            && let Ok(value) = HeaderValue::from_str(allow)
        {
            response.insert_header((ALLOW, value));
        }
        if let Self::Domain(DomainError::RateLimited { retry_after } | DomainError::Unavailable { retry_after }) = self
            && let Ok(value) = HeaderValue::from_str(&retry_after_seconds(*retry_after).to_string())
        {
            response.insert_header((RETRY_AFTER, value));
        }
        response.json(ErrorBody { error: ErrorDetail { code: code.as_str(), message } })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;

    use super::*;

    #[actix_web::test]
    async fn internal_errors_never_leak_their_cause() -> anyhow::Result<()> {
        let error = ApiError::from(DomainError::Unexpected(anyhow::anyhow!("relation \"users\" does not exist")));
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = to_bytes(response.into_body()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let text = String::from_utf8(body.to_vec())?;
        assert!(text.contains(r#""code":"internal""#) && !text.contains("relation"), "{text}");
        Ok(())
    }

    #[test]
    fn an_unavailable_database_is_a_503_with_retry_after() {
        let response = ApiError::from(DomainError::unavailable()).error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("1"));
    }

    #[test]
    fn rate_limits_say_when_to_retry_in_whole_seconds() {
        let error = ApiError::from(DomainError::RateLimited { retry_after: Duration::from_millis(1200) });
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("2"));
    }
}
