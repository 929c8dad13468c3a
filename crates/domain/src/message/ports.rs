use async_trait::async_trait;
use uuid::Uuid;

use super::model::{InsertOutcome, Message, NewMessage, ReadByAll};
use super::values::HistoryQuery;
use crate::error::DomainError;
use crate::ids::{ChatId, MessageId, UserId};

/// Where messages live.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait MessageRepository: Send + Sync {
    /// Stores the message unless its sender already used its `client_id`, in which case the original is
    /// returned. MUST rely on the store's unique `(sender_id, client_id)`, so that any number of
    /// concurrent calls, from any number of processes, store exactly one row.
    async fn insert_idempotent(&self, message: NewMessage) -> Result<InsertOutcome, DomainError>;

    /// The message `sender` stored with `client_id`, if any.
    async fn find_by_client_id(&self, sender: UserId, client_id: Uuid) -> Result<Option<Message>, DomainError>;

    /// A page of the chat's history, see [`HistoryQuery`].
    async fn history(&self, chat: ChatId, query: HistoryQuery) -> Result<Vec<Message>, DomainError>;

    /// The chat's messages whose version is above `version`, in version order, at most `limit` of them:
    /// what changed in the chat since a client held `version`.
    async fn changed_since(&self, chat: ChatId, version: i64, limit: u32) -> Result<Vec<Message>, DomainError>;

    /// The newest `per_chat` messages of each of `chats`, ascending by seq within a chat, in one statement.
    async fn newest_of(&self, chats: Vec<ChatId>, per_chat: u32) -> Result<Vec<Message>, DomainError>;

    /// The chat a message belongs to, or `None` when there is no such message.
    async fn chat_of(&self, message: MessageId) -> Result<Option<ChatId>, DomainError>;
}

/// Read pointers and the per-message `read` flag.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ReceiptRepository: Send + Sync {
    /// Moves `reader`'s pointer in `chat` forward to `up_to`, advancing the chat's version in the same
    /// transaction; `false` (and no change) when the pointer is already at or beyond it. Never moves a
    /// pointer back, whatever the concurrency.
    async fn advance_read_pointer(&self, chat: ChatId, reader: UserId, up_to: MessageId) -> Result<bool, DomainError>;

    /// Flips `read` on the chat's messages (up to `up_to` when given) that every member other than their
    /// sender has now read, in one set-wise statement, and tells which senders were affected and the
    /// highest message flipped for each. Each message is flipped, and so reported, exactly once.
    async fn mark_read_by_all(&self, chat: ChatId, up_to: Option<MessageId>) -> Result<Vec<ReadByAll>, DomainError>;
}
