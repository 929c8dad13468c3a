//! Presence across instances in Redis. Each instance keeps the set of its own online users under a key
//! that expires unless the instance renews it (its lease), and lists itself with the time of its last
//! renewal; a user is online while some live instance's set holds it. An instance that dies stops
//! renewing, and its users go offline when the lease runs out. Every call is bounded in time: Redis
//! being slow or down makes presence answer from this instance's own users, never blocks a connection.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use domain::presence::PresenceRegistry;
use domain::{DomainError, UserId};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use uuid::Uuid;

/// How long an instance's users stay online after it stopped renewing.
const LEASE: Duration = Duration::from_secs(30);
/// How often the lease is renewed.
const RENEW_EVERY: Duration = Duration::from_secs(10);
/// The longest any presence call waits for Redis.
const REDIS_WAIT: Duration = Duration::from_secs(1);

pub struct RedisPresence {
    redis: ConnectionManager,
    /// This instance's set of online users.
    own_key: String,
    /// Every instance, scored by the time of its last renewal (ms since the epoch).
    instances_key: String,
    prefix: String,
    /// The users online here, to restore the set after Redis lost it.
    local: Arc<Mutex<HashSet<UserId>>>,
}

impl RedisPresence {
    /// Connects and starts renewing this instance's lease for as long as the runtime runs.
    /// `namespace` separates deployments sharing one Redis (the bus channel's name).
    ///
    /// # Errors
    /// When Redis cannot be reached at start.
    pub async fn connect(url: &str, namespace: &str) -> anyhow::Result<Arc<Self>> {
        let client = redis::Client::open(url).context("parsing REDIS_URL")?;
        let redis = client.get_connection_manager().await.context("connecting to Redis for presence")?;
        let prefix = format!("{namespace}:presence");
        let instance = Uuid::new_v4();
        let presence = Arc::new(Self {
            redis,
            own_key: format!("{prefix}:instance:{instance}"),
            instances_key: format!("{prefix}:instances"),
            prefix,
            local: Arc::default(),
        });
        let renewing = Arc::downgrade(&presence);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(RENEW_EVERY);
            loop {
                ticker.tick().await;
                let Some(presence) = renewing.upgrade() else { return };
                if let Err(error) = presence.renew().await {
                    tracing::warn!(%error, "could not renew the presence lease in Redis");
                }
            }
        });
        Ok(presence)
    }

    fn local(&self) -> std::sync::MutexGuard<'_, HashSet<UserId>> {
        self.local.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn now_ms() -> f64 {
        // Milliseconds fit an f64 exactly for the next few hundred thousand years.
        #[allow(clippy::cast_precision_loss)]
        let now = chrono::Utc::now().timestamp_millis() as f64;
        now
    }

    /// Lists this instance as alive, re-adds its users (Redis may have restarted) and renews the lease;
    /// forgets instances whose lease ran out long ago.
    async fn renew(&self) -> anyhow::Result<()> {
        let users: Vec<i64> = self.local().iter().map(|u| u.0).collect();
        let mut pipe = redis::pipe();
        if !users.is_empty() {
            pipe.sadd(&self.own_key, users).ignore();
        }
        let lease_ms = LEASE.as_secs_f64() * 1000.0;
        pipe.zrembyscore(&self.instances_key, f64::NEG_INFINITY, Self::now_ms() - 4.0 * lease_ms).ignore();
        self.run(self.list_self(pipe)).await
    }

    /// Adds to `pipe` what keeps this instance listed: its entry in the list of instances, and the
    /// leases of its set and of the list (which goes too once no instance renews it: a deployment, or
    /// a test, that ended).
    fn list_self(&self, mut pipe: redis::Pipeline) -> redis::Pipeline {
        pipe.zadd(&self.instances_key, &self.own_key, Self::now_ms()).ignore();
        pipe.pexpire(&self.own_key, i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX)).ignore();
        pipe.pexpire(&self.instances_key, i64::try_from(4 * LEASE.as_millis()).unwrap_or(i64::MAX)).ignore();
        pipe
    }

    /// Runs `pipe`, waiting no longer than [`REDIS_WAIT`].
    async fn run(&self, pipe: redis::Pipeline) -> anyhow::Result<()> {
        let mut redis = self.redis.clone();
        tokio::time::timeout(REDIS_WAIT, pipe.query_async::<()>(&mut redis)).await.context("timed out")??;
        Ok(())
    }

    /// The keys of the other instances whose lease still runs.
    async fn other_live_instances(&self, redis: &mut ConnectionManager) -> anyhow::Result<Vec<String>> {
        let since = Self::now_ms() - LEASE.as_secs_f64() * 1000.0;
        let keys: Vec<String> = redis.zrangebyscore(&self.instances_key, since, f64::INFINITY).await?;
        Ok(keys.into_iter().filter(|k| *k != self.own_key && k.starts_with(&self.prefix)).collect())
    }

    /// Whether another live instance has `user` online.
    async fn online_elsewhere(&self, user: UserId) -> anyhow::Result<bool> {
        let mut redis = self.redis.clone();
        let check = async {
            let others = self.other_live_instances(&mut redis).await?;
            if others.is_empty() {
                return Ok::<bool, anyhow::Error>(false);
            }
            let mut pipe = redis::pipe();
            for key in &others {
                pipe.sismember(key, user.0);
            }
            let found: Vec<bool> = pipe.query_async(&mut redis).await?;
            Ok(found.into_iter().any(|f| f))
        };
        tokio::time::timeout(REDIS_WAIT, check).await.context("timed out")?
    }

    async fn write_own(&self, user: UserId, add: bool) -> anyhow::Result<()> {
        let mut pipe = redis::pipe();
        if add {
            pipe.sadd(&self.own_key, user.0).ignore();
            pipe = self.list_self(pipe);
        } else {
            pipe.srem(&self.own_key, user.0).ignore();
        }
        self.run(pipe).await
    }

    /// [`RedisPresence::online_elsewhere`], or `false` when Redis does not answer: then this instance
    /// judges from its own users alone.
    async fn online_elsewhere_as_far_as_known(&self, user: UserId) -> bool {
        self.online_elsewhere(user).await.unwrap_or_else(|error| {
            tracing::warn!(%error, "presence: Redis did not answer; judging from this instance alone");
            false
        })
    }
}

#[async_trait]
impl PresenceRegistry for RedisPresence {
    async fn came_online(&self, user: UserId) -> Result<bool, DomainError> {
        self.local().insert(user);
        if let Err(error) = self.write_own(user, true).await {
            tracing::warn!(%error, %user, "presence: Redis did not take a user coming online");
        }
        Ok(!self.online_elsewhere_as_far_as_known(user).await)
    }

    async fn went_offline(&self, user: UserId) -> Result<bool, DomainError> {
        self.local().remove(&user);
        if let Err(error) = self.write_own(user, false).await {
            tracing::warn!(%error, %user, "presence: Redis did not take a user going offline");
        }
        Ok(!self.online_elsewhere_as_far_as_known(user).await)
    }

    async fn is_online(&self, user: UserId) -> Result<bool, DomainError> {
        Ok(self.local().contains(&user) || self.online_elsewhere_as_far_as_known(user).await)
    }
}
