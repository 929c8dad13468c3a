use async_trait::async_trait;
use domain::message::{Cursor, HistoryQuery, InsertOutcome, Message, MessageRepository, NewMessage};
use domain::{ChatId, DomainError, MessageId, UserId};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};
use uuid::Uuid;

use super::entities::messages;
use super::error::unexpected;
use super::sql::{chat_ids_param, ids_in_param, statement};
use super::store_messages;

pub struct SeaMessageRepository {
    db: DatabaseConnection,
}

impl SeaMessageRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// The seq a cursor stands for in `chat`; `None` when it names a message of another chat or none.
    async fn seq_of(&self, chat: ChatId, cursor: Cursor) -> Result<Option<i64>, DomainError> {
        match cursor {
            Cursor::Seq(seq) => Ok(Some(seq)),
            Cursor::Id(id) => messages::Entity::find_by_id(id.0)
                .filter(messages::Column::ChatId.eq(chat.0))
                .select_only()
                .column(messages::Column::Seq)
                .into_tuple()
                .one(&self.db)
                .await
                .map_err(unexpected),
        }
    }
}

/// Newest `$2` messages of each chat listed in `$1`, through the `(chat_id, seq)` index: a range from each chat's
/// `last_seq` down.
const NEWEST_SQL: &str = "SELECT m.* FROM messages m JOIN chats c ON c.id = m.chat_id
    WHERE m.chat_id IN ({ids}) AND m.seq > c.last_seq - $2
    ORDER BY m.chat_id, m.seq";

#[async_trait]
impl MessageRepository for SeaMessageRepository {
    #[tracing::instrument(skip_all, fields(chat_id = %message.chat_id, sender_id = %message.sender_id))]
    async fn insert_idempotent(&self, message: NewMessage) -> Result<InsertOutcome, DomainError> {
        store_messages::store(&self.db, std::slice::from_ref(&message))
            .await
            .pop()
            .unwrap_or_else(|| Err(DomainError::Unexpected(anyhow::anyhow!("no outcome for a stored message"))))
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
        let mut select: Select<messages::Entity> = messages::Entity::find().filter(messages::Column::ChatId.eq(chat.0));
        for (cursor, after) in [(query.after, true), (query.before, false)] {
            let Some(cursor) = cursor else { continue };
            select = match self.seq_of(chat, cursor).await? {
                Some(seq) if after => select.filter(messages::Column::Seq.gt(seq)),
                Some(seq) => select.filter(messages::Column::Seq.lt(seq)),
                // An id that is not a message of this chat keeps v1's meaning: ids above (or below) it.
                // Within a chat ids grow with seq, so the page is still a contiguous run of seqs.
                None => {
                    let id = match cursor {
                        Cursor::Id(id) => id.0,
                        Cursor::Seq(seq) => seq,
                    };
                    if after {
                        select.filter(messages::Column::Id.gt(id))
                    } else {
                        select.filter(messages::Column::Id.lt(id))
                    }
                }
            };
        }
        let backwards = query.before.is_some();
        select = if backwards {
            select.order_by_desc(messages::Column::Seq)
        } else {
            select.order_by_asc(messages::Column::Seq)
        };
        let mut rows =
            select.limit(u64::from(query.limit.get())).offset(query.offset).all(&self.db).await.map_err(unexpected)?;
        if backwards {
            rows.reverse();
        }
        Ok(rows.into_iter().map(Message::from).collect())
    }

    #[tracing::instrument(skip(self))]
    async fn changed_since(&self, chat: ChatId, version: i64, limit: u32) -> Result<Vec<Message>, DomainError> {
        let rows = messages::Entity::find()
            .filter(messages::Column::ChatId.eq(chat.0))
            .filter(messages::Column::Version.gt(version))
            .order_by_asc(messages::Column::Version)
            .limit(u64::from(limit))
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    #[tracing::instrument(skip(self, chats), fields(chats = chats.len()))]
    async fn newest_of(&self, chats: Vec<ChatId>, per_chat: u32) -> Result<Vec<Message>, DomainError> {
        if chats.is_empty() {
            return Ok(Vec::new());
        }
        let sql = NEWEST_SQL.replace("{ids}", &ids_in_param(self.db.get_database_backend(), 1));
        let values = [chat_ids_param(&chats), i64::from(per_chat).into()];
        let rows = messages::Entity::find()
            .from_raw_sql(statement(&self.db, &sql, values))
            .all(&self.db)
            .await
            .map_err(unexpected)?;
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
