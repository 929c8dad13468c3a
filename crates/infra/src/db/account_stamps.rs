//! Account stamps from the users table: the row's creation time, in microseconds (milliseconds on
//! SQLite). A reset database that hands the same id to a new account hands it another creation time.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::user::{AccountStamp, AccountStamps};
use domain::{DomainError, UserId};
use sea_orm::{DatabaseConnection, FromQueryResult};

use super::error::unexpected;
use super::sql::statement;

pub struct SeaAccountStamps {
    db: DatabaseConnection,
}

impl SeaAccountStamps {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[derive(FromQueryResult)]
struct CreatedRow {
    created_at: DateTime<Utc>,
}

#[async_trait]
impl AccountStamps for SeaAccountStamps {
    #[tracing::instrument(skip(self))]
    async fn current(&self, user: UserId) -> Result<Option<AccountStamp>, DomainError> {
        let row = CreatedRow::find_by_statement(statement(
            &self.db,
            "SELECT created_at FROM users WHERE id = $1",
            [user.0.into()],
        ))
        .one(&self.db)
        .await
        .map_err(unexpected)?;
        Ok(row.map(|row| AccountStamp(row.created_at.timestamp_micros())))
    }

    async fn confirms(&self, user: UserId, stamp: AccountStamp) -> Result<bool, DomainError> {
        Ok(self.current(user).await? == Some(stamp))
    }
}
