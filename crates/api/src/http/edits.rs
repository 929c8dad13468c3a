//! Editing and deleting messages over REST (the WebSocket has the same as `edit` and `delete` frames).

use actix_web::{HttpResponse, delete, patch, web};
use domain::{ChatId, MessageId};

use super::dto::{EditRequest, MessageDto};
use super::extract::{AuthUser, Json};
use crate::error::{ApiError, ErrorBody};
use crate::state::Services;

/// Replace the text of one of the caller's messages. Every member's connections get `message_edited`.
#[utoipa::path(tag = "messages", security(("bearer" = [])), params(("chat_id" = i64, Path), ("message_id" = i64, Path)),
    request_body = EditRequest, responses(
    (status = 200, description = "The edited message, with `edited_at`", body = MessageDto),
    (status = 403, description = "Not a member, or not the message's sender", body = ErrorBody),
    (status = 404, description = "Unknown chat, or no such message in it (a deleted one included)", body = ErrorBody),
    (status = 422, description = "Empty or too long text", body = ErrorBody),
))]
#[patch("/chats/{chat_id}/messages/{message_id}")]
pub async fn edit(
    services: web::Data<Services>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
    body: Json<EditRequest>,
) -> Result<HttpResponse, ApiError> {
    let (chat, message) = path.into_inner();
    let edited = services.edits.edit(user.0, ChatId(chat), MessageId(message), &body.text, None).await?;
    Ok(HttpResponse::Ok().json(MessageDto::from(edited)))
}

/// Delete a message: the sender may, and a group's creator may delete any message of the group. It
/// stays in history as a tombstone (`deleted: true`, empty text); deleting it again changes nothing.
#[utoipa::path(tag = "messages", security(("bearer" = [])), params(("chat_id" = i64, Path), ("message_id" = i64, Path)), responses(
    (status = 204, description = "Deleted now or before"),
    (status = 403, description = "Not a member, or another member's message", body = ErrorBody),
    (status = 404, description = "Unknown chat, or no such message in it", body = ErrorBody),
))]
#[delete("/chats/{chat_id}/messages/{message_id}")]
pub async fn remove(
    services: web::Data<Services>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (chat, message) = path.into_inner();
    services.edits.delete(user.0, ChatId(chat), MessageId(message)).await?;
    Ok(HttpResponse::NoContent().finish())
}
