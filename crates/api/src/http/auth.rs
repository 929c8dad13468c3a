//! Registration, sign-in (password and refresh grants) and logout.

use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, post, web};
use domain::session::RefreshToken;

use super::dto::{LogoutRequest, RegisterRequest, TokenDto, TokenForm, TokenJson, UserDto};
use super::extract::{ClientOrigin, Json};
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
        (status = 429, description = "Too many attempts from this address or for this email; see Retry-After",
            body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
#[post("/auth/register")]
pub async fn register(
    services: web::Data<Services>,
    origin: ClientOrigin,
    body: Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = services.auth.register(&body.name, &body.email, &body.password, &origin.0).await?;
    Ok(HttpResponse::Created().json(UserDto::from(user)))
}

/// What a token request asks for, whichever way it was written.
enum Grant {
    Password { email: String, password: String },
    Refresh(RefreshToken),
}

fn required(field: Option<String>, name: &str, grant: &str) -> Result<String, ApiError> {
    field.ok_or_else(|| ApiError::BadRequest(format!("the {grant} grant needs `{name}`")))
}

impl Grant {
    fn parse(
        grant_type: Option<&str>,
        email: (Option<String>, &str),
        password: Option<String>,
        refresh_token: Option<String>,
    ) -> Result<Self, ApiError> {
        match grant_type {
            None | Some("password") => Ok(Self::Password {
                email: required(email.0, email.1, "password")?,
                password: required(password, "password", "password")?,
            }),
            Some("refresh_token") => {
                Ok(Self::Refresh(RefreshToken::new(required(refresh_token, "refresh_token", "refresh_token")?)))
            }
            Some(_) => Err(ApiError::BadRequest("grant_type must be \"password\" or \"refresh_token\"".into())),
        }
    }
}

/// Sign in or refresh. The OAuth2 password grant (form-encoded `username`=email and `password`) or
/// JSON `{"email", "password"}` opens a session; the refresh grant (`grant_type=refresh_token` and
/// `refresh_token`) exchanges a refresh token for a new access token and a new refresh token.
#[utoipa::path(
    tag = "auth",
    request_body(
        description = "The password grant or the refresh grant",
        content(
            (TokenForm = "application/x-www-form-urlencoded"),
            (TokenJson = "application/json"),
        ),
    ),
    responses(
        (status = 200, description = "An access token and a refresh token", body = TokenDto),
        (status = 400, description = "Malformed body, missing field or unknown grant_type", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: wrong email or password; `unauthorized`: a bad, expired, \
            used or revoked refresh token", body = ErrorBody),
        (status = 422, description = "A control character in the email or password", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address or for this email; see Retry-After",
            body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
#[post("/auth/token")]
pub async fn token(
    req: HttpRequest,
    services: web::Data<Services>,
    origin: ClientOrigin,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    // The body's type decides how it is read, so that each kind keeps its own limit and errors (413 for
    // a body over the limit, 400 naming the missing field) instead of the last one tried.
    let mut payload = payload.into_inner();
    let content_type = req.content_type();
    let json = content_type == "application/json" || content_type.ends_with("+json");
    let grant = if json {
        let json = Json::<TokenJson>::from_request(&req, &mut payload).await?.into_inner();
        Grant::parse(json.grant_type.as_deref(), (json.email, "email"), json.password, json.refresh_token)?
    } else {
        let form = web::Form::<TokenForm>::from_request(&req, &mut payload).await?.into_inner();
        Grant::parse(form.grant_type.as_deref(), (form.username, "username"), form.password, form.refresh_token)?
    };
    let tokens = match grant {
        Grant::Password { email, password } => services.auth.sign_in(&email, &password, &origin.0).await,
        Grant::Refresh(token) => services.auth.refresh(&token, &origin.0).await,
    }
    .map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(TokenDto::from(tokens)))
}

/// Sign out: ends the session of this refresh token (its access tokens stay valid until they expire).
/// Needs no Authorization, and answers the same whether or not the token was known.
#[utoipa::path(
    tag = "auth",
    request_body = LogoutRequest,
    responses(
        (status = 204, description = "The session is over (or there was none)"),
        (status = 400, description = "Malformed body", body = ErrorBody),
    )
)]
#[post("/auth/logout")]
pub async fn logout(services: web::Data<Services>, body: Json<LogoutRequest>) -> Result<HttpResponse, ApiError> {
    services.auth.log_out(&RefreshToken::new(body.into_inner().refresh_token)).await?;
    Ok(HttpResponse::NoContent().finish())
}
