//! Turning database errors into domain errors without leaking SQL to clients.

use domain::DomainError;
use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// A database failure as the caller should see it: `Unavailable` (retry later) when the database could
/// not be reached or did not answer in time, otherwise `Unexpected`. The text goes to the logs only.
pub(crate) fn unexpected(error: DbErr) -> DomainError {
    if is_unreachable(&error) {
        tracing::warn!(%error, "the database is unreachable");
        return DomainError::unavailable();
    }
    DomainError::Unexpected(anyhow::Error::new(error).context("database"))
}

fn is_unreachable(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner)) => matches!(
            inner.as_ref(),
            sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Tls(_)
        ),
        _ => false,
    }
}

pub(crate) fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// PostgreSQL broke a lock cycle by aborting this statement: running it again is safe.
pub(crate) fn is_deadlock(error: &DbErr) -> bool {
    match error {
        DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner)) => {
            inner.as_database_error().and_then(|e| e.code()).is_some_and(|code| code == "40P01")
        }
        _ => false,
    }
}
