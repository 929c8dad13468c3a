//! Private chats, the chat list and one chat.

use actix_web::{HttpResponse, get, post, web};
use domain::{ChatId, UserId};

use super::dto::{ChatDto, ChatSummaryDto, PrivateChatRequest};
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
