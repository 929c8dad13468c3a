use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use domain::DomainError;
use domain::events::{Event, EventBus, EventSink};
use domain::health::HealthProbe;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

use super::{BusStats, InProcessBus};

const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The wire format of [`Envelope`]. An instance that hears another version cannot know what it missed
/// and treats it as lost events (its connections resync) rather than dropping them silently.
const ENVELOPE_VERSION: u16 = 3;
/// Events waiting for Redis at most; past it they are dropped and the loss announced once Redis is back.
const OUTGOING_CAPACITY: usize = 16 * 1024;
/// Events per pipelined round trip to Redis.
const PUBLISH_BATCH: usize = 256;
/// How long one round trip to Redis may take before its events count as lost.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(1);
/// Pause after a failed publish, so that a Redis outage is not a busy loop.
const PUBLISH_RETRY_PAUSE: Duration = Duration::from_millis(200);
/// Losses heard from other instances are announced to the sinks at most this often (each announcement
/// makes every connection resync).
const MISSED_ANNOUNCE_EVERY: Duration = Duration::from_secs(1);

/// What crosses Redis: the publisher's instance (so that it skips its own events, delivered locally
/// already) and the event or the news that some of its events were lost. Encoded from a borrowed
/// body (`Envelope<&Body>`), decoded into an owned one.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope<B> {
    v: u16,
    from: Uuid,
    body: B,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Body {
    Event(Event),
    /// The sender dropped events (Redis was unreachable or too slow): receivers resync their clients.
    EventsLost,
}

/// Reads only the header, so that an envelope of another version is recognised as such.
#[derive(Deserialize)]
struct Header {
    v: u16,
    from: Uuid,
}

/// Carries events between instances through one Redis pub/sub channel per deployment.
///
/// Publishing never waits for Redis: an event reaches this instance's own sinks at once and is queued
/// for a forwarding task, which pipelines the queue to Redis with a bounded wait. While Redis is
/// unreachable, sends are stored and delivered locally at full speed; what other instances missed is
/// made up for when Redis is back: the subscription's return tells this instance's sinks
/// ([`EventSink::link_restored`]), and an `events_lost` envelope tells the others'
/// ([`EventSink::events_missed`]). Connections then get a `resync` frame and catch up with one
/// `POST /sync`.
pub struct RedisBus {
    outgoing: mpsc::Sender<Body>,
    /// Set when events could not be forwarded; cleared once the loss has been announced.
    lost: Arc<AtomicBool>,
    publisher: ConnectionManager,
    local: Arc<InProcessBus>,
    subscribed: Arc<AtomicBool>,
    stats: BusStats,
}

impl RedisBus {
    /// Connects, subscribes, and keeps the subscription alive (reconnecting and resubscribing with
    /// back-off) for as long as the runtime runs.
    ///
    /// # Errors
    /// When Redis cannot be reached at start.
    pub async fn connect(url: &str, channel: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("parsing REDIS_URL")?;
        let publisher = client.get_connection_manager().await.context("connecting to Redis")?;
        let local = Arc::new(InProcessBus::new());
        let subscribed = Arc::new(AtomicBool::new(false));
        let mut pubsub = client.get_async_pubsub().await.context("opening the Redis subscription")?;
        pubsub.subscribe(channel).await.context("subscribing to Redis")?;
        subscribed.store(true, Ordering::SeqCst);
        let instance = Uuid::new_v4();
        let (outgoing, queued) = mpsc::channel(OUTGOING_CAPACITY);
        let waiting = outgoing.downgrade();
        let stats = BusStats::linked(subscribed.clone(), move || {
            waiting.upgrade().map_or(0, |sender| sender.max_capacity() - sender.capacity())
        });
        let lost = Arc::new(AtomicBool::new(false));
        let listener = Listener { instance, local: local.clone(), subscribed: subscribed.clone() };
        tokio::spawn(listener.run(client, channel.to_owned(), pubsub));
        let forwarder = Forwarder { instance, channel: channel.to_owned(), lost: lost.clone(), stats: stats.clone() };
        tokio::spawn(forwarder.run(publisher.clone(), queued));
        Ok(Self { outgoing, lost, publisher, local, subscribed, stats })
    }

    /// Link state, failures and queue depth, for the metrics.
    pub fn stats(&self) -> BusStats {
        self.stats.clone()
    }

    /// Whether this instance currently hears other instances.
    pub fn health(&self) -> Arc<dyn HealthProbe> {
        Arc::new(RedisHealth { publisher: self.publisher.clone(), subscribed: self.subscribed.clone() })
    }
}

impl EventBus for RedisBus {
    fn publish(&self, event: Event) {
        self.local.deliver_locally(&event);
        if let Err(mpsc::error::TrySendError::Full(_)) = self.outgoing.try_send(Body::Event(event)) {
            self.stats.dropped(1);
            if !self.lost.swap(true, Ordering::SeqCst) {
                tracing::warn!("events are piling up for Redis; dropping them until it answers again");
            }
        }
    }

    fn subscribe(&self, sink: Arc<dyn EventSink>) {
        self.local.subscribe(sink);
    }
}

/// Forwards queued events to Redis, pipelined, each round trip bounded in time.
struct Forwarder {
    instance: Uuid,
    channel: String,
    lost: Arc<AtomicBool>,
    stats: BusStats,
}

impl Forwarder {
    async fn run(self, mut publisher: ConnectionManager, mut queued: mpsc::Receiver<Body>) {
        let mut batch = Vec::with_capacity(PUBLISH_BATCH);
        let mut failing = false;
        while queued.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
            // A loss is announced ahead of the events that follow it, and forgotten only once announced.
            let announcing = self.lost.load(Ordering::SeqCst);
            let events = batch.len();
            let mut pipe = redis::pipe();
            if announcing {
                pipe.publish(&self.channel, self.encode(&Body::EventsLost)).ignore();
            }
            for body in batch.drain(..) {
                pipe.publish(&self.channel, self.encode(&body)).ignore();
            }
            match tokio::time::timeout(PUBLISH_TIMEOUT, pipe.query_async::<()>(&mut publisher)).await {
                Ok(Ok(())) => {
                    if announcing {
                        self.lost.store(false, Ordering::SeqCst);
                    }
                    if failing {
                        tracing::info!("publishing to Redis again");
                        failing = false;
                    }
                }
                outcome => {
                    self.stats.publish_failed(events);
                    self.lost.store(true, Ordering::SeqCst);
                    if !failing {
                        let reason = match outcome {
                            Ok(Err(error)) => error.to_string(),
                            _ => format!("no answer within {PUBLISH_TIMEOUT:?}"),
                        };
                        tracing::warn!(%reason, "cannot publish to Redis; events for other instances are dropped");
                        failing = true;
                    }
                    tokio::time::sleep(PUBLISH_RETRY_PAUSE).await;
                }
            }
        }
    }

    fn encode(&self, body: &Body) -> Vec<u8> {
        serde_json::to_vec(&Envelope { v: ENVELOPE_VERSION, from: self.instance, body }).unwrap_or_default()
    }
}

/// Hears every instance's events and hands other instances' to the local sinks.
struct Listener {
    instance: Uuid,
    local: Arc<InProcessBus>,
    subscribed: Arc<AtomicBool>,
}

impl Listener {
    async fn run(self, client: redis::Client, channel: String, first: redis::aio::PubSub) {
        let mut pubsub = Some(first);
        let mut backoff = Duration::from_millis(100);
        let mut last_missed: Option<Instant> = None;
        loop {
            if let Some(mut connection) = pubsub.take() {
                self.subscribed.store(true, Ordering::SeqCst);
                backoff = Duration::from_millis(100);
                let mut messages = connection.on_message();
                while let Some(message) = messages.next().await {
                    if !self.receive(message.get_payload_bytes()) {
                        let now = Instant::now();
                        if last_missed.is_none_or(|at| now.duration_since(at) >= MISSED_ANNOUNCE_EVERY) {
                            last_missed = Some(now);
                            self.local.announce_missed();
                        }
                    }
                }
                self.subscribed.store(false, Ordering::SeqCst);
                self.local.announce_link(false);
                tracing::warn!("lost the Redis subscription; reconnecting");
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            match resubscribe(&client, &channel).await {
                Ok(connection) => {
                    tracing::info!("Redis subscription restored");
                    pubsub = Some(connection);
                    self.local.announce_link(true);
                }
                Err(error) => tracing::warn!(%error, "Redis still unreachable"),
            }
        }
    }

    /// Delivers one payload; `false` when it tells (or is) a loss: events this instance will never see.
    fn receive(&self, payload: &[u8]) -> bool {
        let header = match serde_json::from_slice::<Header>(payload) {
            Ok(header) => header,
            Err(error) => {
                tracing::error!(%error, "an unreadable envelope on the bus (another release?); clients will resync");
                return false;
            }
        };
        if header.from == self.instance {
            return true;
        }
        if header.v != ENVELOPE_VERSION {
            tracing::error!(
                version = header.v,
                ours = ENVELOPE_VERSION,
                "an envelope of another version; clients will resync"
            );
            return false;
        }
        match serde_json::from_slice::<Envelope<Body>>(payload) {
            Ok(Envelope { body: Body::Event(event), .. }) => {
                self.local.deliver_locally(&event);
                true
            }
            Ok(Envelope { body: Body::EventsLost, .. }) => false,
            Err(error) => {
                tracing::error!(%error, "an unreadable event on the bus; clients will resync");
                false
            }
        }
    }
}

async fn resubscribe(client: &redis::Client, channel: &str) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}

struct RedisHealth {
    publisher: ConnectionManager,
    subscribed: Arc<AtomicBool>,
}

#[async_trait]
impl HealthProbe for RedisHealth {
    async fn check(&self) -> Result<(), DomainError> {
        if !self.subscribed.load(Ordering::SeqCst) {
            return Err(DomainError::Unexpected(anyhow::anyhow!("the Redis subscription is down")));
        }
        let mut publisher = self.publisher.clone();
        let _: String = redis::cmd("PING")
            .query_async(&mut publisher)
            .await
            .map_err(|e| DomainError::Unexpected(anyhow::Error::new(e).context("Redis ping")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use domain::ChatId;

    use super::*;

    #[derive(Default)]
    struct Recorder {
        events: Mutex<Vec<Event>>,
        missed: Mutex<usize>,
    }

    impl EventSink for Recorder {
        fn deliver(&self, event: &Event) {
            if let Ok(mut events) = self.events.lock() {
                events.push(event.clone());
            }
        }

        fn events_missed(&self) {
            if let Ok(mut missed) = self.missed.lock() {
                *missed += 1;
            }
        }
    }

    fn listener() -> (Listener, Arc<Recorder>) {
        let local = Arc::new(InProcessBus::new());
        let recorder = Arc::new(Recorder::default());
        local.subscribe(recorder.clone());
        (Listener { instance: Uuid::from_u128(1), local, subscribed: Arc::new(AtomicBool::new(true)) }, recorder)
    }

    fn envelope(from: u128, body: &Body) -> Vec<u8> {
        let envelope = Envelope { v: ENVELOPE_VERSION, from: Uuid::from_u128(from), body };
        serde_json::to_vec(&envelope).unwrap_or_default()
    }

    #[test]
    fn other_instances_events_are_delivered_and_own_ones_skipped() {
        let (listener, recorder) = listener();
        let event = Event::MembersChanged { chat_id: ChatId(3), joined: vec![], left: vec![], member_count: 0 };
        assert!(listener.receive(&envelope(2, &Body::Event(event.clone()))));
        assert!(listener.receive(&envelope(1, &Body::Event(event.clone()))));
        assert_eq!(recorder.events.lock().map(|e| e.clone()).unwrap_or_default(), vec![event]);
    }

    #[test]
    fn losses_other_versions_and_garbage_are_never_silent() {
        let (listener, _) = listener();
        assert!(!listener.receive(&envelope(2, &Body::EventsLost)));
        assert!(!listener.receive(br#"{"v":3,"from":"00000000-0000-0000-0000-000000000002","body":"x"}"#));
        assert!(!listener.receive(br#"{"kind":"typing","chat_id":1}"#), "the previous release's raw events");
        assert!(
            !listener
                .receive(br#"{"v":2,"from":"00000000-0000-0000-0000-000000000002","body":{"event":{"kind":"new"}}}"#)
        );
    }
}
