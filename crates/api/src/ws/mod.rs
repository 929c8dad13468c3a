//! The real-time half of the contract: `GET /ws`.
//!
//! A connection is a device. [`hub::Hub`] maps users to their live connections on this instance and
//! turns domain events into frames; [`session`] runs one connection (a reader that handles the client's
//! frames in order, a writer that drains the bounded outbound queue and pings).

mod frame_guard;
pub mod hub;
pub mod local_members;
pub mod protocol;
mod session;

pub use hub::Hub;
pub use session::{WsSettings, upgrade};
