//! Storing a batch of new messages: the database gives each its seq, version and timestamp in the
//! transaction that stores it, so positions have no gap and no repeat whatever the concurrency, across
//! any number of instances.
//!
//! Each chat's row is updated (which locks it until the commit: a concurrent batch of the same chat
//! waits, then reads the advanced counters), its `last_seq` and `version` advance by the number of new
//! messages, and the messages take the numbers in between. The update walks the chats in id order, so
//! that two batches of several chats take their locks in the same order. The
//! timestamp is the database's clock, never below the chat's previous one, so timestamps never decrease
//! along seq. A `client_id` its sender already used is answered with the stored message; a race with a
//! concurrent insert of the same key (visible only once it commits) fails the statement on the unique
//! index, and the batch is retried, then finding the winner's row: no seq is ever handed out twice or
//! skipped.

use std::collections::HashMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use domain::message::{InsertOutcome, Message, NewMessage, search_document};
use domain::{ChatId, DomainError};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, FromQueryResult, TransactionTrait, Value,
};
use uuid::Uuid;

use super::entities::messages;
use super::error::{is_deadlock, is_unique_violation, unexpected};
use super::sql::statement;

/// Attempts at a batch that keeps racing with concurrent inserts of the same keys.
const ATTEMPTS: usize = 3;

/// The columns of a message, as [`messages::Model`] reads them (PostgreSQL's search column stays behind).
pub(crate) const COLUMNS: &str =
    "id, chat_id, sender_id, text, timestamp, read, client_id, seq, version, edited_at, deleted, reply_to";

/// One statement on PostgreSQL: the batch arrives as one JSON parameter, so that the statement's text —
/// and so its prepared plan — is the same whatever the batch size. The chats are found by
/// `= ANY (ARRAY(…))`, which keeps the plan on their primary key whatever the planner guesses of the
/// JSON's row count. It stores every row it is given: a used key fails it on the unique index (see
/// [`store`]).
const POSTGRES_SQL: &str = "WITH input AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb)
        AS i(ord int, chat_id bigint, sender_id bigint, text text, client_id uuid, reply_to bigint, words text)
), counts AS (
    SELECT chat_id, count(*) AS n FROM input GROUP BY chat_id ORDER BY chat_id
), bumped AS (
    UPDATE chats c
    SET last_seq = c.last_seq + counts.n,
        version = c.version + counts.n,
        last_message_at = GREATEST(c.last_message_at, clock_timestamp())
    FROM counts
    WHERE c.id = counts.chat_id AND c.id = ANY (ARRAY(SELECT chat_id FROM counts))
    RETURNING c.id, c.last_seq, c.version, c.last_message_at, counts.n
), numbered AS (
    SELECT f.chat_id, f.sender_id, f.text, f.client_id, f.reply_to, f.words, b.last_message_at AS stamped,
           b.last_seq - b.n + row_number() OVER w AS seq,
           b.version - b.n + row_number() OVER w AS version
    FROM input f JOIN bumped b ON b.id = f.chat_id
    WINDOW w AS (PARTITION BY f.chat_id ORDER BY f.ord)
)
INSERT INTO messages (chat_id, sender_id, text, timestamp, read, client_id, seq, version, reply_to, search)
SELECT chat_id, sender_id, text, stamped, FALSE, client_id, seq, version, reply_to,
       array_to_tsvector(string_to_array(words, ' '))
FROM numbered RETURNING ";

/// Stores what is new in `batch` and answers, for each entry in order, the message stored now or the
/// one its key named before (or `NotFound` when its chat no longer exists).
///
/// On PostgreSQL the first attempt assumes every key is new, which it nearly always is: one statement,
/// and the unique index is the only check. A used key fails that statement (nothing is stored, no seq
/// taken); the next attempt looks the batch's keys up first and stores only the new ones.
pub(crate) async fn store(db: &DatabaseConnection, batch: &[NewMessage]) -> Vec<Result<InsertOutcome, DomainError>> {
    let mut last_error = None;
    for attempt in 1..=ATTEMPTS {
        match store_once(db, batch, attempt == 1).await {
            Ok(outcomes) => return outcomes,
            Err(error) if is_unique_violation(&error) || is_deadlock(&error) => {
                // A concurrent send used the same client_id (the retry finds its row), or batches of two
                // instances locked shared chats in opposite orders and PostgreSQL aborted this one.
                tracing::debug!(attempt, %error, "retrying a batch that raced with another");
                last_error = Some(error);
            }
            Err(error) => {
                let error = unexpected(error);
                return batch.iter().map(|_| Err(copy_of(&error))).collect();
            }
        }
    }
    let error = last_error.map_or_else(|| DomainError::Unexpected(anyhow::anyhow!("no attempt made")), unexpected);
    batch.iter().map(|_| Err(copy_of(&error))).collect()
}

/// Every waiter of a failed batch gets the same answer; `DomainError` is not `Clone` (it carries causes).
fn copy_of(error: &DomainError) -> DomainError {
    match error {
        DomainError::Unavailable { retry_after } => DomainError::Unavailable { retry_after: *retry_after },
        other => DomainError::Unexpected(anyhow::anyhow!("storing messages failed: {other}")),
    }
}

type Key = (i64, Uuid);

async fn store_once(
    db: &DatabaseConnection,
    batch: &[NewMessage],
    optimistic: bool,
) -> Result<Vec<Result<InsertOutcome, DomainError>>, DbErr> {
    // A key twice in one batch (two devices racing) is stored once; the later entry answers from it.
    let mut first_of: HashMap<Key, usize> = HashMap::new();
    let unique: Vec<&NewMessage> =
        batch.iter().enumerate().filter(|(i, m)| *first_of.entry(key(m)).or_insert(*i) == *i).map(|(_, m)| m).collect();
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    let (mut stored, existing) = if optimistic && postgres {
        let stored = insert_postgres(db, &unique).await?;
        // Only the rows of a chat that vanished meanwhile are missing; say so through the lookup.
        let skipped: Vec<&NewMessage> = unique.into_iter().filter(|m| !stored.contains_key(&key(m))).collect();
        let existing = if skipped.is_empty() { HashMap::new() } else { find_existing(db, &skipped).await? };
        (stored, existing)
    } else {
        let existing = find_existing(db, &unique).await?;
        let fresh: Vec<&NewMessage> = unique.into_iter().filter(|m| !existing.contains_key(&key(m))).collect();
        let stored = match (fresh.is_empty(), postgres) {
            (true, _) => HashMap::new(),
            (false, true) => insert_postgres(db, &fresh).await?,
            (false, false) => insert_sqlite(db, &fresh).await?,
        };
        (stored, existing)
    };
    let mut answered: HashMap<Key, Message> = existing;
    Ok(batch
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let key = key(m);
            let own = first_of.get(&key) == Some(&i);
            if own && let Some(message) = stored.remove(&key) {
                answered.insert(key, message.clone());
                return Ok(InsertOutcome::Inserted(message));
            }
            match answered.get(&key) {
                Some(message) => Ok(InsertOutcome::Existing(message.clone())),
                None => Err(DomainError::NotFound("chat")),
            }
        })
        .collect())
}

fn key(message: &NewMessage) -> Key {
    (message.sender_id.0, message.client_id)
}

/// The messages already stored under the batch's keys, in one statement.
async fn find_existing(db: &DatabaseConnection, batch: &[&NewMessage]) -> Result<HashMap<Key, Message>, DbErr> {
    let mut sql = format!("SELECT {COLUMNS} FROM messages WHERE ");
    let mut values: Vec<Value> = Vec::with_capacity(batch.len() * 2);
    for (i, message) in batch.iter().enumerate() {
        if i > 0 {
            sql.push_str(" OR ");
        }
        sql.push_str(&format!("(sender_id = ${} AND client_id = ${})", 2 * i + 1, 2 * i + 2));
        values.extend([message.sender_id.0.into(), message.client_id.into()]);
    }
    let rows = messages::Entity::find().from_raw_sql(statement(db, &sql, values)).all(db).await?;
    Ok(by_key(rows))
}

fn by_key(rows: Vec<messages::Model>) -> HashMap<Key, Message> {
    rows.into_iter().filter_map(|row| Some(((row.sender_id, row.client_id?), Message::from(row)))).collect()
}

async fn insert_postgres(db: &DatabaseConnection, fresh: &[&NewMessage]) -> Result<HashMap<Key, Message>, DbErr> {
    let input: Vec<serde_json::Value> = fresh
        .iter()
        .enumerate()
        .map(|(ord, m)| {
            serde_json::json!({
                "ord": ord,
                "chat_id": m.chat_id.0,
                "sender_id": m.sender_id.0,
                "text": m.text.as_str(),
                "client_id": m.client_id,
                "reply_to": m.reply_to.map(|id| id.0),
                "words": search_document(m.text.as_str()),
            })
        })
        .collect();
    let sql = format!("{POSTGRES_SQL}{COLUMNS}");
    let values = [Value::Json(Some(Box::new(serde_json::Value::Array(input))))];
    let rows = messages::Entity::find().from_raw_sql(statement(db, &sql, values)).all(db).await?;
    Ok(by_key(rows))
}

#[derive(FromQueryResult)]
struct BumpedChat {
    last_seq: i64,
    version: i64,
    last_message_at: Option<DateTime<Utc>>,
}

/// SQLite has one writer at a time: the first statement of the transaction takes the write lock, so
/// nothing changes between reading a chat's counters and storing the messages that use them.
async fn insert_sqlite(db: &DatabaseConnection, fresh: &[&NewMessage]) -> Result<HashMap<Key, Message>, DbErr> {
    let mut per_chat: Vec<(ChatId, Vec<&NewMessage>)> = Vec::new();
    for message in fresh {
        match per_chat.iter_mut().find(|(chat, _)| *chat == message.chat_id) {
            Some((_, list)) => list.push(message),
            None => per_chat.push((message.chat_id, vec![message])),
        }
    }
    per_chat.sort_by_key(|(chat, _)| *chat);
    let txn = db.begin().await?;
    let mut stored = HashMap::new();
    for (chat, list) in per_chat {
        let n = i64::try_from(list.len()).unwrap_or(i64::MAX);
        let bump = "UPDATE chats SET last_seq = last_seq + $2, version = version + $2 WHERE id = $1
            RETURNING last_seq, version, last_message_at";
        let Some(bumped) =
            BumpedChat::find_by_statement(statement(&txn, bump, [chat.0.into(), n.into()])).one(&txn).await?
        else {
            continue; // The chat is gone; its sends are answered NotFound.
        };
        let now = Utc::now().duration_trunc(TimeDelta::microseconds(1)).unwrap_or_else(|_| Utc::now());
        let stamped = bumped.last_message_at.map_or(now, |last| last.max(now));
        txn.execute_raw(statement(
            &txn,
            "UPDATE chats SET last_message_at = $2 WHERE id = $1",
            [chat.0.into(), stamped.into()],
        ))
        .await?;
        let mut sql = String::from(
            "INSERT INTO messages (chat_id, sender_id, text, timestamp, read, client_id, seq, version, reply_to) VALUES ",
        );
        let mut values: Vec<Value> = Vec::with_capacity(list.len() * 8);
        let (first_seq, first_version) = (bumped.last_seq - n + 1, bumped.version - n + 1);
        for (i, m) in list.iter().enumerate() {
            let p = i * 8;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, FALSE, ${}, ${}, ${}, ${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5,
                p + 6,
                p + 7,
                p + 8
            ));
            let offset = i64::try_from(i).unwrap_or(0);
            values.extend([
                m.chat_id.0.into(),
                m.sender_id.0.into(),
                m.text.as_str().to_owned().into(),
                stamped.into(),
                m.client_id.into(),
                (first_seq + offset).into(),
                (first_version + offset).into(),
                m.reply_to.map(|id| id.0).into(),
            ]);
        }
        sql.push_str(" RETURNING ");
        sql.push_str(COLUMNS);
        let rows = messages::Entity::find().from_raw_sql(statement(&txn, &sql, values)).all(&txn).await?;
        index_for_search(&txn, &rows).await?;
        stored.extend(by_key(rows));
    }
    txn.commit().await?;
    Ok(stored)
}

/// Indexes `rows` for search, in the caller's transaction. The store's own statement does it on
/// PostgreSQL as it inserts; SQLite keeps the words in its FTS5 table, keyed by the message id.
pub(crate) async fn index_for_search(txn: &impl ConnectionTrait, rows: &[messages::Model]) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let documents: Vec<serde_json::Value> =
        rows.iter().map(|row| serde_json::json!({ "id": row.id, "words": search_document(&row.text) })).collect();
    let sql = match txn.get_database_backend() {
        DbBackend::Postgres => {
            "UPDATE messages m SET search = array_to_tsvector(string_to_array(d.words, ' '))
             FROM jsonb_to_recordset($1::jsonb) AS d(id bigint, words text) WHERE m.id = d.id"
        }
        _ => {
            "INSERT OR REPLACE INTO message_search (rowid, words)
             SELECT json_extract(value, '$.id'), json_extract(value, '$.words') FROM json_each($1)"
        }
    };
    txn.execute_raw(statement(txn, sql, [serde_json::Value::Array(documents).to_string().into()])).await?;
    Ok(())
}
