//! Idle connections (no chats, no traffic) by the ten thousand: opened with a deadline each, failures
//! counted rather than fatal, so that a run near a limit (descriptors, ports, the server's own cap on
//! connections) says how far it got.

use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};
use serde::Serialize;

use crate::setup::User;
use crate::ws_client::{Connector, Ws};

const IDLE_READ_BUFFER: usize = 2 * 1024;

#[derive(Debug, Default, Clone, Serialize)]
pub struct IdleOutcome {
    pub wanted: usize,
    pub connected: usize,
    pub failed: usize,
    /// Not tried: opening stopped after too many failures.
    pub skipped: usize,
    pub first_error: Option<String>,
    pub open_s: f64,
}

pub struct IdleOptions {
    pub concurrency: usize,
    /// A connection not open (TCP and handshake) by then counts as failed.
    pub timeout: Duration,
    /// Opening stops after this many failures.
    pub max_failures: usize,
}

/// Opens `count` connections of `users` in rotation.
pub async fn open(connector: &Connector, users: &[User], count: usize, opts: &IdleOptions) -> (Vec<Ws>, IdleOutcome) {
    let started = Instant::now();
    let mut out = IdleOutcome { wanted: count, ..IdleOutcome::default() };
    let mut sockets = Vec::with_capacity(count);
    if users.is_empty() {
        return (sockets, out);
    }
    let mut attempts = stream::iter(0..count)
        .map(|i| {
            let token = &users[i % users.len()].token;
            async move { tokio::time::timeout(opts.timeout, connector.connect(token, IDLE_READ_BUFFER)).await }
        })
        .buffer_unordered(opts.concurrency.max(1));
    while let Some(attempt) = attempts.next().await {
        match attempt {
            Ok(Ok(ws)) => sockets.push(ws),
            Ok(Err(e)) => fail(&mut out, format!("{e:#}")),
            Err(_) => fail(&mut out, format!("not open after {:?}", opts.timeout)),
        }
        let done = sockets.len() + out.failed;
        if done.is_multiple_of(10_000) {
            eprintln!("idle: {} open, {} failed ({:.0} s)", sockets.len(), out.failed, started.elapsed().as_secs_f64());
        }
        if out.failed >= opts.max_failures.max(1) {
            eprintln!("idle: stopping after {} failures: {}", out.failed, out.first_error.as_deref().unwrap_or(""));
            break;
        }
    }
    out.connected = sockets.len();
    out.skipped = count - out.connected - out.failed;
    out.open_s = started.elapsed().as_secs_f64();
    (sockets, out)
}

fn fail(out: &mut IdleOutcome, error: String) {
    out.failed += 1;
    out.first_error.get_or_insert(error);
}
