//! The messenger's schema. Each migration has `up` and `down` and runs on PostgreSQL and SQLite.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_schema;
mod m20261126_000001_chat_positions;
mod m20261127_000001_sessions;
mod m20261128_000001_message_chat_checked_by_store;
mod m20261129_000001_edits_replies_search;
mod m20261208_000001_lowest_read_pointers;

pub struct Migrator;

/// Runs the SQL written for the database the manager is connected to: each migration is plain SQL per
/// dialect (see the first one for why).
pub(crate) async fn execute_for_backend(
    manager: &SchemaManager<'_>,
    postgres: &str,
    sqlite: &str,
) -> Result<(), DbErr> {
    let sql = match manager.get_database_backend() {
        sea_orm_migration::sea_orm::DbBackend::Sqlite => sqlite,
        _ => postgres,
    };
    manager.get_connection().execute_unprepared(sql).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_schema::Migration),
            Box::new(m20261126_000001_chat_positions::Migration),
            Box::new(m20261127_000001_sessions::Migration),
            Box::new(m20261128_000001_message_chat_checked_by_store::Migration),
            Box::new(m20261129_000001_edits_replies_search::Migration),
            Box::new(m20261208_000001_lowest_read_pointers::Migration),
        ]
    }
}
