//! One integration-test binary: the real server on a random port, its own fresh database per test
//! (SQLite by default, PostgreSQL when `TEST_DATABASE_URL` names a server), spoken to over HTTP and
//! WebSocket only.

mod auth;
mod chats;
mod db_outage;
mod device;
mod edits;
mod groups;
mod helpers;
mod http_edges;
mod large_groups;
mod messages;
mod metrics;
mod misc;
mod presence;
mod scale_out;
mod search;
mod sessions;
mod sync;
mod validation;
mod ws;
mod ws_backpressure;
mod ws_client;
mod ws_limits;
mod ws_support;
