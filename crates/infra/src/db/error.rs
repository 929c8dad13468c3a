//! Turning database errors into domain errors without leaking SQL to clients.

use domain::DomainError;
use sea_orm::{DbErr, SqlErr};

/// Any database failure the caller cannot act on; the text goes to the logs only.
pub(crate) fn unexpected(error: DbErr) -> DomainError {
    DomainError::Unexpected(anyhow::Error::new(error).context("database"))
}

pub(crate) fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
