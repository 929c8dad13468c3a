//! Sessions and their refresh tokens (see the sessions migration). The store mints tokens and keeps
//! only their hashes; a rotation is one conditional update, so of two refreshes racing with the same
//! token exactly one wins.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use domain::session::{RefreshGrant, RefreshRecord, RefreshToken, SessionId, SessionStore};
use domain::{DomainError, UserId};
use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult, TransactionTrait};

use super::error::unexpected;
use super::sql::statement;
use crate::auth::{RefreshSecret, hash_refresh_token};

pub struct SeaSessionStore {
    db: DatabaseConnection,
    /// How long a refresh token stays valid; each rotation grants the session this long again.
    ttl: Duration,
}

impl SeaSessionStore {
    pub fn new(db: DatabaseConnection, ttl: Duration) -> Self {
        Self { db, ttl }
    }

    fn expiry(&self, now: i64) -> i64 {
        now.saturating_add(i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX))
    }

    fn grant(&self, token: RefreshToken) -> RefreshGrant {
        RefreshGrant { token, expires_in: self.ttl }
    }
}

/// Sessions of the user that nothing can refresh any more; forgotten when the user signs in again.
const PRUNE_TOKENS_SQL: &str = "DELETE FROM refresh_tokens WHERE session_id IN
    (SELECT id FROM sessions WHERE user_id = $1 AND expires_at <= $2)";
const PRUNE_SESSIONS_SQL: &str = "DELETE FROM sessions WHERE user_id = $1 AND expires_at <= $2";
const OPEN_SQL: &str = "INSERT INTO sessions (user_id, expires_at) VALUES ($1, $2) RETURNING id";
const INSERT_TOKEN_SQL: &str = "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)";
const FIND_SQL: &str = "SELECT t.session_id, s.user_id, t.retired
    FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
    WHERE t.token_hash = $1 AND t.expires_at > $2";
/// The condition makes the rotation single-use under any concurrency: a second one finds nothing.
const RETIRE_SQL: &str =
    "UPDATE refresh_tokens SET retired = TRUE WHERE token_hash = $1 AND session_id = $2 AND NOT retired";
const EXTEND_SQL: &str = "UPDATE sessions SET expires_at = $2 WHERE id = $1";
/// Retired tokens of the session that expired: reusing them is refused anyway.
const DROP_EXPIRED_SQL: &str = "DELETE FROM refresh_tokens WHERE session_id = $1 AND expires_at <= $2";
const REVOKE_TOKENS_SQL: &str = "DELETE FROM refresh_tokens WHERE session_id = $1";
const REVOKE_SESSION_SQL: &str = "DELETE FROM sessions WHERE id = $1";

#[derive(FromQueryResult)]
struct IdRow {
    id: i64,
}

#[derive(FromQueryResult)]
struct FoundRow {
    session_id: i64,
    user_id: i64,
    retired: bool,
}

#[async_trait]
impl SessionStore for SeaSessionStore {
    #[tracing::instrument(skip(self))]
    async fn open(&self, user: UserId) -> Result<RefreshGrant, DomainError> {
        let now = Utc::now().timestamp();
        let secret = RefreshSecret::generate();
        let txn = self.db.begin().await.map_err(unexpected)?;
        for sql in [PRUNE_TOKENS_SQL, PRUNE_SESSIONS_SQL] {
            txn.execute_raw(statement(&txn, sql, [user.0.into(), now.into()])).await.map_err(unexpected)?;
        }
        let session = IdRow::find_by_statement(statement(&txn, OPEN_SQL, [user.0.into(), self.expiry(now).into()]))
            .one(&txn)
            .await
            .map_err(unexpected)?
            .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("INSERT … RETURNING gave no row")))?;
        let values = [secret.hash.into(), session.id.into(), self.expiry(now).into()];
        txn.execute_raw(statement(&txn, INSERT_TOKEN_SQL, values)).await.map_err(unexpected)?;
        txn.commit().await.map_err(unexpected)?;
        Ok(self.grant(secret.token))
    }

    #[tracing::instrument(skip_all)]
    async fn find(&self, token: &RefreshToken) -> Result<Option<RefreshRecord>, DomainError> {
        let values = [hash_refresh_token(token).into(), Utc::now().timestamp().into()];
        let row = FoundRow::find_by_statement(statement(&self.db, FIND_SQL, values))
            .one(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(row.map(|row| RefreshRecord {
            session: SessionId(row.session_id),
            user: UserId(row.user_id),
            retired: row.retired,
        }))
    }

    #[tracing::instrument(skip(self, token))]
    async fn rotate(&self, session: SessionId, token: &RefreshToken) -> Result<Option<RefreshGrant>, DomainError> {
        let now = Utc::now().timestamp();
        let expires_at = self.expiry(now);
        let next = RefreshSecret::generate();
        let txn = self.db.begin().await.map_err(unexpected)?;
        let retired = txn
            .execute_raw(statement(&txn, RETIRE_SQL, [hash_refresh_token(token).into(), session.0.into()]))
            .await
            .map_err(unexpected)?
            .rows_affected();
        if retired != 1 {
            txn.rollback().await.map_err(unexpected)?;
            return Ok(None);
        }
        let values = [next.hash.into(), session.0.into(), expires_at.into()];
        txn.execute_raw(statement(&txn, INSERT_TOKEN_SQL, values)).await.map_err(unexpected)?;
        txn.execute_raw(statement(&txn, EXTEND_SQL, [session.0.into(), expires_at.into()]))
            .await
            .map_err(unexpected)?;
        txn.execute_raw(statement(&txn, DROP_EXPIRED_SQL, [session.0.into(), now.into()])).await.map_err(unexpected)?;
        txn.commit().await.map_err(unexpected)?;
        Ok(Some(self.grant(next.token)))
    }

    #[tracing::instrument(skip(self))]
    async fn revoke(&self, session: SessionId) -> Result<(), DomainError> {
        // Deleted rather than flagged: a token of a revoked session is then simply unknown, and nothing
        // is left to clean up.
        let txn = self.db.begin().await.map_err(unexpected)?;
        for sql in [REVOKE_TOKENS_SQL, REVOKE_SESSION_SQL] {
            txn.execute_raw(statement(&txn, sql, [session.0.into()])).await.map_err(unexpected)?;
        }
        txn.commit().await.map_err(unexpected)?;
        Ok(())
    }
}
