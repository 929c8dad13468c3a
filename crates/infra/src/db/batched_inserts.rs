//! Concurrent sends share one statement.
//!
//! Under load many chats insert at the same moment (one row per chat at a time: the per-chat turn in
//! the send use-case sees to that). Each would pay a statement's round trip and commit; gathered into one
//! batch (see [`super::store_messages`]), they pay once. When a send finds nobody to share with, it goes
//! alone at once, so light load waits for nothing.
//!
//! A batch locks the rows of its chats until it commits (that is what numbers their messages). Batches
//! in flight together never share a chat: the per-chat turn lets one send per chat at a time reach this
//! repository, so they never wait for each other's locks (only for another instance's, on the same chat).

use std::sync::Arc;

use async_trait::async_trait;
use domain::message::{HistoryQuery, InsertOutcome, Message, MessageRepository, MessageText, NewMessage, SearchQuery};
use domain::{ChatId, DomainError, MessageId, UserId};
use sea_orm::DatabaseConnection;
use tokio::sync::{Semaphore, mpsc, oneshot};
use uuid::Uuid;

use super::messages::SeaMessageRepository;
use super::store_messages::store;

/// Rows per statement at most (7 parameters each on SQLite, far below its limit).
const MAX_BATCH: usize = 256;
/// Statements in flight at once; the rest of the pool serves reads.
const PARALLEL_BATCHES: usize = 4;

struct Pending {
    message: NewMessage,
    reply: oneshot::Sender<Result<InsertOutcome, DomainError>>,
}

pub struct BatchedMessageRepository {
    inner: Arc<SeaMessageRepository>,
    queue: mpsc::Sender<Pending>,
}

impl BatchedMessageRepository {
    /// Starts the task that gathers and flushes batches; it ends when the repository is dropped.
    pub fn new(db: DatabaseConnection) -> Self {
        let inner = Arc::new(SeaMessageRepository::new(db.clone()));
        let (queue, pending) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(gather(db, pending));
        Self { inner, queue }
    }
}

async fn gather(db: DatabaseConnection, mut pending: mpsc::Receiver<Pending>) {
    let slots = Arc::new(Semaphore::new(PARALLEL_BATCHES));
    while let Some(first) = pending.recv().await {
        // Waiting for a free slot is what lets a batch grow while the others are in flight.
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match pending.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let db = db.clone();
        tokio::spawn(async move {
            flush(&db, batch).await;
            drop(slot);
        });
    }
}

async fn flush(db: &DatabaseConnection, batch: Vec<Pending>) {
    let (messages, replies): (Vec<NewMessage>, Vec<_>) = batch.into_iter().map(|p| (p.message, p.reply)).unzip();
    let outcomes = store(db, &messages).await;
    for (reply, outcome) in replies.into_iter().zip(outcomes) {
        // A waiter that gave up is fine: its sender retries with the same client_id.
        let _ = reply.send(outcome);
    }
}

#[async_trait]
impl MessageRepository for BatchedMessageRepository {
    async fn insert_idempotent(&self, message: NewMessage) -> Result<InsertOutcome, DomainError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { message, reply })
            .await
            .map_err(|_| DomainError::Unexpected(anyhow::anyhow!("the insert batcher stopped")))?;
        answer.await.map_err(|_| DomainError::Unexpected(anyhow::anyhow!("the insert batcher dropped a send")))?
    }

    async fn find_by_client_id(&self, sender: UserId, client_id: Uuid) -> Result<Option<Message>, DomainError> {
        self.inner.find_by_client_id(sender, client_id).await
    }

    async fn history(&self, chat: ChatId, query: HistoryQuery) -> Result<Vec<Message>, DomainError> {
        self.inner.history(chat, query).await
    }

    async fn chat_of(&self, message: MessageId) -> Result<Option<ChatId>, DomainError> {
        self.inner.chat_of(message).await
    }

    async fn changed_since(&self, chat: ChatId, version: i64, limit: u32) -> Result<Vec<Message>, DomainError> {
        self.inner.changed_since(chat, version, limit).await
    }

    async fn newest_of(&self, chats: Vec<ChatId>, per_chat: u32) -> Result<Vec<Message>, DomainError> {
        self.inner.newest_of(chats, per_chat).await
    }

    async fn find(&self, chat: ChatId, id: MessageId) -> Result<Option<Message>, DomainError> {
        self.inner.find(chat, id).await
    }

    async fn edit(&self, chat: ChatId, id: MessageId, text: MessageText) -> Result<Option<Message>, DomainError> {
        self.inner.edit(chat, id, text).await
    }

    async fn delete(&self, chat: ChatId, id: MessageId) -> Result<Option<Message>, DomainError> {
        self.inner.delete(chat, id).await
    }

    async fn search(&self, member: UserId, query: SearchQuery) -> Result<Vec<Message>, DomainError> {
        self.inner.search(member, query).await
    }
}
