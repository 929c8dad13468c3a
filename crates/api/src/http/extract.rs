//! Extractors: the bearer-token user, the client's origin for the sign-in limits, and error handlers
//! that turn actix's parse failures into the contract's `bad_request` body.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError, UrlencodedError};
use actix_web::{FromRequest, HttpRequest, web};
use domain::rate_limit::AttemptOrigin;
use domain::{DomainError, UserId};
use futures_util::future::LocalBoxFuture;

use crate::error::ApiError;
use crate::state::Services;
use crate::wire::bearer_token;

/// The caller, from `Authorization: Bearer <token>`, whose account exists. Taking it draws one token
/// from the caller's request budget.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub UserId);

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

async fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    let services = req
        .app_data::<web::Data<Services>>()
        .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("services are not registered")))?;
    let token = bearer_token(req).ok_or(DomainError::Unauthorized)?;
    let user = services.auth.authenticate(token).await?;
    tracing::Span::current().record("user_id", user.0);
    services.admit_request(user)?;
    Ok(AuthUser(user))
}

/// Where an unauthenticated request comes from: the peer's address. Behind a reverse proxy that is
/// the proxy's; forwarded-for headers are not trusted, since any client can write them.
#[derive(Debug, Clone)]
pub struct ClientOrigin(pub AttemptOrigin);

impl FromRequest for ClientOrigin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self(AttemptOrigin { address: req.peer_addr().map(|peer| peer.ip()) })))
    }
}

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().limit(64 * 1024).error_handler(|error, _| {
        let error = match &error {
            JsonPayloadError::ContentType => {
                ApiError::BadRequest("expected a JSON body (content-type: application/json)".to_owned())
            }
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                ApiError::PayloadTooLarge("the body is larger than 64 KiB".to_owned())
            }
            other => ApiError::BadRequest(format!("invalid JSON body: {other}")),
        };
        error.into()
    })
}

pub fn form_config() -> web::FormConfig {
    web::FormConfig::default().limit(16 * 1024).error_handler(|error: UrlencodedError, _| {
        let error = match &error {
            UrlencodedError::Overflow { .. } => ApiError::PayloadTooLarge("the form is larger than 16 KiB".to_owned()),
            other => ApiError::BadRequest(format!("invalid form body: {other}")),
        };
        error.into()
    })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|error: QueryPayloadError, _| ApiError::BadRequest(format!("invalid query: {error}")).into())
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|error: PathError, _| ApiError::BadRequest(format!("invalid path: {error}")).into())
}
