use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use domain::DomainError;
use domain::events::{Event, EventBus, EventSink};
use domain::health::HealthProbe;
use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use super::InProcessBus;

const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Carries events between instances through one Redis pub/sub channel per deployment. Every instance, this one
/// included, hears each event from its subscription, so that there is one path and one order: events
/// one process publishes one after another reach every instance in that order.
///
/// While Redis is unreachable, events still reach this instance's own connections (delivered locally),
/// but not the others'; they are never lost for storage. When the subscription comes back the sinks are
/// told ([`EventSink::link_restored`]) so that caches start over and connections are asked to reconnect
/// and catch up through `GET /history?after_id=`.
pub struct RedisBus {
    publisher: ConnectionManager,
    channel: String,
    local: Arc<InProcessBus>,
    subscribed: Arc<AtomicBool>,
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
        tokio::spawn(listen(client, channel.to_owned(), pubsub, local.clone(), subscribed.clone()));
        Ok(Self { publisher, channel: channel.to_owned(), local, subscribed })
    }

    /// Whether this instance currently hears other instances.
    pub fn health(&self) -> Arc<dyn HealthProbe> {
        Arc::new(RedisHealth { publisher: self.publisher.clone(), subscribed: self.subscribed.clone() })
    }
}

async fn listen(
    client: redis::Client,
    channel: String,
    first: redis::aio::PubSub,
    local: Arc<InProcessBus>,
    subscribed: Arc<AtomicBool>,
) {
    let mut pubsub = Some(first);
    let mut backoff = Duration::from_millis(100);
    loop {
        if let Some(mut connection) = pubsub.take() {
            subscribed.store(true, Ordering::SeqCst);
            backoff = Duration::from_millis(100);
            let mut messages = connection.on_message();
            while let Some(message) = messages.next().await {
                match serde_json::from_slice::<Event>(message.get_payload_bytes()) {
                    Ok(event) => local.deliver_locally(&event),
                    Err(error) => tracing::error!(%error, "dropping an unreadable event from Redis"),
                }
            }
            subscribed.store(false, Ordering::SeqCst);
            local.announce_link(false);
            tracing::warn!("lost the Redis subscription; reconnecting");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        match resubscribe(&client, &channel).await {
            Ok(connection) => {
                tracing::info!("Redis subscription restored");
                pubsub = Some(connection);
                local.announce_link(true);
            }
            Err(error) => tracing::warn!(%error, "Redis still unreachable"),
        }
    }
}

async fn resubscribe(client: &redis::Client, channel: &str) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}

#[async_trait]
impl EventBus for RedisBus {
    async fn publish(&self, event: Event) -> Result<(), DomainError> {
        let payload = serde_json::to_vec(&event).map_err(|e| DomainError::Unexpected(e.into()))?;
        let mut publisher = self.publisher.clone();
        let published: redis::RedisResult<i64> = publisher.publish(&self.channel, payload).await;
        published.map(drop).map_err(|error| {
            // This instance's own connections (the sender's ack among them) need not wait for Redis.
            self.local.deliver_locally(&event);
            DomainError::Unexpected(anyhow::Error::new(error).context("publishing to Redis"))
        })
    }

    fn subscribe(&self, sink: Arc<dyn EventSink>) {
        self.local.subscribe(sink);
    }
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
