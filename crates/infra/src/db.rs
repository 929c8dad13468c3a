//! The SeaORM adapters: one repository per port, over PostgreSQL or SQLite.

mod account_stamps;
mod batched_inserts;
mod chats;
mod connect;
pub mod entities;
mod error;
mod messages;
mod receipts;
mod sessions;
pub(crate) mod sql;
mod store_messages;
mod users;

pub use account_stamps::SeaAccountStamps;
pub use batched_inserts::BatchedMessageRepository;
pub use chats::SeaChatRepository;
pub use connect::{PoolStats, connect, migrate_with_lock};
pub use messages::SeaMessageRepository;
pub use receipts::SeaReceiptRepository;
pub use sessions::SeaSessionStore;
pub(crate) use sql::statement;
pub(crate) use store_messages::index_for_search;
pub use users::SeaUserRepository;
