//! Presence registries: in memory for one instance, in Redis across instances.

mod in_memory;
mod redis_registry;

pub use in_memory::InMemoryPresence;
pub use redis_registry::RedisPresence;
