//! The Message object, the same in REST answers and WebSocket frames.

use domain::message::Message;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::timestamp;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageDto {
    pub id: i64,
    pub chat_id: i64,
    pub sender_id: i64,
    pub text: String,
    /// The message's position in its chat: 1, 2, 3, … with no gap. History order is seq order.
    pub seq: i64,
    /// The chat's version at this message's last change; `POST /sync` answers by version.
    pub version: i64,
    /// RFC 3339, UTC, microseconds, ending in `Z`.
    #[schema(example = "2026-11-25T10:15:02.123456Z")]
    pub timestamp: String,
    /// True once every member other than the sender has read it.
    pub read: bool,
    /// The sender's deduplication key; null only for seeded messages.
    pub client_id: Option<Uuid>,
    /// When the sender last edited the text (RFC 3339, UTC, microseconds); null until then.
    #[schema(example = json!(null))]
    pub edited_at: Option<String>,
    /// A deleted message keeps its id and seq, with an empty text.
    pub deleted: bool,
    /// The message of the same chat this one answers.
    pub reply_to: Option<i64>,
}

/// Frames borrow the message they carry; it is serialised once per broadcast, so one copy is cheap.
impl From<&Message> for MessageDto {
    fn from(m: &Message) -> Self {
        Self::from(m.clone())
    }
}

impl From<Message> for MessageDto {
    fn from(m: Message) -> Self {
        Self {
            id: m.id.0,
            chat_id: m.chat_id.0,
            sender_id: m.sender_id.0,
            seq: m.seq,
            version: m.version,
            timestamp: timestamp(m.timestamp),
            text: m.text,
            read: m.read,
            client_id: m.client_id,
            edited_at: m.edited_at.map(timestamp),
            deleted: m.deleted,
            reply_to: m.reply_to.map(|id| id.0),
        }
    }
}
