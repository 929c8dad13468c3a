//! Event buses: in-process (one instance) and, with `REDIS_URL`, across instances.

mod in_process;

pub use in_process::InProcessBus;
