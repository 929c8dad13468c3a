//! Read pointers in order per chat, so that "read by everybody" asks for the two lowest pointers of a
//! chat instead of every member's.
//!
//! A message is read by all when no member other than its sender is behind it. Whoever is behind, the
//! lowest pointer is; unless the lowest is the sender, and then the second lowest is. So two index
//! entries answer for a group of any size (crates/infra/src/db/receipts.rs). A pointer is NULL until
//! its member reads anything, and counts as 0: the index is on that expression, in both dialects.

use sea_orm_migration::prelude::*;

use crate::execute_for_backend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_for_backend(
            manager,
            "CREATE INDEX chat_members_read_pointer_idx
                ON chat_members (chat_id, (COALESCE(last_read_message_id, 0)), user_id)",
            "CREATE INDEX chat_members_read_pointer_idx
                ON chat_members (chat_id, COALESCE(last_read_message_id, 0), user_id)",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let drop = "DROP INDEX chat_members_read_pointer_idx";
        execute_for_backend(manager, drop, drop).await
    }
}
