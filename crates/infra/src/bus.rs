//! Event buses: in-process (one instance) and, with `REDIS_URL`, across instances through Redis.

mod in_process;
mod redis_bus;
mod stats;

pub use in_process::InProcessBus;
pub use redis_bus::RedisBus;
pub use stats::BusStats;
