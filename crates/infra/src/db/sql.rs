//! Raw statements for the queries the query builder does not express well in both dialects. `$n`
//! placeholders work on PostgreSQL and on SQLite (sqlx binds `$n` by number on both).

use domain::ChatId;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

pub(crate) fn statement(db: &impl ConnectionTrait, sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(db.get_database_backend(), sql, values)
}

/// A list of chat ids as one parameter, a JSON array: the statement's text (and so its prepared plan)
/// is the same whatever the length of the list. Read it back with [`ids_in_param`].
pub(crate) fn chat_ids_param(chats: &[ChatId]) -> Value {
    Value::Json(Some(Box::new(serde_json::Value::from(chats.iter().map(|c| c.0).collect::<Vec<_>>()))))
}

/// The subquery yielding the ids of the JSON array bound to `$n` (see [`chat_ids_param`]).
pub(crate) fn ids_in_param(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("SELECT jsonb_array_elements_text(${n}::jsonb)::bigint"),
        _ => format!("SELECT value FROM json_each(${n})"),
    }
}
