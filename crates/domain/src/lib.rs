//! The messenger's core: entities, value objects that validate at construction, the domain error and the
//! ports (traits) that adapters implement. Nothing here performs I/O or knows a framework.

pub mod chat;
pub mod error;
pub mod events;
pub mod health;
pub mod ids;
pub mod limit;
pub mod message;
pub mod presence;
pub mod rate_limit;
pub mod session;
pub mod text;
pub mod user;

pub use error::DomainError;
pub use ids::{ChatId, ConnectionId, MessageId, UserId};
