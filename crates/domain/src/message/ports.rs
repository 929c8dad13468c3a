use async_trait::async_trait;
use uuid::Uuid;

use super::model::{InsertOutcome, Message, NewMessage, ReadByAll};
use super::search::SearchQuery;
use super::values::{HistoryQuery, MessageText};
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

    /// [`MessageRepository::insert_idempotent`] for several messages at once, in one statement: each
    /// chat's new messages take consecutive seqs in the order given. Answers one outcome per message, in
    /// order.
    async fn insert_batch(&self, batch: Vec<NewMessage>) -> Vec<Result<InsertOutcome, DomainError>>;

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

    /// The message `id` of `chat` (a tombstone too), or `None` when the chat holds no such message.
    async fn find(&self, chat: ChatId, id: MessageId) -> Result<Option<Message>, DomainError>;

    /// Replaces the text of a message that is not deleted, stamping `edited_at` and advancing the chat's
    /// version in the same transaction; `None` (and no change) when there is no such live message.
    async fn edit(&self, chat: ChatId, id: MessageId, text: MessageText) -> Result<Option<Message>, DomainError>;

    /// Turns a live message into its tombstone (empty text, out of search), advancing the chat's version
    /// in the same transaction; `None` (and no change) when there is no such live message, so that of
    /// two concurrent deletions exactly one gets the tombstone.
    async fn delete(&self, chat: ChatId, id: MessageId) -> Result<Option<Message>, DomainError>;

    /// Live messages matching every term, newest (highest id) first, in `query.chat` or else in every
    /// chat `member` belongs to.
    async fn search(&self, member: UserId, query: SearchQuery) -> Result<Vec<Message>, DomainError>;
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
