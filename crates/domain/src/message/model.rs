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
    /// Microsecond precision; within a chat it never goes backwards as ids grow.
    pub timestamp: DateTime<Utc>,
    /// True once every member other than the sender has read it; never goes back to false.
    pub read: bool,
    /// The sender's deduplication key; `None` only for seeded messages.
    pub client_id: Option<Uuid>,
}

/// What a send stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub chat_id: ChatId,
    pub sender_id: UserId,
    pub text: MessageText,
    pub client_id: Uuid,
    pub timestamp: DateTime<Utc>,
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
