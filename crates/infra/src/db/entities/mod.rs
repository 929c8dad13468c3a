//! SeaORM entities, one per table (see the migration for the full schema).

pub mod chat_members;
pub mod chats;
pub mod groups;
pub mod messages;
pub mod users;
