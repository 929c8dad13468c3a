//! Users, chats, groups, memberships with read pointers, and messages with their deduplication key.
//!
//! Written as SQL per backend rather than with the schema builder because the design leans on features
//! the builder does not express in both dialects: expression indexes (case-insensitive email), partial
//! indexes (unread messages) and SQLite's `INTEGER PRIMARY KEY` row ids.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &str = r"
CREATE TABLE users (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL,
    password    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE chats (
    id          BIGSERIAL PRIMARY KEY,
    type        TEXT NOT NULL CHECK (type IN ('private', 'group')),
    name        TEXT NOT NULL DEFAULT '',
    private_key TEXT UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE groups (
    id          BIGSERIAL PRIMARY KEY,
    chat_id     BIGINT NOT NULL UNIQUE REFERENCES chats (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    creator_id  BIGINT REFERENCES users (id) ON DELETE SET NULL
);

CREATE TABLE chat_members (
    id                   BIGSERIAL PRIMARY KEY,
    chat_id              BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id              BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_read_message_id BIGINT,
    UNIQUE (chat_id, user_id)
);
CREATE INDEX chat_members_user_idx ON chat_members (user_id, chat_id);

CREATE TABLE messages (
    id         BIGSERIAL PRIMARY KEY,
    chat_id    BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    sender_id  BIGINT NOT NULL REFERENCES users (id),
    text       TEXT NOT NULL,
    timestamp  TIMESTAMPTZ NOT NULL,
    read       BOOLEAN NOT NULL DEFAULT FALSE,
    client_id  UUID,
    CONSTRAINT messages_sender_client_key UNIQUE (sender_id, client_id)
);
CREATE INDEX messages_chat_timestamp_idx ON messages (chat_id, timestamp, id);
CREATE INDEX messages_chat_id_idx ON messages (chat_id, id);
CREATE INDEX messages_unread_idx ON messages (chat_id, id) WHERE NOT read;
";

const SQLITE_UP: &str = r"
CREATE TABLE users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL,
    password    TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE chats (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    type        TEXT NOT NULL CHECK (type IN ('private', 'group')),
    name        TEXT NOT NULL DEFAULT '',
    private_key TEXT UNIQUE,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE groups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id     INTEGER NOT NULL UNIQUE REFERENCES chats (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    creator_id  INTEGER REFERENCES users (id) ON DELETE SET NULL
);

CREATE TABLE chat_members (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id              INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id              INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_read_message_id INTEGER,
    UNIQUE (chat_id, user_id)
);
CREATE INDEX chat_members_user_idx ON chat_members (user_id, chat_id);

CREATE TABLE messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id    INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    sender_id  INTEGER NOT NULL REFERENCES users (id),
    text       TEXT NOT NULL,
    timestamp  TEXT NOT NULL,
    read       BOOLEAN NOT NULL DEFAULT FALSE,
    client_id  BLOB,
    CONSTRAINT messages_sender_client_key UNIQUE (sender_id, client_id)
);
CREATE INDEX messages_chat_timestamp_idx ON messages (chat_id, timestamp, id);
CREATE INDEX messages_chat_id_idx ON messages (chat_id, id);
CREATE INDEX messages_unread_idx ON messages (chat_id, id) WHERE NOT read;
";

const DOWN: &str = r"
DROP TABLE messages;
DROP TABLE chat_members;
DROP TABLE groups;
DROP TABLE chats;
DROP TABLE users;
";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_for_backend(manager, POSTGRES_UP, SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_for_backend(manager, DOWN, DOWN).await
    }
}
