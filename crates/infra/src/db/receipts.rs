use std::collections::BTreeMap;

use async_trait::async_trait;
use domain::message::{ReadByAll, ReceiptRepository};
use domain::{ChatId, DomainError, MessageId, UserId};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, FromQueryResult, TransactionTrait};

use super::error::unexpected;
use super::sql::statement;

pub struct SeaReceiptRepository {
    db: DatabaseConnection,
}

impl SeaReceiptRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// The condition in the WHERE makes the pointer monotonic under any concurrency: a stale update finds
/// nothing to change.
const ADVANCE_SQL: &str = "UPDATE chat_members SET last_read_message_id = $3
    WHERE chat_id = $1 AND user_id = $2 AND (last_read_message_id IS NULL OR last_read_message_id < $3)";

/// A moved pointer is a change of the chat: its version advances in the same transaction.
const BUMP_VERSION_SQL: &str = "UPDATE chats SET version = version + 1 WHERE id = $1";

/// Both in one statement (and one round trip) on PostgreSQL.
const ADVANCE_AND_BUMP_POSTGRES: &str = "WITH advanced AS (
        UPDATE chat_members SET last_read_message_id = $3
        WHERE chat_id = $1 AND user_id = $2 AND (last_read_message_id IS NULL OR last_read_message_id < $3)
        RETURNING chat_id)
    UPDATE chats SET version = version + 1 WHERE id IN (SELECT chat_id FROM advanced)";

/// Flips, in one statement, every unread message that no current member other than its sender still
/// has above its read pointer. Only the chat's two lowest pointers can hold a message back (the lowest,
/// or the second lowest when the lowest is the sender's), so a read costs two index entries and the
/// unread messages below the higher of them, whatever the size of the group. With fewer than two
/// members nobody else can hold a message back. The partial index on unread messages keeps the scan to
/// those. Two readers racing both run it; a row flips in only one of them (the other re-checks
/// `NOT read`), so each flip is reported once.
const FLIP_SQL: &str = "WITH lowest AS MATERIALIZED (
        SELECT user_id, COALESCE(last_read_message_id, 0) AS pointer FROM chat_members
        WHERE chat_id = $1 ORDER BY COALESCE(last_read_message_id, 0), user_id LIMIT 2)
    UPDATE messages SET read = TRUE
    WHERE chat_id = $1 AND NOT read AND id <= $2
      AND id <= (SELECT CASE WHEN COUNT(*) < 2 THEN $2 ELSE MAX(pointer) END FROM lowest)
      AND NOT EXISTS (
        SELECT 1 FROM lowest WHERE lowest.user_id <> messages.sender_id AND lowest.pointer < messages.id)
    RETURNING sender_id, id";

#[derive(FromQueryResult)]
struct FlippedRow {
    sender_id: i64,
    id: i64,
}

#[async_trait]
impl ReceiptRepository for SeaReceiptRepository {
    #[tracing::instrument(skip(self))]
    async fn advance_read_pointer(&self, chat: ChatId, reader: UserId, up_to: MessageId) -> Result<bool, DomainError> {
        let values = [chat.0.into(), reader.0.into(), up_to.0.into()];
        if self.db.get_database_backend() == DbBackend::Postgres {
            let result = self
                .db
                .execute_raw(statement(&self.db, ADVANCE_AND_BUMP_POSTGRES, values))
                .await
                .map_err(unexpected)?;
            return Ok(result.rows_affected() > 0);
        }
        let txn = self.db.begin().await.map_err(unexpected)?;
        let advanced =
            txn.execute_raw(statement(&txn, ADVANCE_SQL, values)).await.map_err(unexpected)?.rows_affected() > 0;
        if advanced {
            txn.execute_raw(statement(&txn, BUMP_VERSION_SQL, [chat.0.into()])).await.map_err(unexpected)?;
        }
        txn.commit().await.map_err(unexpected)?;
        Ok(advanced)
    }

    #[tracing::instrument(skip(self))]
    async fn mark_read_by_all(&self, chat: ChatId, up_to: Option<MessageId>) -> Result<Vec<ReadByAll>, DomainError> {
        let up_to = up_to.map_or(i64::MAX, |id| id.0);
        let rows = FlippedRow::find_by_statement(statement(&self.db, FLIP_SQL, [chat.0.into(), up_to.into()]))
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        let mut highest: BTreeMap<i64, i64> = BTreeMap::new();
        for row in rows {
            let entry = highest.entry(row.sender_id).or_insert(row.id);
            *entry = (*entry).max(row.id);
        }
        Ok(highest
            .into_iter()
            .map(|(sender, id)| ReadByAll { chat_id: chat, sender_id: UserId(sender), up_to: MessageId(id) })
            .collect())
    }
}
