//! Extractors: the bearer-token user, and error handlers that turn actix's parse failures into the
//! contract's `bad_request` body.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError, UrlencodedError};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use domain::{DomainError, UserId};

use crate::error::ApiError;
use crate::state::Services;
use crate::wire::bearer_token;

/// The caller, from `Authorization: Bearer <token>`. Taking it draws one token from the caller's
/// request budget.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub UserId);

/// Recorded on the request so that the access log can name the user.
#[derive(Debug, Clone, Copy)]
pub struct LoggedUser(pub UserId);

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    let services = req
        .app_data::<web::Data<Services>>()
        .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("services are not registered")))?;
    let token = bearer_token(req).ok_or(DomainError::Unauthorized)?;
    let user = services.auth.authenticate(token)?;
    req.extensions_mut().insert(LoggedUser(user));
    tracing::Span::current().record("user_id", user.0);
    services.admit_request(user)?;
    Ok(AuthUser(user))
}

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().limit(64 * 1024).error_handler(|error, _| {
        let message = match &error {
            JsonPayloadError::ContentType => "expected a JSON body (content-type: application/json)".to_owned(),
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                "the body is larger than 64 KiB".to_owned()
            }
            other => format!("invalid JSON body: {other}"),
        };
        ApiError::BadRequest(message).into()
    })
}

pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(16 * 1024)
        .error_handler(|error: UrlencodedError, _| ApiError::BadRequest(format!("invalid form body: {error}")).into())
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|error: QueryPayloadError, _| ApiError::BadRequest(format!("invalid query: {error}")).into())
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|error: PathError, _| ApiError::BadRequest(format!("invalid path: {error}")).into())
}
