//! Editing, deleting and replying to messages, message search, and when users were last seen (v2).
//!
//! Messages gain `edited_at`, `deleted` (a tombstone keeps its id and seq) and `reply_to`. Search indexes
//! the words the domain finds in a text (`domain::message::search_words`: runs of letters and digits,
//! lower-cased), not what either database would split: PostgreSQL's parser depends on the server's
//! locale (under `C.UTF-8` it drops non-ASCII letters) and SQLite's tokenizer differs from it, and both
//! must give the same answers. PostgreSQL keeps them in a `tsvector` column under a GIN index; SQLite in
//! an FTS5 table keyed by the message id, whose tokenizer then only splits at the spaces between the
//! words. Existing messages are indexed here.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &str = r"
ALTER TABLE messages
    ADD COLUMN edited_at TIMESTAMPTZ,
    ADD COLUMN deleted   BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN reply_to  BIGINT,
    ADD COLUMN search    TSVECTOR;
CREATE INDEX messages_search_idx ON messages USING gin (search);
ALTER TABLE users ADD COLUMN last_seen_at TIMESTAMPTZ;
";

// The tokenizer's categories take in every letter, mark, number and symbol, so that it splits at the
// spaces the domain put between its words and nowhere else; case folding changes nothing in words that
// are lower-cased already, and diacritics are kept (PostgreSQL keeps them too).
const SQLITE_UP: &str = r#"
ALTER TABLE messages ADD COLUMN edited_at TEXT;
ALTER TABLE messages ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE messages ADD COLUMN reply_to INTEGER;
CREATE VIRTUAL TABLE message_search USING fts5(
    words,
    tokenize = "unicode61 remove_diacritics 0 categories 'L* M* N* S* Co'"
);
ALTER TABLE users ADD COLUMN last_seen_at TEXT;
"#;

const POSTGRES_DOWN: &str = r"
ALTER TABLE users DROP COLUMN last_seen_at;
DROP INDEX messages_search_idx;
ALTER TABLE messages DROP COLUMN search, DROP COLUMN reply_to, DROP COLUMN deleted, DROP COLUMN edited_at;
";

const SQLITE_DOWN: &str = r"
ALTER TABLE users DROP COLUMN last_seen_at;
DROP TABLE message_search;
ALTER TABLE messages DROP COLUMN reply_to;
ALTER TABLE messages DROP COLUMN deleted;
ALTER TABLE messages DROP COLUMN edited_at;
";

/// Messages indexed per statement while existing ones are backfilled.
const BACKFILL_BATCH: u64 = 1000;

#[derive(FromQueryResult)]
struct Row {
    id: i64,
    text: String,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_for_backend(manager, POSTGRES_UP, SQLITE_UP).await?;
        backfill(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_for_backend(manager, POSTGRES_DOWN, SQLITE_DOWN).await
    }
}

/// Indexes the messages stored before this migration, a batch at a time in id order.
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let mut after = 0_i64;
    loop {
        let page = Statement::from_sql_and_values(
            backend,
            "SELECT id, text FROM messages WHERE id > $1 ORDER BY id LIMIT $2",
            [after.into(), BACKFILL_BATCH.into()],
        );
        let rows = Row::find_by_statement(page).all(db).await?;
        let Some(last) = rows.last() else { return Ok(()) };
        after = last.id;
        let documents: Vec<serde_json::Value> = rows
            .iter()
            .map(|row| serde_json::json!({ "id": row.id, "words": domain::message::search_document(&row.text) }))
            .collect();
        let sql = match backend {
            DbBackend::Postgres => {
                "UPDATE messages m SET search = array_to_tsvector(string_to_array(d.words, ' '))
                 FROM jsonb_to_recordset($1::jsonb) AS d(id bigint, words text) WHERE m.id = d.id"
            }
            _ => {
                "INSERT INTO message_search (rowid, words)
                 SELECT json_extract(value, '$.id'), json_extract(value, '$.words') FROM json_each($1)"
            }
        };
        let documents = serde_json::Value::Array(documents).to_string();
        db.execute_raw(Statement::from_sql_and_values(backend, sql, [documents.into()])).await?;
    }
}
