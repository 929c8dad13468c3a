//! The members' connections: one task each reads every frame, and records each `message` frame's
//! latency (intended send time → received) into the phase the message was sent in.
//!
//! 10,000 connections receive up to 200,000 frames a second, so the bookkeeping is split over shards
//! (a connection always records into the same one) and kept per connection to one integer: a group's
//! messages arrive in history order, so a message id not above the last one is a duplicate (equal) or
//! out of order (below).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use futures_util::StreamExt;
use hdrhistogram::Histogram;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::stats::{new_histogram, now_nanos, parse_sent_nanos, record_nanos};
use crate::ws_client::{Ws, parse_frame};

const SHARDS: usize = 32;

/// The sending window of one phase (unix nanos): messages sent in `[start, end)` belong to it, and
/// those sent from `measure_start` on count towards its latency.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: i64,
    pub measure_start: i64,
    pub end: i64,
}

/// What the member connections saw of one phase.
pub struct PhaseTally {
    pub latency: Histogram<u64>,
    /// Message id → connections it reached (first time on each).
    pub received: HashMap<i64, u64>,
    pub deliveries: u64,
    /// Received inside the measured window.
    pub deliveries_measured: u64,
    pub duplicates: u64,
    pub order_violations: u64,
}

impl PhaseTally {
    fn new() -> Self {
        Self {
            latency: new_histogram(),
            received: HashMap::new(),
            deliveries: 0,
            deliveries_measured: 0,
            duplicates: 0,
            order_violations: 0,
        }
    }

    fn merge(&mut self, other: &Self) -> anyhow::Result<()> {
        self.latency.add(&other.latency).map_err(|e| anyhow::anyhow!("merging histograms: {e:?}"))?;
        for (id, n) in &other.received {
            *self.received.entry(*id).or_default() += n;
        }
        self.deliveries += other.deliveries;
        self.deliveries_measured += other.deliveries_measured;
        self.duplicates += other.duplicates;
        self.order_violations += other.order_violations;
        Ok(())
    }
}

/// Everything the member connections report.
pub struct Receivers {
    windows: RwLock<Vec<Window>>,
    shards: Vec<Mutex<Vec<PhaseTally>>>,
    /// Frames that are not `message` frames (presence, chat_updated, …), by any connection.
    pub other_frames: AtomicU64,
    /// When the last such frame arrived (unix nanos), to tell when a storm of them is over.
    pub last_other_frame: AtomicU64,
    /// Messages sent outside every phase (e.g. by something else), or with a foreign text.
    pub foreign_messages: AtomicU64,
    pub unparsable: AtomicU64,
    pub open: AtomicUsize,
    pub disconnects: AtomicUsize,
}

impl Receivers {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            windows: RwLock::new(Vec::new()),
            shards: (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect(),
            other_frames: AtomicU64::new(0),
            last_other_frame: AtomicU64::new(0),
            foreign_messages: AtomicU64::new(0),
            unparsable: AtomicU64::new(0),
            open: AtomicUsize::new(0),
            disconnects: AtomicUsize::new(0),
        })
    }

    /// Starts a phase: messages sent inside `window` are counted as its own from now on.
    pub fn add_window(&self, window: Window) -> usize {
        let mut windows = self.windows.write().unwrap_or_else(PoisonError::into_inner);
        windows.push(window);
        windows.len() - 1
    }

    /// The tallies of phase `phase` over all connections.
    pub fn tally(&self, phase: usize) -> anyhow::Result<PhaseTally> {
        let mut total = PhaseTally::new();
        for shard in &self.shards {
            if let Some(t) = lock(shard).get(phase) {
                total.merge(t)?;
            }
        }
        Ok(total)
    }

    /// Deliveries of phase `phase` so far (cheap enough to poll while draining).
    pub fn deliveries(&self, phase: usize) -> u64 {
        self.shards.iter().map(|s| lock(s).get(phase).map_or(0, |t| t.deliveries)).sum()
    }

    fn phase_of(&self, sent_nanos: i64) -> Option<(usize, Window)> {
        let windows = self.windows.read().unwrap_or_else(PoisonError::into_inner);
        windows
            .iter()
            .enumerate()
            .rev()
            .find(|(_, w)| sent_nanos >= w.start && sent_nanos < w.end)
            .map(|(i, w)| (i, *w))
    }

    fn on_other_frame(&self) {
        self.other_frames.fetch_add(1, Ordering::Relaxed);
        self.last_other_frame.store(u64::try_from(now_nanos()).unwrap_or(0), Ordering::Relaxed);
    }
}

fn lock(shard: &Mutex<Vec<PhaseTally>>) -> MutexGuard<'_, Vec<PhaseTally>> {
    // A poisoned lock only means another task panicked mid-update; the tallies are still usable.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads member connection number `index` until `shutdown` or until the server closes it.
pub async fn receive(index: usize, mut ws: Ws, receivers: Arc<Receivers>, mut shutdown: watch::Receiver<bool>) {
    receivers.open.fetch_add(1, Ordering::Relaxed);
    let shard = &receivers.shards[index % SHARDS];
    let mut last_id = 0_i64;
    loop {
        let frame = tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => break,
            frame = ws.next() => frame,
        };
        match frame {
            Some(Ok(Message::Text(text))) => on_text(text.as_str(), &receivers, shard, &mut last_id),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                receivers.disconnects.fetch_add(1, Ordering::Relaxed);
                break;
            }
            Some(Ok(_)) => {}
        }
    }
    receivers.open.fetch_sub(1, Ordering::Relaxed);
    let _ = ws.close(None).await;
}

fn on_text(text: &str, receivers: &Receivers, shard: &Mutex<Vec<PhaseTally>>, last_id: &mut i64) {
    let now = now_nanos();
    // Presence and membership frames can come by the million while a big group connects: they are
    // told apart by their first bytes (the server writes `type` first) and not parsed.
    if !text.starts_with(r#"{"type":"message""#) {
        receivers.on_other_frame();
        return;
    }
    let Some(message) = parse_frame(text).ok().and_then(|f| f.message().ok()) else {
        receivers.unparsable.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let Some((phase, window)) = parse_sent_nanos(&message.text).and_then(|sent| receivers.phase_of(sent)) else {
        receivers.foreign_messages.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let mut tallies = lock(shard);
    while tallies.len() <= phase {
        tallies.push(PhaseTally::new());
    }
    let tally = &mut tallies[phase];
    if message.id <= *last_id {
        if message.id == *last_id {
            tally.duplicates += 1;
        } else {
            tally.order_violations += 1;
        }
        return;
    }
    *last_id = message.id;
    tally.deliveries += 1;
    *tally.received.entry(message.id).or_default() += 1;
    if let Some(sent) = parse_sent_nanos(&message.text).filter(|s| *s >= window.measure_start) {
        tally.deliveries_measured += 1;
        record_nanos(&mut tally.latency, now - sent);
    }
}
