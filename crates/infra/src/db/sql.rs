//! Raw statements for the queries the query builder does not express well in both dialects. `$n`
//! placeholders work on PostgreSQL and on SQLite (sqlx binds `$n` by number on both).

use sea_orm::{ConnectionTrait, Statement, Value};

pub(crate) fn statement(db: &impl ConnectionTrait, sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(db.get_database_backend(), sql, values)
}
