use async_trait::async_trait;
use chrono::{DurationRound, TimeDelta, Utc};
use domain::message::{
    Cursor, HistoryQuery, InsertOutcome, Message, MessageRepository, MessageText, NewMessage, SearchQuery,
    search_document,
};
use domain::{ChatId, DomainError, MessageId, UserId};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Select, TransactionTrait, Value,
};
use uuid::Uuid;

use super::entities::messages;
use super::error::unexpected;
use super::sql::{chat_ids_param, ids_in_param, statement};
use super::store_messages::{self, COLUMNS, index_for_search};

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
const NEWEST_SQL: &str = "SELECT {columns} FROM messages m JOIN chats c ON c.id = m.chat_id
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

    #[tracing::instrument(skip_all, fields(messages = batch.len()))]
    async fn insert_batch(&self, batch: Vec<NewMessage>) -> Vec<Result<InsertOutcome, DomainError>> {
        store_messages::store(&self.db, &batch).await
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
        let sql = NEWEST_SQL
            .replace("{ids}", &ids_in_param(self.db.get_database_backend(), 1))
            .replace("{columns}", &qualified_columns("m"));
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

    #[tracing::instrument(skip(self))]
    async fn find(&self, chat: ChatId, id: MessageId) -> Result<Option<Message>, DomainError> {
        let found = messages::Entity::find_by_id(id.0)
            .filter(messages::Column::ChatId.eq(chat.0))
            .one(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(found.map(Message::from))
    }

    #[tracing::instrument(skip(self, text))]
    async fn edit(&self, chat: ChatId, id: MessageId, text: MessageText) -> Result<Option<Message>, DomainError> {
        let words = search_document(text.as_str());
        let edited_at = Utc::now().duration_trunc(TimeDelta::microseconds(1)).unwrap_or_else(|_| Utc::now());
        let change = Change {
            postgres: "UPDATE messages SET text = $3, edited_at = $4, version = $5,
                           search = array_to_tsvector(string_to_array($6, ' '))
                       WHERE id = $2 AND chat_id = $1 AND NOT deleted RETURNING {columns}",
            sqlite: "UPDATE messages SET text = $3, edited_at = $4, version = $5
                     WHERE id = $2 AND chat_id = $1 AND NOT deleted RETURNING {columns}",
            values: vec![text.into_inner().into(), edited_at.into()],
            words: Some(words),
        };
        self.change_message(chat, id, change).await
    }

    #[tracing::instrument(skip(self))]
    async fn delete(&self, chat: ChatId, id: MessageId) -> Result<Option<Message>, DomainError> {
        let change = Change {
            postgres: "UPDATE messages SET deleted = TRUE, text = '', search = NULL, version = $3
                       WHERE id = $2 AND chat_id = $1 AND NOT deleted RETURNING {columns}",
            sqlite: "UPDATE messages SET deleted = TRUE, text = '', version = $3
                     WHERE id = $2 AND chat_id = $1 AND NOT deleted RETURNING {columns}",
            values: Vec::new(),
            words: None,
        };
        self.change_message(chat, id, change).await
    }

    #[tracing::instrument(skip(self, query), fields(chat = ?query.chat, words = query.terms.words().len()))]
    async fn search(&self, member: UserId, query: SearchQuery) -> Result<Vec<Message>, DomainError> {
        let backend = self.db.get_database_backend();
        let mut values: Vec<Value> = vec![match_expression(backend, query.terms.words()).into()];
        let mut sql = match backend {
            DbBackend::Postgres => {
                format!("SELECT {} FROM messages m WHERE m.search @@ $1::tsquery", qualified_columns("m"))
            }
            _ => format!(
                "SELECT {} FROM message_search s JOIN messages m ON m.id = s.rowid WHERE message_search MATCH $1",
                qualified_columns("m")
            ),
        };
        sql.push_str(" AND NOT m.deleted");
        match query.chat {
            Some(chat) => values.push(chat.0.into()),
            None => values.push(member.0.into()),
        }
        sql.push_str(match query.chat {
            Some(_) => " AND m.chat_id = $2",
            None => " AND m.chat_id IN (SELECT chat_id FROM chat_members WHERE user_id = $2)",
        });
        if let Some(before) = query.before {
            values.push(before.0.into());
            sql.push_str(&format!(" AND m.id < ${}", values.len()));
        }
        values.push(i64::from(query.limit.get()).into());
        sql.push_str(&format!(" ORDER BY m.id DESC LIMIT ${}", values.len()));
        let select = messages::Entity::find().from_raw_sql(statement(&self.db, &sql, values));
        let rows = if backend == DbBackend::Postgres {
            // Planned for the words and the chat at hand, every time. The statement is prepared once per
            // pooled connection, and after five executions PostgreSQL may switch to a generic plan made
            // without the values: any word at 0.5% of the messages, any chat at its average size. On a
            // 1,000,000-message chat that plan ANDs the GIN bitmap with a bitmap of the whole chat from the
            // (chat_id, version) index, 40 ms for a rare word and 0.3-1 s for a common one, and whether a
            // search got it depended on the searches before it on the same connection. Planned with the
            // values, the column's statistics tell common words (the primary key walked backwards, stopping
            // at `limit` matches) from rare ones (the GIN index, then a sort of the few matches).
            let txn = self.db.begin().await.map_err(unexpected)?;
            txn.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan").await.map_err(unexpected)?;
            let rows = select.all(&txn).await.map_err(unexpected)?;
            txn.commit().await.map_err(unexpected)?;
            rows
        } else {
            select.all(&self.db).await.map_err(unexpected)?
        };
        Ok(rows.into_iter().map(Message::from).collect())
    }
}

/// One change to a live message: its statement per backend (`$1` chat, `$2` id, then `values`, then the
/// chat's new version, then — on PostgreSQL — the words to index when `words` is given).
struct Change {
    postgres: &'static str,
    sqlite: &'static str,
    values: Vec<Value>,
    words: Option<String>,
}

impl SeaMessageRepository {
    /// Advances the chat's version and applies `change` with it, in one transaction; the chat's row is
    /// locked first, as a send locks it, so that versions are handed out in commit order. Nothing is
    /// kept when the message is not live.
    async fn change_message(
        &self,
        chat: ChatId,
        id: MessageId,
        change: Change,
    ) -> Result<Option<Message>, DomainError> {
        let txn = self.db.begin().await.map_err(unexpected)?;
        let changed = apply(&txn, chat, id, change).await.map_err(unexpected)?;
        match changed {
            Some(message) => {
                txn.commit().await.map_err(unexpected)?;
                Ok(Some(message))
            }
            None => {
                txn.rollback().await.map_err(unexpected)?;
                Ok(None)
            }
        }
    }
}

async fn apply(
    txn: &DatabaseTransaction,
    chat: ChatId,
    id: MessageId,
    change: Change,
) -> Result<Option<Message>, sea_orm::DbErr> {
    let bump =
        statement(txn, "UPDATE chats SET version = version + 1 WHERE id = $1 RETURNING version", [chat.0.into()]);
    let Some(version) = txn.query_one_raw(bump).await?.map(|row| row.try_get::<i64>("", "version")).transpose()? else {
        return Ok(None);
    };
    let postgres = txn.get_database_backend() == DbBackend::Postgres;
    let sql = if postgres { change.postgres } else { change.sqlite }.replace("{columns}", COLUMNS);
    let mut values: Vec<Value> = vec![chat.0.into(), id.0.into()];
    values.extend(change.values);
    values.push(version.into());
    if postgres && let Some(words) = &change.words {
        values.push(words.clone().into());
    }
    let Some(row) = messages::Entity::find().from_raw_sql(statement(txn, &sql, values)).one(txn).await? else {
        return Ok(None);
    };
    if !postgres {
        if row.deleted {
            txn.execute_raw(statement(txn, "DELETE FROM message_search WHERE rowid = $1", [row.id.into()])).await?;
        } else {
            index_for_search(txn, std::slice::from_ref(&row)).await?;
        }
    }
    Ok(Some(Message::from(row)))
}

/// The columns of a message, each prefixed by the table's alias.
fn qualified_columns(alias: &str) -> String {
    COLUMNS.split(", ").map(|column| format!("{alias}.{column}")).collect::<Vec<_>>().join(", ")
}

/// Every word as the beginning of an indexed word, all of them required: a `tsquery` for PostgreSQL
/// (cast from text, so that no parser or dictionary touches the words), an FTS5 query for SQLite. Words
/// hold only letters and digits, so neither syntax needs escaping.
fn match_expression(backend: DbBackend, words: &[String]) -> String {
    let terms: Vec<String> = match backend {
        DbBackend::Postgres => words.iter().map(|w| format!("'{w}':*")).collect(),
        _ => words.iter().map(|w| format!("\"{w}\"*")).collect(),
    };
    terms.join(if backend == DbBackend::Postgres { " & " } else { " AND " })
}
