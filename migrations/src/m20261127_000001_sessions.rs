//! Sessions (contract v2): one per signed-in device, kept alive by single-use refresh tokens of which
//! only a SHA-256 is stored. Retired tokens stay until they would have expired, so that presenting one
//! again is recognised as reuse (and ends the session) rather than taken for an unknown token.
//!
//! Expiry times are Unix seconds in a BIGINT: compared with a bound parameter, they mean the same on
//! both backends (SQLite keeps timestamps as text).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &str = r"
CREATE TABLE sessions (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id, expires_at);

CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    session_id  BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    expires_at  BIGINT NOT NULL,
    retired     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id, expires_at);
";

const SQLITE_UP: &str = r"
CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id, expires_at);

CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    session_id  INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL,
    retired     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id, expires_at);
";

const DOWN: &str = r"
DROP TABLE refresh_tokens;
DROP TABLE sessions;
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
