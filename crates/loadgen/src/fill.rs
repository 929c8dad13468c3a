//! `loadgen fill`: put N messages into one chat as fast as the server takes them, through
//! WebSocket `send` frames with a window of outstanding acks on every connection.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::time::sleep_until;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::FillArgs;
use crate::setup::{Api, create_chats, register_users};
use crate::stats::{message_text, now_nanos};
use crate::ws_client::{Connector, Ws, parse_frame, send_frame};

#[derive(Default)]
struct Counters {
    acked: AtomicU64,
    duplicates: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
}

#[derive(Debug, Serialize)]
pub struct FillReport {
    pub chat_id: i64,
    pub requested: u64,
    pub acked: u64,
    pub duplicate_acks: u64,
    pub failed: u64,
    pub rate_limited_retries: u64,
    pub seconds: f64,
    pub msgs_per_s: f64,
    /// A member's credentials for `loadgen history`.
    pub email: Option<String>,
    pub token: String,
}

pub async fn run(args: &FillArgs) -> Result<FillReport> {
    let api = Api::new(&args.common.base_url)?;
    let connector = Connector::new(&args.common.base_url, Vec::new()).await?;
    let (chat_id, tokens, email) = match args.chat_id {
        Some(chat_id) if !args.token.is_empty() => (chat_id, args.token.clone(), None),
        Some(_) => bail!("--chat-id needs --token (one or more, comma-separated)"),
        None => {
            let prefix = format!("fill-{}", &Uuid::new_v4().simple().to_string()[..10]);
            let users = register_users(&api, &prefix, args.members.max(2), 8).await?;
            let group: Vec<usize> = (0..users.len()).collect();
            let chats = create_chats(&api, &users, &[group], &[], 1).await?;
            let chat = chats.first().context("group not created")?;
            (chat.id, users.iter().map(|u| u.token.clone()).collect(), Some(format!("{prefix}-0@loadgen.example.com")))
        }
    };
    let conns = args.connections.max(1);
    let mut sockets = Vec::with_capacity(conns);
    for i in 0..conns {
        sockets.push(connector.connect(&tokens[i % tokens.len()], 64 * 1024).await?);
    }
    eprintln!("fill: {} messages into chat {chat_id} over {conns} connections, window {}", args.messages, args.window);
    let counters = Arc::new(Counters::default());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, ws) in sockets.into_iter().enumerate() {
        let quota = args.messages / conns as u64 + u64::from((i as u64) < args.messages % conns as u64);
        tasks.push(tokio::spawn(fill_connection(ws, chat_id, quota, args.window.max(1), counters.clone())));
    }
    let progress = tokio::spawn(report_progress(counters.clone(), args.messages));
    // Close only when every connection is done, so no member leaves while others still send.
    let mut finished = Vec::new();
    for t in tasks {
        finished.push(t.await.context("fill task panicked")??);
    }
    for mut ws in finished {
        let _ = ws.close(None).await;
    }
    progress.abort();
    let seconds = started.elapsed().as_secs_f64();
    let acked = counters.acked.load(Ordering::Relaxed);
    Ok(FillReport {
        chat_id,
        requested: args.messages,
        acked,
        duplicate_acks: counters.duplicates.load(Ordering::Relaxed),
        failed: counters.failed.load(Ordering::Relaxed),
        rate_limited_retries: counters.retried.load(Ordering::Relaxed),
        seconds,
        msgs_per_s: acked as f64 / seconds.max(1e-9),
        email,
        token: tokens[0].clone(),
    })
}

async fn report_progress(counters: Arc<Counters>, total: u64) {
    let mut last = 0;
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let acked = counters.acked.load(Ordering::Relaxed);
        eprintln!("fill: {acked}/{total} acked ({:.0}/s)", (acked - last) as f64 / 5.0);
        last = acked;
    }
}

/// Sends `quota` messages on `ws` (retrying rate-limited ones) and hands the socket back.
async fn fill_connection(mut ws: Ws, chat_id: i64, quota: u64, window: usize, counters: Arc<Counters>) -> Result<Ws> {
    let mut made = 0_u64;
    let mut retry: VecDeque<(Uuid, String)> = VecDeque::new();
    let mut outstanding: HashMap<Uuid, String> = HashMap::new();
    let mut backoff = Instant::now();
    loop {
        if made == quota && retry.is_empty() && outstanding.is_empty() {
            break;
        }
        if Instant::now() >= backoff {
            let mut batch = 0;
            while outstanding.len() < window && (!retry.is_empty() || made < quota) {
                let (client_id, text) = match retry.pop_front() {
                    Some(r) => r,
                    None => {
                        made += 1;
                        (Uuid::new_v4(), message_text(now_nanos(), made))
                    }
                };
                ws.feed(Message::text(send_frame(chat_id, &client_id, &text))).await?;
                outstanding.insert(client_id, text);
                batch += 1;
            }
            if batch > 0 {
                ws.flush().await?;
            }
        }
        let now = Instant::now();
        let wake =
            tokio::time::Instant::from_std(if backoff > now { backoff } else { now + Duration::from_secs(3600) });
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let text = text.as_str();
                    // Deliveries to this connection are frequent and irrelevant here: skip them unparsed.
                    if text.starts_with(r#"{"type":"message""#) {
                        continue;
                    }
                    let Ok(frame) = parse_frame(text) else { continue };
                    let Some(Ok(id)) = frame.client_id.as_deref().map(Uuid::parse_str) else { continue };
                    let Some(sent_text) = outstanding.remove(&id) else { continue };
                    match (frame.kind.as_ref(), frame.code.as_deref()) {
                        ("ack", _) if frame.duplicate == Some(true) => { counters.duplicates.fetch_add(1, Ordering::Relaxed); }
                        ("ack", _) => { counters.acked.fetch_add(1, Ordering::Relaxed); }
                        ("error", Some("rate_limited")) => {
                            counters.retried.fetch_add(1, Ordering::Relaxed);
                            retry.push_back((id, sent_text));
                            backoff = Instant::now() + Duration::from_millis(50);
                        }
                        _ => { counters.failed.fetch_add(1, Ordering::Relaxed); }
                    }
                }
                Some(Ok(Message::Close(_))) | None => bail!("server closed a fill connection"),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(_)) => {}
            },
            () = sleep_until(wake) => {}
        }
    }
    Ok(ws)
}
