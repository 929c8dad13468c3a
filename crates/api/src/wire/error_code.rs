//! The contract's error codes, each with its HTTP status; WebSocket `error` frames use the same codes.

use actix_web::http::StatusCode;
use domain::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    InvalidCredentials,
    Forbidden,
    NotFound,
    EmailTaken,
    Conflict,
    InvalidInput,
    RateLimited,
    MethodNotAllowed,
    PayloadTooLarge,
    Unavailable,
    Internal,
}

const INTERNAL_MESSAGE: &str = "internal error; it has been logged";

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::EmailTaken => "email_taken",
            Self::Conflict => "conflict",
            Self::InvalidInput => "invalid_input",
            Self::RateLimited => "rate_limited",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::EmailTaken | Self::Conflict => StatusCode::CONFLICT,
            Self::InvalidInput => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The code and a message safe to show for a domain error; logs what must not be shown.
    pub fn of(error: &DomainError) -> (Self, String) {
        let code = match error {
            DomainError::InvalidInput(_) => Self::InvalidInput,
            DomainError::NotFound(_) => Self::NotFound,
            DomainError::Forbidden(_) => Self::Forbidden,
            DomainError::Unauthorized => Self::Unauthorized,
            DomainError::InvalidCredentials => Self::InvalidCredentials,
            DomainError::EmailTaken => Self::EmailTaken,
            DomainError::Conflict(_) => Self::Conflict,
            DomainError::RateLimited { .. } => Self::RateLimited,
            DomainError::Unavailable { .. } => Self::Unavailable,
            DomainError::Unexpected(cause) => {
                tracing::error!(error = ?cause, "unexpected failure");
                return (Self::Internal, INTERNAL_MESSAGE.to_owned());
            }
        };
        (code, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_contract_status() {
        assert_eq!(ErrorCode::Unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(ErrorCode::InvalidInput.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let (code, message) = ErrorCode::of(&DomainError::Unexpected(anyhow::anyhow!("SELECT secret")));
        assert_eq!(code, ErrorCode::Internal);
        assert!(!message.contains("SELECT"));
    }
}
