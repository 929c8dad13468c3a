use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::values::MessageText;
use crate::ids::{ChatId, MessageId, UserId};

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub chat_id: ChatId,
    pub sender_id: UserId,
    pub text: String,
    /// Its position in its chat: 1, 2, 3, … with no gap and no repeat, assigned when it is stored.
    pub seq: i64,
    /// The chat's version at this message's last change: its creation, an edit or its deletion.
    pub version: i64,
    /// Stamped by the store, microsecond precision; never decreases along `seq`.
    pub timestamp: DateTime<Utc>,
    /// True once every member other than the sender has read it; never goes back to false.
    pub read: bool,
    /// The sender's deduplication key; `None` only for seeded messages.
    pub client_id: Option<Uuid>,
    /// When the sender last changed its text; `None` until then.
    pub edited_at: Option<DateTime<Utc>>,
    /// A deleted message stays in its place as a tombstone: same id and seq, empty text.
    pub deleted: bool,
    /// The message of the same chat this one answers.
    pub reply_to: Option<MessageId>,
}

impl Message {
    /// Whether the text is still what was sent (a retry of the send can then be checked against it).
    pub fn is_as_sent(&self) -> bool {
        self.edited_at.is_none() && !self.deleted
    }
}

/// What a send stores. The store assigns its id, seq, version and timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub chat_id: ChatId,
    pub sender_id: UserId,
    pub text: MessageText,
    pub client_id: Uuid,
    pub reply_to: Option<MessageId>,
}

/// The answer of an idempotent insert: the unique `(sender_id, client_id)` decides which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    /// This call stored the message.
    Inserted(Message),
    /// The sender had already used this `client_id`; here is what it stored then.
    Existing(Message),
}

/// Some of `sender_id`'s messages in `chat_id` have just become read by every other member; all of its
/// messages up to `up_to` are now read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadByAll {
    pub chat_id: ChatId,
    pub sender_id: UserId,
    pub up_to: MessageId,
}
