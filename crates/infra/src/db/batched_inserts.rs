//! Concurrent sends share one statement.
//!
//! Under load many chats insert at the same moment (one row per chat at a time: the per-chat turn in
//! the send use-case sees to that). Each would pay a statement's round trip and commit; gathered into one
//! batch (see [`super::store_messages`]), they pay once. When a send finds nobody to share with, it goes
//! alone at once, so light load waits for nothing.
//!
//! A batch locks the rows of its chats until it commits (that is what numbers their messages). Batches
//! in flight together never share a chat: the per-chat turn lets one group of sends per chat at a time
//! reach this repository, and a group is never split, so they never wait for each other's locks (only
//! for another instance's, on the same chat).

use std::sync::Arc;

use async_trait::async_trait;
use domain::message::{HistoryQuery, InsertOutcome, Message, MessageRepository, MessageText, NewMessage, SearchQuery};
use domain::{ChatId, DomainError, MessageId, UserId};
use sea_orm::DatabaseConnection;
use tokio::sync::{Semaphore, mpsc, oneshot};
use uuid::Uuid;

use super::messages::SeaMessageRepository;
use super::store_messages::store;

/// Rows per statement at most, unless one group is larger (8 parameters a row on SQLite, far below its
/// limit).
pub const MAX_BATCH: usize = 256;
/// Statements in flight at once; the rest of the pool serves reads.
const PARALLEL_BATCHES: usize = 4;

/// Messages that must go in one statement (one chat's turn), and whom to answer.
struct Pending {
    messages: Vec<NewMessage>,
    reply: oneshot::Sender<Vec<Result<InsertOutcome, DomainError>>>,
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
    // A group that did not fit the previous batch starts the next one, whole.
    let mut held: Option<Pending> = None;
    loop {
        let first = match held.take() {
            Some(group) => group,
            None => match pending.recv().await {
                Some(group) => group,
                None => return,
            },
        };
        // Waiting for a free slot is what lets a batch grow while the others are in flight.
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let mut rows = first.messages.len();
        let mut batch = vec![first];
        while rows < MAX_BATCH {
            match pending.try_recv() {
                Ok(next) if rows + next.messages.len() <= MAX_BATCH => {
                    rows += next.messages.len();
                    batch.push(next);
                }
                Ok(next) => {
                    held = Some(next);
                    break;
                }
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
    let sizes: Vec<usize> = batch.iter().map(|p| p.messages.len()).collect();
    let (groups, replies): (Vec<Vec<NewMessage>>, Vec<_>) = batch.into_iter().map(|p| (p.messages, p.reply)).unzip();
    let messages: Vec<NewMessage> = groups.into_iter().flatten().collect();
    let mut outcomes = store(db, &messages).await.into_iter();
    for (reply, size) in replies.into_iter().zip(sizes) {
        // A waiter that gave up is fine: its senders retry with the same client_ids.
        let _ = reply.send(outcomes.by_ref().take(size).collect());
    }
}

#[async_trait]
impl MessageRepository for BatchedMessageRepository {
    async fn insert_idempotent(&self, message: NewMessage) -> Result<InsertOutcome, DomainError> {
        self.insert_batch(vec![message]).await.pop().unwrap_or_else(|| Err(batcher_failed("answered nothing")))
    }

    async fn insert_batch(&self, messages: Vec<NewMessage>) -> Vec<Result<InsertOutcome, DomainError>> {
        let count = messages.len();
        let (reply, answer) = oneshot::channel();
        if self.queue.send(Pending { messages, reply }).await.is_err() {
            return (0..count).map(|_| Err(batcher_failed("stopped"))).collect();
        }
        match answer.await {
            Ok(outcomes) if outcomes.len() == count => outcomes,
            _ => (0..count).map(|_| Err(batcher_failed("dropped a group"))).collect(),
        }
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

fn batcher_failed(what: &str) -> DomainError {
    DomainError::Unexpected(anyhow::anyhow!("the insert batcher {what}"))
}
