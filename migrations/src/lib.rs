//! The messenger's schema. Each migration has `up` and `down` and runs on PostgreSQL and SQLite.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_schema;
mod m20261126_000001_chat_positions;
mod m20261127_000001_sessions;
mod m20261128_000001_message_chat_checked_by_store;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_schema::Migration),
            Box::new(m20261126_000001_chat_positions::Migration),
            Box::new(m20261127_000001_sessions::Migration),
            Box::new(m20261128_000001_message_chat_checked_by_store::Migration),
        ]
    }
}
