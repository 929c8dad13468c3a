//! Private chats, the chat list, one chat and its members.

use actix_web::{HttpResponse, get, post, web};
use domain::chat::MemberPageLimit;
use domain::{ChatId, DomainError, UserId};
use serde::Deserialize;
use utoipa::IntoParams;

use super::dto::{ChatDto, ChatSummaryDto, MemberDto, PrivateChatRequest};
use super::extract::{AuthUser, Json};
use crate::error::{ApiError, ErrorBody};
use crate::state::Services;

/// Open the private chat with a user: 201 when created, 200 with the existing one.
#[utoipa::path(tag = "chats", security(("bearer" = [])), request_body = PrivateChatRequest, responses(
    (status = 201, description = "Created", body = ChatDto),
    (status = 200, description = "Already existed", body = ChatDto),
    (status = 404, description = "Unknown user", body = ErrorBody),
    (status = 422, description = "A chat with yourself", body = ErrorBody),
))]
#[post("/chats/private")]
pub async fn open_private(
    services: web::Data<Services>,
    user: AuthUser,
    body: Json<PrivateChatRequest>,
) -> Result<HttpResponse, ApiError> {
    let (chat, created) = services.chats.open_private(user.0, UserId(body.user_id)).await?;
    let mut response = if created { HttpResponse::Created() } else { HttpResponse::Ok() };
    Ok(response.json(ChatDto::for_viewer(chat, user.0)))
}

/// The caller's chats with last message and unread count, most recent activity first.
#[utoipa::path(tag = "chats", security(("bearer" = [])), responses(
    (status = 200, body = [ChatSummaryDto]),
    (status = 401, body = ErrorBody),
))]
#[get("/chats")]
pub async fn list(services: web::Data<Services>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let summaries = services.chats.list(user.0).await?;
    Ok(HttpResponse::Ok()
        .json(summaries.into_iter().map(|s| ChatSummaryDto::for_viewer(s, user.0)).collect::<Vec<_>>()))
}

/// One chat with its members and their read pointers; members only.
#[utoipa::path(tag = "chats", security(("bearer" = [])), params(("chat_id" = i64, Path)), responses(
    (status = 200, body = ChatDto),
    (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
#[get("/chats/{chat_id}")]
pub async fn get(
    services: web::Data<Services>,
    user: AuthUser,
    chat_id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let chat = services.chats.get(user.0, ChatId(chat_id.into_inner())).await?;
    Ok(HttpResponse::Ok().json(ChatDto::for_viewer(chat, user.0)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct MembersParams {
    /// Only members with a larger user id (the next page: the last id of the previous one).
    #[param(minimum = 0)]
    after_id: Option<i64>,
    /// 1 to 1000, default 200.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// A page of the chat's members with their read pointers, by user id ascending; members only. How the
/// members of a group of more than 100 are listed (its Chat shows only the caller).
#[utoipa::path(tag = "chats", security(("bearer" = [])), params(("chat_id" = i64, Path), MembersParams), responses(
    (status = 200, body = [MemberDto]),
    (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody),
    (status = 422, description = "limit out of 1..=1000 or a negative after_id", body = ErrorBody),
))]
#[get("/chats/{chat_id}/members")]
pub async fn members(
    services: web::Data<Services>,
    user: AuthUser,
    chat_id: web::Path<i64>,
    params: web::Query<MembersParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = MemberPageLimit::or_default(params.limit)?;
    let after = match params.after_id {
        Some(id) if id < 0 => return Err(DomainError::invalid("after_id must not be negative").into()),
        after => after.map(UserId),
    };
    let page = services.chats.members(user.0, ChatId(chat_id.into_inner()), after, limit).await?;
    Ok(HttpResponse::Ok().json(page.into_iter().map(MemberDto::from).collect::<Vec<_>>()))
}
