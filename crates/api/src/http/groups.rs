//! Groups and their members.

use actix_web::{HttpResponse, delete, post, web};
use domain::{ChatId, UserId};

use super::dto::{ChatDto, GroupRequest, MemberRequest};
use super::extract::{AuthUser, Json};
use crate::error::{ApiError, ErrorBody};
use crate::state::Services;

/// Create a group; the caller is its creator and first member.
#[utoipa::path(tag = "groups", security(("bearer" = [])), request_body = GroupRequest, responses(
    (status = 201, body = ChatDto),
    (status = 404, description = "A member does not exist", body = ErrorBody),
    (status = 422, description = "Invalid name", body = ErrorBody),
))]
#[post("/groups")]
pub async fn create(
    services: web::Data<Services>,
    user: AuthUser,
    body: Json<GroupRequest>,
) -> Result<HttpResponse, ApiError> {
    let members: Vec<UserId> = body.member_ids.iter().copied().map(UserId).collect();
    let chat = services.chats.create_group(user.0, &body.name, &members).await?;
    Ok(HttpResponse::Created().json(ChatDto::for_viewer(chat, user.0)))
}

/// Add a member (the creator only). The newcomer's read pointer starts at the latest message.
#[utoipa::path(tag = "groups", security(("bearer" = [])), params(("chat_id" = i64, Path)), request_body = MemberRequest, responses(
    (status = 200, body = ChatDto),
    (status = 403, description = "Only the group's creator adds members", body = ErrorBody),
    (status = 404, description = "Unknown chat or user", body = ErrorBody),
    (status = 422, description = "A private chat (its members are fixed), or a group at its maximum of 10,000 members", body = ErrorBody),
))]
#[post("/groups/{chat_id}/members")]
pub async fn add_member(
    services: web::Data<Services>,
    user: AuthUser,
    chat_id: web::Path<i64>,
    body: Json<MemberRequest>,
) -> Result<HttpResponse, ApiError> {
    let chat = services.chats.add_member(user.0, ChatId(chat_id.into_inner()), UserId(body.user_id)).await?;
    Ok(HttpResponse::Ok().json(ChatDto::for_viewer(chat, user.0)))
}

/// Remove a member (the creator), or leave (a member removing itself). When the creator leaves, the
/// longest-standing member becomes creator.
#[utoipa::path(tag = "groups", security(("bearer" = [])), params(("chat_id" = i64, Path), ("user_id" = i64, Path)), responses(
    (status = 204),
    (status = 403, description = "Only the creator removes others; anybody may leave", body = ErrorBody),
    (status = 404, description = "Unknown chat, or the user is not a member", body = ErrorBody),
    (status = 422, description = "A private chat: its members are fixed", body = ErrorBody),
))]
#[delete("/groups/{chat_id}/members/{user_id}")]
pub async fn remove_member(
    services: web::Data<Services>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (chat, member) = path.into_inner();
    services.chats.remove_member(user.0, ChatId(chat), UserId(member)).await?;
    Ok(HttpResponse::NoContent().finish())
}
