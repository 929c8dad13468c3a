//! One device connection during the run: reads every frame (acks, deliveries, errors) and, for
//! a sending device, sends closed-loop (window) or open-loop (fixed rate, intended send times).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::Result;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::counters::{SharedStats, lock};
use crate::stats::{message_text, now_nanos, parse_sent_nanos};
use crate::ws_client::{Ws, parse_frame, send_frame};

#[derive(Debug, Clone, Copy)]
pub enum SendMode {
    /// At most this many un-acked sends outstanding.
    Window(usize),
    /// One send every interval (this sender's share of the total rate).
    Rate(Duration),
}

/// What a sending device sends: its chats (id, expected deliveries per message) in rotation.
pub struct SendPlan {
    pub chats: Vec<(i64, u64)>,
    pub mode: SendMode,
    /// First send; for a fixed rate, staggered across senders.
    pub start: Instant,
    /// No send is started at or after this instant.
    pub stop: Instant,
    /// Unix nanos corresponding to `start`, for intended send times.
    pub start_unix_nanos: i64,
}

/// A sent message, for the history check: its client id and, once acked, the message id.
pub struct SentRecord {
    pub chat_id: i64,
    pub client_id: Uuid,
    pub message_id: Option<i64>,
}

struct Outstanding {
    sent_nanos: i64,
    chat_index: usize,
    record: usize,
}

struct SenderState {
    plan: SendPlan,
    seq: u64,
    next_due: Instant,
    outstanding: HashMap<Uuid, Outstanding>,
    records: Vec<SentRecord>,
}

/// Runs one device until `shutdown` flips to true; returns what it sent.
pub async fn run_device(
    mut ws: Ws,
    plan: Option<SendPlan>,
    stats: SharedStats,
    mut shutdown: watch::Receiver<bool>,
) -> Result<Vec<SentRecord>> {
    let mut sender = plan.map(|plan| SenderState {
        next_due: plan.start,
        plan,
        seq: 0,
        outstanding: HashMap::new(),
        records: Vec::new(),
    });
    let mut seen: HashSet<i64> = HashSet::new();
    let mut last_in_chat: HashMap<i64, (i64, i64)> = HashMap::new();
    let far_future = Instant::now() + Duration::from_secs(86_400 * 365);
    loop {
        let now = Instant::now();
        let mut wake = far_future;
        if let Some(s) = sender.as_mut() {
            match send_due(&mut ws, s, &stats, now).await {
                Ok(next) => wake = next,
                Err(_) => {
                    // The server went away: count it, keep what was sent for the report.
                    lock(&stats).disconnects += 1;
                    break;
                }
            }
        }
        tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => break,
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    on_text(text.as_str(), sender.as_mut(), &mut seen, &mut last_in_chat, &stats);
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    lock(&stats).disconnects += 1;
                    break;
                }
                Some(Ok(_)) => {}
            },
            () = sleep_until(wake) => {}
        }
    }
    let _ = ws.close(None).await;
    Ok(sender.map(|s| s.records).unwrap_or_default())
}

/// Sends whatever is due now; returns when to wake up for the next send (if not woken by a frame).
async fn send_due(ws: &mut Ws, s: &mut SenderState, stats: &SharedStats, now: Instant) -> Result<Instant> {
    let far = now + Duration::from_secs(86_400);
    if now < s.plan.start {
        return Ok(s.plan.start);
    }
    if s.plan.chats.is_empty() {
        return Ok(far);
    }
    let mut batch = 0_u64;
    match s.plan.mode {
        SendMode::Window(window) => {
            while s.outstanding.len() < window && now < s.plan.stop {
                let sent_nanos = now_nanos();
                send_one(ws, s, sent_nanos).await?;
                batch += 1;
            }
        }
        SendMode::Rate(interval) => {
            while s.next_due <= now && s.next_due < s.plan.stop {
                let offset = s.next_due.duration_since(s.plan.start).as_nanos();
                let intended = s.plan.start_unix_nanos + i64::try_from(offset).unwrap_or(i64::MAX);
                send_one(ws, s, intended).await?;
                s.next_due += interval;
                batch += 1;
            }
        }
    }
    if batch > 0 {
        ws.flush().await?;
        let mut st = lock(stats);
        st.sent += batch;
        st.outstanding += batch;
    }
    Ok(match s.plan.mode {
        SendMode::Rate(_) if s.next_due < s.plan.stop => s.next_due,
        _ => far,
    })
}

async fn send_one(ws: &mut Ws, s: &mut SenderState, sent_nanos: i64) -> Result<()> {
    let chat_index = usize::try_from(s.seq).unwrap_or(0) % s.plan.chats.len();
    let chat_id = s.plan.chats[chat_index].0;
    let client_id = Uuid::new_v4();
    let frame = send_frame(chat_id, &client_id, &message_text(sent_nanos, s.seq));
    s.seq += 1;
    ws.feed(Message::text(frame)).await?;
    s.records.push(SentRecord { chat_id, client_id, message_id: None });
    let record = s.records.len() - 1;
    s.outstanding.insert(client_id, Outstanding { sent_nanos, chat_index, record });
    Ok(())
}

fn on_text(
    text: &str,
    sender: Option<&mut SenderState>,
    seen: &mut HashSet<i64>,
    last_in_chat: &mut HashMap<i64, (i64, i64)>,
    stats: &SharedStats,
) {
    let now = now_nanos();
    let Ok(frame) = parse_frame(text) else {
        lock(stats).error("unparsable_frame");
        return;
    };
    match frame.kind.as_ref() {
        "message" => {
            let Ok(m) = frame.message() else {
                lock(stats).error("bad_message_frame");
                return;
            };
            let mut st = lock(stats);
            if !seen.insert(m.id) {
                st.duplicate_deliveries += 1;
                return;
            }
            let key = m.history_key();
            let last = last_in_chat.entry(m.chat_id).or_insert(key);
            if key < *last {
                st.order_violations += 1;
            }
            *last = (*last).max(key);
            st.on_delivery(m.id, parse_sent_nanos(&m.text), now);
        }
        "ack" | "error" => {
            let pending = match (sender, frame.client_id.as_deref().map(Uuid::parse_str)) {
                (Some(s), Some(Ok(id))) => s.outstanding.remove(&id).map(|o| (s, o)),
                _ => None,
            };
            let mut st = lock(stats);
            let Some((s, o)) = pending else {
                if frame.kind == "error" {
                    st.error(frame.code.as_deref().unwrap_or("unknown"));
                } else {
                    st.foreign_frames += 1;
                }
                return;
            };
            if frame.kind == "error" {
                st.outstanding = st.outstanding.saturating_sub(1);
                st.error(frame.code.as_deref().unwrap_or("unknown"));
                return;
            }
            let Ok(m) = frame.message() else {
                st.outstanding = st.outstanding.saturating_sub(1);
                st.error("bad_ack_frame");
                return;
            };
            s.records[o.record].message_id = Some(m.id);
            if frame.duplicate == Some(true) {
                // We never resend a client_id, so a duplicate ack means the server saw it twice.
                st.outstanding = st.outstanding.saturating_sub(1);
                st.duplicate_acks += 1;
                return;
            }
            st.on_ack(m.id, s.plan.chats[o.chat_index].1, o.sent_nanos, now);
        }
        _ => {}
    }
}
