//! Adapters for the domain's ports, and the one function that builds them all from configuration.

pub mod auth;
pub mod bus;
pub mod db;
pub mod membership_cache;
pub mod presence;
pub mod rate_limit;
mod seed;
mod wiring;

pub use rate_limit::{AuthLimits, Rate, RateLimits};
pub use wiring::{Adapters, InfraConfig, Watched, build, migrate, seed};
