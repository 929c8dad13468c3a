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

/// A JSON body, read under [`json_config`]'s limit and errors. A number with a zero fraction (`7.0`) is
/// accepted where an integer is expected: JSON Schema, which the OpenAPI document speaks, counts it as an
/// integer, and a client's JSON library may well write it so.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let value = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let mut value = value.await?.into_inner();
            integral_numbers_as_integers(&mut value);
            serde_json::from_value(value)
                .map(Json)
                .map_err(|error| ApiError::BadRequest(format!("invalid JSON body: {error}")).into())
        })
    }
}

/// Rewrites `7.0` as `7` throughout, as long as it fits an `i64`.
fn integral_numbers_as_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(number) => {
            if let Some(float) = number.as_f64().filter(|_| !number.is_i64() && !number.is_u64())
                && float.fract() == 0.0
                && (-9.2e18..=9.2e18).contains(&float)
            {
                #[allow(clippy::cast_possible_truncation)]
                let integer = float as i64;
                *number = integer.into();
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_numbers_as_integers),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(integral_numbers_as_integers),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_numbers_become_integers_and_others_stay() {
        let mut value = serde_json::json!({"a": 7.0, "b": [1.5, -2.0], "c": 1e300, "d": "3.0"});
        integral_numbers_as_integers(&mut value);
        assert_eq!(value, serde_json::json!({"a": 7, "b": [1.5, -2], "c": 1e300, "d": "3.0"}));
    }
}
