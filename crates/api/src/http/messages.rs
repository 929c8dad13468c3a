//! History, sending over REST and read receipts.

use actix_web::{HttpResponse, get, post, web};
use domain::message::{HistoryQuery, RawCursors};
use domain::{ChatId, MessageId};
use serde::Deserialize;
use utoipa::IntoParams;

use super::dto::{MessageDto, ReadRequest, SendRequest};
use super::extract::{AuthUser, Json};
use crate::error::{ApiError, ErrorBody};
use crate::metrics::Metrics;
use crate::state::Services;

#[derive(Debug, Deserialize, IntoParams)]
pub struct HistoryParams {
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// Messages to skip, default 0 (from the oldest; from the `before_*` cursor backwards when given).
    #[param(minimum = 0)]
    offset: Option<i64>,
    /// Only messages after this one (catch-up); within a chat ids grow with seq.
    #[param(minimum = 0)]
    after_id: Option<i64>,
    /// Only messages before this one, the page right before it (scrolling up). An extension.
    #[param(minimum = 0)]
    before_id: Option<i64>,
    /// Only messages with a greater seq (filling a gap after seq N: `after_seq=N`).
    #[param(minimum = 0)]
    after_seq: Option<i64>,
    /// Only messages with a smaller seq: the `limit` messages right before it.
    #[param(minimum = 0)]
    before_seq: Option<i64>,
}

/// A page of a chat's history, ascending by seq (which is timestamp order, ties by id); members only.
#[utoipa::path(tag = "messages", security(("bearer" = [])), params(("chat_id" = i64, Path), HistoryParams), responses(
    (status = 200, body = [MessageDto]),
    (status = 400, description = "A parameter of the wrong type", body = ErrorBody),
    (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody),
    (status = 422, description = "limit out of 1..=200, a negative offset or cursor, or two cursors on one side", body = ErrorBody),
    (status = 503, description = "The database did not answer in time; retry", body = ErrorBody),
))]
#[get("/history/{chat_id}")]
pub async fn history(
    services: web::Data<Services>,
    user: AuthUser,
    chat_id: web::Path<i64>,
    params: web::Query<HistoryParams>,
) -> Result<HttpResponse, ApiError> {
    let cursors = RawCursors {
        after_id: params.after_id,
        before_id: params.before_id,
        after_seq: params.after_seq,
        before_seq: params.before_seq,
    };
    let query = HistoryQuery::new(params.limit, params.offset, cursors)?;
    let messages = services.messages.history(user.0, ChatId(chat_id.into_inner()), query).await?;
    Ok(HttpResponse::Ok().json(messages.into_iter().map(MessageDto::from).collect::<Vec<_>>()))
}

/// Send a message. 201 when stored now; 200 with the original when this `client_id` was already
/// used by the caller (nothing stored, nothing broadcast).
#[utoipa::path(tag = "messages", security(("bearer" = [])), params(("chat_id" = i64, Path)), request_body = SendRequest, responses(
    (status = 201, description = "Stored and broadcast", body = MessageDto),
    (status = 200, description = "A repeat of an earlier send", body = MessageDto),
    (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody),
    (status = 409, description = "client_id used for another message", body = ErrorBody),
    (status = 422, description = "Empty or too long text, or a reply_to that is not a message of this chat", body = ErrorBody),
    (status = 429, body = ErrorBody),
    (status = 503, description = "Not stored in time (the database did not answer); retry with the same client_id", body = ErrorBody),
))]
#[post("/chats/{chat_id}/messages")]
pub async fn send(
    services: web::Data<Services>,
    metrics: web::Data<Metrics>,
    user: AuthUser,
    chat_id: web::Path<i64>,
    body: Json<SendRequest>,
) -> Result<HttpResponse, ApiError> {
    let sent = services
        .messages
        .send(user.0, ChatId(chat_id.into_inner()), &body.text, body.client_id, body.reply_to.map(MessageId), None)
        .await;
    metrics.rest_sends.record(&sent);
    let outcome = sent?;
    let mut response = if outcome.duplicate { HttpResponse::Ok() } else { HttpResponse::Created() };
    Ok(response.json(MessageDto::from(outcome.message)))
}

/// Mark every message of the chat up to `message_id` as read by the caller (a read pointer that
/// never moves back).
#[utoipa::path(tag = "messages", security(("bearer" = [])), params(("chat_id" = i64, Path)), request_body = ReadRequest, responses(
    (status = 204),
    (status = 403, body = ErrorBody),
    (status = 404, description = "Unknown chat, or a message not in this chat", body = ErrorBody),
))]
#[post("/chats/{chat_id}/read")]
pub async fn read(
    services: web::Data<Services>,
    user: AuthUser,
    chat_id: web::Path<i64>,
    body: Json<ReadRequest>,
) -> Result<HttpResponse, ApiError> {
    services.receipts.mark_read(user.0, ChatId(chat_id.into_inner()), MessageId(body.message_id), None).await?;
    Ok(HttpResponse::NoContent().finish())
}
