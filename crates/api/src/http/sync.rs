//! `POST /sync`: everything that changed in the caller's chats since the versions its client holds.

use std::collections::HashMap;

use actix_web::{HttpResponse, post, web};
use app::sync::{ChatChanges, SyncAnswer};
use domain::{ChatId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};

use super::dto::{ChatSummaryDto, MessageDto};
use super::extract::{AuthUser, Json};
use crate::error::{ApiError, ErrorBody};
use crate::state::Services;

#[derive(Debug, Deserialize, ToSchema)]
pub struct SyncRequest {
    /// Chat id (as a string key) → the chat's version the client holds. Chats it does not know may be
    /// left out: they come back with their newest messages.
    #[schema(schema_with = held_versions, example = json!({"12": 40, "17": 3}))]
    pub chats: HashMap<String, i64>,
}

/// `{"<chat id>": <version>}`: keys are decimal chat ids, values versions (0 or more).
fn held_versions() -> ObjectBuilder {
    ObjectBuilder::new()
        .property_names(Some(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[0-9]{1,18}$"))))
        .additional_properties(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(0)),
        ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatChangesDto {
    pub chat: ChatSummaryDto,
    /// Messages changed since the version held, ascending by version (at most 200); for a chat that was
    /// not listed, its newest messages (at most 50) ascending by seq.
    pub messages: Vec<MessageDto>,
    /// More changed messages wait: call again holding the last message's `version` for this chat.
    pub more: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncAnswerDto {
    /// The chats that changed (or were not listed), most recent activity first.
    pub chats: Vec<ChatChangesDto>,
    /// Listed chats the caller no longer belongs to.
    pub removed: Vec<i64>,
}

impl SyncAnswerDto {
    fn for_viewer(answer: SyncAnswer, viewer: UserId) -> Self {
        Self {
            chats: answer
                .chats
                .into_iter()
                .map(|ChatChanges { summary, messages, more }| ChatChangesDto {
                    chat: ChatSummaryDto::for_viewer(summary, viewer),
                    messages: messages.into_iter().map(MessageDto::from).collect(),
                    more,
                })
                .collect(),
            removed: answer.removed.into_iter().map(|chat| chat.0).collect(),
        }
    }
}

/// Catch up in one request: for each of the caller's chats whose version is above the one held (or that
/// was not listed), its summary (with the members' read pointers) and the messages changed since; and the
/// listed chats the caller left. Clients call it after every (re)connect and on a `resync` frame.
#[utoipa::path(tag = "messages", security(("bearer" = [])), request_body = SyncRequest, responses(
    (status = 200, body = SyncAnswerDto),
    (status = 400, description = "Unparsable body, or a chat id that is not an integer", body = ErrorBody),
    (status = 401, body = ErrorBody),
    (status = 422, description = "A negative version or more than 10,000 listed chats", body = ErrorBody),
    (status = 429, body = ErrorBody),
    (status = 503, description = "The database did not answer in time; retry", body = ErrorBody),
))]
#[post("/sync")]
pub async fn sync(
    services: web::Data<Services>,
    user: AuthUser,
    body: Json<SyncRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut held = HashMap::with_capacity(body.chats.len());
    for (chat, version) in &body.chats {
        let chat: i64 =
            chat.parse().map_err(|_| ApiError::BadRequest(format!("chat ids are integers; got {chat:?}")))?;
        held.insert(ChatId(chat), *version);
    }
    let answer = services.sync.sync(user.0, &held).await?;
    Ok(HttpResponse::Ok().json(SyncAnswerDto::for_viewer(answer, user.0)))
}
