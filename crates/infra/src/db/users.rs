use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::user::{Email, NewUser, PasswordHash, StoredCredentials, User, UserRepository};
use domain::{DomainError, UserId};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, Set,
};

use super::entities::users;
use super::error::{is_unique_violation, unexpected};
use super::sql::statement;

pub struct SeaUserRepository {
    db: DatabaseConnection,
}

impl SeaUserRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn to_user(model: users::Model) -> User {
    User { id: UserId(model.id), name: model.name, email: model.email }
}

#[derive(FromQueryResult)]
struct UserRow {
    id: i64,
    name: String,
    email: String,
}

/// `LIKE` treats `%` and `_` as wildcards; a search for them should find them literally.
fn like_pattern(query: &str) -> String {
    let escaped = query.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

#[async_trait]
impl UserRepository for SeaUserRepository {
    #[tracing::instrument(skip_all)]
    async fn create(&self, user: NewUser) -> Result<User, DomainError> {
        let model = users::ActiveModel {
            name: Set(user.name.as_str().to_owned()),
            email: Set(user.email.as_str().to_owned()),
            password: Set(user.password_hash.0),
            ..Default::default()
        };
        match model.insert(&self.db).await {
            Ok(model) => Ok(to_user(model)),
            Err(error) if is_unique_violation(&error) => Err(DomainError::EmailTaken),
            Err(error) => Err(unexpected(error)),
        }
    }

    #[tracing::instrument(skip_all)]
    async fn find_credentials(&self, email: &Email) -> Result<Option<StoredCredentials>, DomainError> {
        let found = users::Entity::find()
            .filter(Expr::expr(Func::lower(Expr::col(users::Column::Email))).eq(email.as_str()))
            .one(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(found.map(|model| {
            let password_hash = PasswordHash(model.password.clone());
            StoredCredentials { user: to_user(model), password_hash }
        }))
    }

    #[tracing::instrument(skip(self))]
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, DomainError> {
        let found = users::Entity::find_by_id(id.0).one(&self.db).await.map_err(unexpected)?;
        Ok(found.map(to_user))
    }

    /// Names contain the query; an email matches only whole (another user's email is not something to
    /// find by fragments). The query may be an email, so it stays out of the span.
    #[tracing::instrument(skip(self, query))]
    async fn search(&self, query: &str, limit: u32) -> Result<Vec<User>, DomainError> {
        let sql = r"SELECT id, name, email FROM users
            WHERE lower(name) LIKE $1 ESCAPE '\' OR lower(email) = $2
            ORDER BY id LIMIT $3";
        let values: [sea_orm::Value; 3] =
            [like_pattern(query).into(), query.to_lowercase().into(), i64::from(limit).into()];
        let rows =
            UserRow::find_by_statement(statement(&self.db, sql, values)).all(&self.db).await.map_err(unexpected)?;
        Ok(rows.into_iter().map(|r| User { id: UserId(r.id), name: r.name, email: r.email }).collect())
    }

    #[tracing::instrument(skip_all, fields(count = ids.len()))]
    async fn count_existing(&self, ids: &[UserId]) -> Result<usize, DomainError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let count = users::Entity::find()
            .filter(users::Column::Id.is_in(ids.iter().map(|id| id.0)))
            .count(&self.db)
            .await
            .map_err(unexpected)?;
        usize::try_from(count).map_err(|e| DomainError::Unexpected(e.into()))
    }

    async fn set_last_seen(&self, user: UserId, at: DateTime<Utc>) -> Result<(), DomainError> {
        let sql = "UPDATE users SET last_seen_at = $2 WHERE id = $1";
        self.db.execute_raw(statement(&self.db, sql, [user.0.into(), at.into()])).await.map_err(unexpected)?;
        Ok(())
    }

    async fn last_seen(&self, user: UserId) -> Result<Option<DateTime<Utc>>, DomainError> {
        let sql = "SELECT last_seen_at FROM users WHERE id = $1";
        let row = LastSeenRow::find_by_statement(statement(&self.db, sql, [user.0.into()]))
            .one(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(row.and_then(|row| row.last_seen_at))
    }
}

#[derive(FromQueryResult)]
struct LastSeenRow {
    last_seen_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn search_patterns_match_wildcards_literally() {
        assert_eq!(like_pattern("Bo"), "%bo%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
