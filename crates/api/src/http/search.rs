//! Message search.

use actix_web::{HttpResponse, get, web};
use app::SearchRequest;
use domain::{ChatId, MessageId};
use serde::Deserialize;
use utoipa::IntoParams;

use super::dto::MessageDto;
use super::extract::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::state::Services;

#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchParams {
    /// Words to find, each as the beginning of a word of the message (case-insensitive; a word is a run
    /// of letters and digits). At most 256 characters and 16 words; no control characters.
    #[param(min_length = 1, max_length = 256, pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$")]
    q: String,
    /// Only this chat (the caller must be a member).
    #[param(minimum = 1)]
    chat_id: Option<i64>,
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// Only messages with a smaller id (the next page: the last id of the previous one).
    #[param(minimum = 1)]
    before_id: Option<i64>,
}

/// Messages holding every word of `q`, newest first, in the caller's chats. Deleted messages never match.
#[utoipa::path(tag = "messages", security(("bearer" = [])), params(SearchParams), responses(
    (status = 200, body = [MessageDto]),
    (status = 403, description = "chat_id names a chat the caller is not in", body = ErrorBody),
    (status = 404, description = "chat_id names no chat", body = ErrorBody),
    (status = 422, description = "q without a letter or digit, too long or with too many words; limit out of 1..=100", body = ErrorBody),
))]
#[get("/search/messages")]
pub async fn messages(
    services: web::Data<Services>,
    user: AuthUser,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let request = SearchRequest {
        q: &params.q,
        chat: params.chat_id.map(ChatId),
        before: params.before_id.map(MessageId),
        limit: params.limit,
    };
    let found = services.search.search(user.0, request).await?;
    Ok(HttpResponse::Ok().json(found.into_iter().map(MessageDto::from).collect::<Vec<_>>()))
}
