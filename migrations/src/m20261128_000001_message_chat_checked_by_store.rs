//! On PostgreSQL, a message's chat is checked by the statement that stores it, not by a foreign key.
//!
//! That statement (crates/infra/src/db/store_messages.rs) inserts a message only joined to its chat's
//! row, which it updates (and so locks until the commit) in the same transaction: the chat exists when
//! the message is stored. The foreign key checked it a second time, with a lookup and a KEY SHARE lock
//! per row — about 13 µs of every message's cost, 7% of the closed-loop throughput (BENCHMARKS.md).
//! No route deletes chats; whoever deletes one by hand deletes its messages first.
//!
//! SQLite keeps its foreign key: its check is cheap, and dropping it would mean rebuilding the table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_chat_id_fkey")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE messages ADD CONSTRAINT messages_chat_id_fkey
                        FOREIGN KEY (chat_id) REFERENCES chats (id) ON DELETE CASCADE",
                )
                .await?;
        }
        Ok(())
    }
}
