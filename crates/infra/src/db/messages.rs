use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use domain::message::{HistoryQuery, InsertOutcome, Message, MessageRepository, NewMessage};
use domain::{ChatId, DomainError, MessageId, UserId};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::entities::messages;
use super::error::unexpected;
use super::sql::statement;

pub struct SeaMessageRepository {
    db: DatabaseConnection,
}

impl SeaMessageRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// One round trip for the common case: the unique (sender_id, client_id) makes a repeated key insert
/// nothing, on any number of concurrent connections and instances, and RETURNING hands back the row.
const INSERT_SQL: &str = "INSERT INTO messages (chat_id, sender_id, text, timestamp, read, client_id)
    VALUES ($1, $2, $3, $4, FALSE, $5)
    ON CONFLICT (sender_id, client_id) DO NOTHING
    RETURNING id, chat_id, sender_id, text, timestamp, read, client_id";

/// How much older than the `after_id` anchor a later message of the chat may be. On one instance none
/// is: a chat's ids and timestamps grow together (the per-chat turn). Across instances a later id can
/// carry an earlier timestamp by the clock skew between them plus the time the send waited for its
/// INSERT, and that wait is capped by [`MAX_STAMP_AGE`]; the rest is room for clock skew.
const ANCHOR_SLACK: TimeDelta = TimeDelta::seconds(5);

/// A message stamped longer ago than this is not inserted (the sender is told to retry), which keeps
/// the promise [`ANCHOR_SLACK`] relies on even when the database stalls. Enforced by the batched
/// repository, the one the service is wired with.
pub(super) const MAX_STAMP_AGE: TimeDelta = TimeDelta::seconds(2);

impl SeaMessageRepository {
    /// The timestamp of `message` when it belongs to `chat`.
    async fn timestamp_of(&self, chat: ChatId, message: MessageId) -> Result<Option<DateTime<Utc>>, DomainError> {
        messages::Entity::find_by_id(message.0)
            .filter(messages::Column::ChatId.eq(chat.0))
            .select_only()
            .column(messages::Column::Timestamp)
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(unexpected)
    }
}

#[async_trait]
impl MessageRepository for SeaMessageRepository {
    #[tracing::instrument(skip_all, fields(chat_id = %message.chat_id, sender_id = %message.sender_id))]
    async fn insert_idempotent(&self, message: NewMessage) -> Result<InsertOutcome, DomainError> {
        let (sender, client_id) = (message.sender_id, message.client_id);
        let values = [
            message.chat_id.0.into(),
            message.sender_id.0.into(),
            message.text.into_inner().into(),
            message.timestamp.into(),
            client_id.into(),
        ];
        let inserted = messages::Entity::find()
            .from_raw_sql(statement(&self.db, INSERT_SQL, values))
            .one(&self.db)
            .await
            .map_err(unexpected)?;
        if let Some(row) = inserted {
            return Ok(InsertOutcome::Inserted(row.into()));
        }
        // The conflicting row is committed (the insert waited for it), so it is visible now.
        self.find_by_client_id(sender, client_id)
            .await?
            .map(InsertOutcome::Existing)
            .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("conflicting message vanished")))
    }

    #[tracing::instrument(skip(self))]
    async fn find_by_client_id(&self, sender: UserId, client_id: Uuid) -> Result<Option<Message>, DomainError> {
        let found = messages::Entity::find()
            .filter(messages::Column::SenderId.eq(sender.0))
            .filter(messages::Column::ClientId.eq(client_id))
            .one(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(found.map(Message::from))
    }

    #[tracing::instrument(skip(self))]
    async fn history(&self, chat: ChatId, query: HistoryQuery) -> Result<Vec<Message>, DomainError> {
        let mut select = messages::Entity::find().filter(messages::Column::ChatId.eq(chat.0));
        if let Some(after) = query.after_id {
            select = select.filter(messages::Column::Id.gt(after.0));
            // Ordered by timestamp, the planner would walk the chat from its first message and filter on
            // id. Messages after the anchor are (almost) never older than it, so a lower bound on timestamp
            // turns a catch-up into a short range scan. An unknown anchor gets no bound, only the id filter.
            if let Some(anchor) = self.timestamp_of(chat, after).await? {
                select = select.filter(messages::Column::Timestamp.gte(anchor - ANCHOR_SLACK));
            }
        }
        let backwards = query.before_id.is_some();
        if let Some(before) = query.before_id {
            select = select
                .filter(messages::Column::Id.lt(before.0))
                .order_by_desc(messages::Column::Timestamp)
                .order_by_desc(messages::Column::Id);
        } else {
            select = select.order_by_asc(messages::Column::Timestamp).order_by_asc(messages::Column::Id);
        }
        let mut rows =
            select.limit(u64::from(query.limit.get())).offset(query.offset).all(&self.db).await.map_err(unexpected)?;
        if backwards {
            rows.reverse();
        }
        Ok(rows.into_iter().map(Message::from).collect())
    }

    #[tracing::instrument(skip(self))]
    async fn chat_of(&self, message: MessageId) -> Result<Option<ChatId>, DomainError> {
        let chat: Option<i64> = messages::Entity::find_by_id(message.0)
            .select_only()
            .column(messages::Column::ChatId)
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(chat.map(ChatId))
    }
}
