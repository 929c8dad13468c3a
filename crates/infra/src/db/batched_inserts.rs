//! Concurrent sends share one INSERT statement.
//!
//! Under load many chats insert at the same moment (one row per chat at a time: the per-chat turn in
//! the send use-case sees to that). Each pays a statement's parsing, planning, round trip and commit;
//! gathered into one multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING`, they pay once. When a send
//! finds nobody to share with, it goes alone at once, so light load waits for nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use domain::message::{HistoryQuery, InsertOutcome, Message, MessageRepository, NewMessage};
use domain::{ChatId, DomainError, MessageId, UserId};
use sea_orm::{DatabaseConnection, EntityTrait, Value};
use tokio::sync::{Semaphore, mpsc, oneshot};
use uuid::Uuid;

use super::entities::messages;
use super::error::unexpected;
use super::messages::{MAX_STAMP_AGE, SeaMessageRepository};
use super::sql::statement;

/// Rows per statement at most (5 parameters each, far below either database's limit).
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
        tokio::spawn(gather(db, inner.clone(), pending));
        Self { inner, queue }
    }
}

async fn gather(db: DatabaseConnection, inner: Arc<SeaMessageRepository>, mut pending: mpsc::Receiver<Pending>) {
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
        let (db, inner) = (db.clone(), inner.clone());
        tokio::spawn(async move {
            flush(&db, &inner, batch).await;
            drop(slot);
        });
    }
}

async fn flush(db: &DatabaseConnection, inner: &SeaMessageRepository, batch: Vec<Pending>) {
    let batch = refuse_stale(batch);
    if batch.is_empty() {
        return;
    }
    match insert_rows(db, &batch).await {
        Ok(mut inserted) => {
            for pending in batch {
                let key = (pending.message.sender_id.0, pending.message.client_id);
                let outcome = match inserted.remove(&key) {
                    Some(row) => Ok(InsertOutcome::Inserted(row.into())),
                    // Someone had used this key before (or earlier in this very batch).
                    None => existing(inner, pending.message.sender_id, pending.message.client_id).await,
                };
                let _ = pending.reply.send(outcome);
            }
        }
        Err(error) => {
            // One bad row (its chat deleted meanwhile, say) must not fail its neighbours: go one by one.
            tracing::warn!(%error, rows = batch.len(), "batched insert failed; inserting one by one");
            for pending in batch {
                let _ = pending.reply.send(inner.insert_idempotent(pending.message).await);
            }
        }
    }
}

/// Sends that waited too long for their INSERT are refused before it (see [`MAX_STAMP_AGE`]): the
/// sender retries with the same client_id and gets a fresh timestamp.
fn refuse_stale(batch: Vec<Pending>) -> Vec<Pending> {
    let oldest_allowed = Utc::now() - MAX_STAMP_AGE;
    let (fresh, stale): (Vec<_>, Vec<_>) = batch.into_iter().partition(|p| p.message.timestamp >= oldest_allowed);
    if !stale.is_empty() {
        tracing::warn!(rows = stale.len(), "sends waited too long for the database; refused for a retry");
    }
    for pending in stale {
        let _ = pending.reply.send(Err(DomainError::RateLimited { retry_after: Duration::from_secs(1) }));
    }
    fresh
}

async fn existing(inner: &SeaMessageRepository, sender: UserId, client_id: Uuid) -> Result<InsertOutcome, DomainError> {
    inner
        .find_by_client_id(sender, client_id)
        .await?
        .map(InsertOutcome::Existing)
        .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("conflicting message vanished")))
}

async fn insert_rows(
    db: &DatabaseConnection,
    batch: &[Pending],
) -> Result<HashMap<(i64, Uuid), messages::Model>, DomainError> {
    let mut sql = String::from("INSERT INTO messages (chat_id, sender_id, text, timestamp, read, client_id) VALUES ");
    let mut values: Vec<Value> = Vec::with_capacity(batch.len() * 5);
    for (i, pending) in batch.iter().enumerate() {
        let n = i * 5;
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&format!("(${}, ${}, ${}, ${}, FALSE, ${})", n + 1, n + 2, n + 3, n + 4, n + 5));
        let m = &pending.message;
        values.extend([
            m.chat_id.0.into(),
            m.sender_id.0.into(),
            m.text.as_str().to_owned().into(),
            m.timestamp.into(),
            m.client_id.into(),
        ]);
    }
    sql.push_str(
        " ON CONFLICT (sender_id, client_id) DO NOTHING RETURNING id, chat_id, sender_id, text, timestamp, read, client_id",
    );
    let rows = messages::Entity::find().from_raw_sql(statement(db, &sql, values)).all(db).await.map_err(unexpected)?;
    Ok(rows.into_iter().filter_map(|row| Some(((row.sender_id, row.client_id?), row))).collect())
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
}
