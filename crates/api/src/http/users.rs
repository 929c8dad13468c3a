//! The caller and user search.

use actix_web::{HttpResponse, get, web};
use domain::UserId;
use serde::Deserialize;
use utoipa::IntoParams;

use super::dto::{UserDto, UserPresenceDto};
use super::extract::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::state::Services;

/// The signed-in user.
#[utoipa::path(tag = "users", security(("bearer" = [])), responses(
    (status = 200, body = UserDto),
    (status = 401, body = ErrorBody),
))]
#[get("/users/me")]
pub async fn me(services: web::Data<Services>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(UserDto::from(services.users.me(user.0).await?)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchQuery {
    /// A substring of the name (case-insensitive), or a whole email (ignoring case); empty lists users by
    /// id. No control characters but newline and tab.
    #[param(max_length = 254, pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$")]
    q: Option<String>,
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// Find users by name, or by their exact email. Another user's `email` is in the answer only when `q`
/// is exactly that email; the caller's own always.
#[utoipa::path(tag = "users", security(("bearer" = [])), params(SearchQuery), responses(
    (status = 200, body = [UserDto]),
    (status = 401, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
#[get("/users")]
pub async fn search(
    services: web::Data<Services>,
    user: AuthUser,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let users = services.users.search(user.0, query.q.as_deref(), query.limit).await?;
    Ok(HttpResponse::Ok().json(users.into_iter().map(UserDto::from).collect::<Vec<_>>()))
}

/// A user with its presence: online, or when it was last seen. The caller itself, or a user it shares a
/// chat with; anyone else is 404.
#[utoipa::path(tag = "users", security(("bearer" = [])), params(("user_id" = i64, Path)), responses(
    (status = 200, body = UserPresenceDto),
    (status = 401, body = ErrorBody),
    (status = 404, description = "No such user, or one the caller shares no chat with", body = ErrorBody),
))]
#[get("/users/{user_id}")]
pub async fn presence(
    services: web::Data<Services>,
    user: AuthUser,
    target: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (found, presence) = services.presence.of(user.0, UserId(target.into_inner())).await?;
    Ok(HttpResponse::Ok().json(UserPresenceDto::new(user.0, found, presence)))
}
