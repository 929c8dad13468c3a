//! Registration and sign-in.

use actix_web::{HttpResponse, post, web};

use super::dto::{RegisterRequest, TokenDto, TokenForm, TokenJson, UserDto};
use crate::error::{ApiError, ErrorBody};
use crate::state::Services;

/// Register a user.
#[utoipa::path(
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered", body = UserDto),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 409, description = "Email already registered", body = ErrorBody),
        (status = 422, description = "Invalid name, email or password", body = ErrorBody),
    )
)]
#[post("/auth/register")]
pub async fn register(
    services: web::Data<Services>,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = services.auth.register(&body.name, &body.email, &body.password).await?;
    Ok(HttpResponse::Created().json(UserDto::from(user)))
}

/// Sign in: the OAuth2 password grant (form-encoded `username`=email and `password`), or JSON
/// `{"email", "password"}`.
#[utoipa::path(
    tag = "auth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A bearer token", body = TokenDto),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Wrong email or password", body = ErrorBody),
    )
)]
#[post("/auth/token")]
pub async fn token(
    services: web::Data<Services>,
    body: web::Either<web::Json<TokenJson>, web::Form<TokenForm>>,
) -> Result<HttpResponse, ApiError> {
    let (email, password) = match body {
        web::Either::Left(json) => {
            let json = json.into_inner();
            (json.email, json.password)
        }
        web::Either::Right(form) => {
            let form = form.into_inner();
            if form.grant_type.as_deref().is_some_and(|g| g != "password") {
                return Err(ApiError::BadRequest("grant_type must be \"password\"".into()));
            }
            (form.username, form.password)
        }
    };
    let token = services.auth.sign_in(&email, &password).await?;
    Ok(HttpResponse::Ok().json(TokenDto::from(token)))
}
