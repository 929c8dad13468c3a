//! Per-chat positions and versions (contract v2): every message gets its `seq` (1, 2, 3, … per chat) and
//! the chat's `version` at its last change; every chat keeps its `last_seq`, its `version` (advanced by
//! every change to the chat) and the timestamp of its newest message (so that the database stamps
//! messages with timestamps that never decrease along seq, whatever the clocks of the instances).
//!
//! Existing messages are numbered in their history order (timestamp, then id). History is now read by
//! `(chat_id, seq)`, sync by `(chat_id, version)`; the timestamp and `(chat_id, id)` indexes are
//! replaced by them, so an insert maintains as many indexes as before.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &str = r"
ALTER TABLE chats
    ADD COLUMN last_seq        BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN version         BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN last_message_at TIMESTAMPTZ;
ALTER TABLE messages
    ADD COLUMN seq     BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

UPDATE messages SET seq = numbered.seq, version = numbered.seq
FROM (SELECT id, row_number() OVER (PARTITION BY chat_id ORDER BY timestamp, id) AS seq FROM messages) numbered
WHERE messages.id = numbered.id;
UPDATE chats SET last_seq = stats.last_seq, version = stats.last_seq, last_message_at = stats.last_at
FROM (SELECT chat_id, max(seq) AS last_seq, max(timestamp) AS last_at FROM messages GROUP BY chat_id) stats
WHERE chats.id = stats.chat_id;

ALTER TABLE messages ALTER COLUMN seq DROP DEFAULT, ALTER COLUMN version DROP DEFAULT;
DROP INDEX messages_chat_timestamp_idx;
DROP INDEX messages_chat_id_idx;
CREATE UNIQUE INDEX messages_chat_seq_key ON messages (chat_id, seq);
CREATE INDEX messages_chat_version_idx ON messages (chat_id, version);
";

const SQLITE_UP: &str = r"
ALTER TABLE chats ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chats ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chats ADD COLUMN last_message_at TEXT;
ALTER TABLE messages ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

UPDATE messages SET seq = (
    SELECT numbered.seq FROM (
        SELECT id, row_number() OVER (PARTITION BY chat_id ORDER BY timestamp, id) AS seq FROM messages
    ) numbered WHERE numbered.id = messages.id);
UPDATE messages SET version = seq;
UPDATE chats SET
    last_seq = COALESCE((SELECT max(seq) FROM messages WHERE chat_id = chats.id), 0),
    version = COALESCE((SELECT max(seq) FROM messages WHERE chat_id = chats.id), 0),
    last_message_at = (SELECT max(timestamp) FROM messages WHERE chat_id = chats.id);

DROP INDEX messages_chat_timestamp_idx;
DROP INDEX messages_chat_id_idx;
CREATE UNIQUE INDEX messages_chat_seq_key ON messages (chat_id, seq);
CREATE INDEX messages_chat_version_idx ON messages (chat_id, version);
";

const POSTGRES_DOWN: &str = r"
DROP INDEX messages_chat_version_idx;
DROP INDEX messages_chat_seq_key;
CREATE INDEX messages_chat_timestamp_idx ON messages (chat_id, timestamp, id);
CREATE INDEX messages_chat_id_idx ON messages (chat_id, id);
ALTER TABLE messages DROP COLUMN seq, DROP COLUMN version;
ALTER TABLE chats DROP COLUMN last_seq, DROP COLUMN version, DROP COLUMN last_message_at;
";

const SQLITE_DOWN: &str = r"
DROP INDEX messages_chat_version_idx;
DROP INDEX messages_chat_seq_key;
CREATE INDEX messages_chat_timestamp_idx ON messages (chat_id, timestamp, id);
CREATE INDEX messages_chat_id_idx ON messages (chat_id, id);
ALTER TABLE messages DROP COLUMN seq;
ALTER TABLE messages DROP COLUMN version;
ALTER TABLE chats DROP COLUMN last_seq;
ALTER TABLE chats DROP COLUMN version;
ALTER TABLE chats DROP COLUMN last_message_at;
";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_for_backend(manager, POSTGRES_UP, SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_for_backend(manager, POSTGRES_DOWN, SQLITE_DOWN).await
    }
}
