//! The one mapping from failures to the contract's error body `{"error": {"code", "message"}}`.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};
use domain::DomainError;
use serde::Serialize;
use utoipa::ToSchema;

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
    #[error(transparent)]
    Domain(#[from] DomainError),
}

const INTERNAL_MESSAGE: &str = "internal error; it has been logged";

/// The contract's code and a message safe to show for a domain error; logs what must not be shown.
pub fn code_and_message(error: &DomainError) -> (&'static str, String) {
    let code = match error {
        DomainError::InvalidInput(_) => "invalid_input",
        DomainError::NotFound(_) => "not_found",
        DomainError::Forbidden(_) => "forbidden",
        DomainError::Unauthorized => "unauthorized",
        DomainError::InvalidCredentials => "invalid_credentials",
        DomainError::EmailTaken => "email_taken",
        DomainError::Conflict(_) => "conflict",
        DomainError::RateLimited { .. } => "rate_limited",
        DomainError::Unexpected(cause) => {
            tracing::error!(error = ?cause, "unexpected failure");
            return ("internal", INTERNAL_MESSAGE.to_owned());
        }
    };
    (code, error.to_string())
}

fn status_of(code: &str) -> StatusCode {
    match code {
        "bad_request" => StatusCode::BAD_REQUEST,
        "unauthorized" | "invalid_credentials" => StatusCode::UNAUTHORIZED,
        "forbidden" => StatusCode::FORBIDDEN,
        "not_found" => StatusCode::NOT_FOUND,
        "email_taken" | "conflict" => StatusCode::CONFLICT,
        "invalid_input" => StatusCode::UNPROCESSABLE_ENTITY,
        "rate_limited" => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    fn code_and_message(&self) -> (&'static str, String) {
        match self {
            Self::BadRequest(message) => ("bad_request", message.clone()),
            Self::RouteNotFound => ("not_found", "no such route".to_owned()),
            Self::Domain(error) => code_and_message(error),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::Domain(DomainError::Unexpected(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Domain(error) => status_of(code_and_message(error).0),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (code, message) = self.code_and_message();
        let mut response = HttpResponse::build(status_of(code));
        if let Self::Domain(DomainError::RateLimited { retry_after }) = self {
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.insert_header((RETRY_AFTER, value));
            }
        }
        response.json(ErrorBody { error: ErrorDetail { code, message } })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
    fn rate_limits_say_when_to_retry_in_whole_seconds() {
        let error = ApiError::from(DomainError::RateLimited { retry_after: Duration::from_millis(1200) });
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("2"));
    }
}
