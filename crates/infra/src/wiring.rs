//! Builds every adapter from configuration. The api crate's composition root calls this once.

use std::sync::Arc;
use std::time::Duration;

use domain::chat::ChatRepository;
use domain::events::EventBus;
use domain::health::HealthProbe;
use domain::message::{MessageRepository, ReceiptRepository};
use domain::presence::PresenceRegistry;
use domain::rate_limit::{AuthAttemptLimiter, RateLimiter};
use domain::session::SessionStore;
use domain::user::{AccountStamps, PasswordHasher, TokenService, UserRepository};

use async_trait::async_trait;
use domain::DomainError;
use sea_orm::DatabaseConnection;

use crate::auth::{BcryptHasher, CachedAccountStamps, JwtTokens};
use crate::bus::{BusStats, InProcessBus, RedisBus};
use crate::db::{
    self, BatchedMessageRepository, PoolStats, SeaAccountStamps, SeaChatRepository, SeaReceiptRepository,
    SeaSessionStore, SeaUserRepository,
};
use crate::membership_cache::MembershipCache;
use crate::presence::{InMemoryPresence, RedisPresence};
use crate::rate_limit::{AuthBuckets, AuthLimits, RateLimits, TokenBuckets};

/// What the adapters need to know; the api crate fills it from the environment.
#[derive(Debug, Clone)]
pub struct InfraConfig {
    pub database_url: String,
    pub db_max_connections: u32,
    pub redis_url: Option<String>,
    /// The pub/sub channel instances share; one per deployment.
    pub redis_channel: String,
    pub jwt_secret: Vec<u8>,
    pub jwt_ttl: Duration,
    /// How long a refresh token stays valid (each refresh starts it again).
    pub refresh_ttl: Duration,
    pub bcrypt_cost: u32,
    pub rate_limits: RateLimits,
    pub auth_limits: AuthLimits,
}

/// Every port, implemented.
#[derive(Clone)]
pub struct Adapters {
    pub users: Arc<dyn UserRepository>,
    pub chats: Arc<dyn ChatRepository>,
    pub messages: Arc<dyn MessageRepository>,
    pub receipts: Arc<dyn ReceiptRepository>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub tokens: Arc<dyn TokenService>,
    pub accounts: Arc<dyn AccountStamps>,
    pub sessions: Arc<dyn SessionStore>,
    pub bus: Arc<dyn EventBus>,
    pub limiter: Arc<dyn RateLimiter>,
    pub auth_limiter: Arc<dyn AuthAttemptLimiter>,
    pub health: Arc<dyn HealthProbe>,
    pub presence: Arc<dyn PresenceRegistry>,
}

/// What the adapters let an operator watch, read at each scrape of the metrics.
#[derive(Clone)]
pub struct Watched {
    pub pool: PoolStats,
    pub bus: BusStats,
}

/// Connects to the database (applying pending migrations) and the event bus, and builds every adapter.
///
/// # Errors
/// When the database or Redis cannot be reached, or a migration fails.
pub async fn build(config: &InfraConfig) -> anyhow::Result<(Adapters, Watched)> {
    db::migrate_with_lock(&config.database_url).await?;
    let pool = db::connect(&config.database_url, config.db_max_connections).await?;
    let database_health: Arc<dyn HealthProbe> = Arc::new(DatabaseHealth { db: pool.clone() });
    let (bus, health, bus_stats): (Arc<dyn EventBus>, Arc<dyn HealthProbe>, _) = match &config.redis_url {
        Some(url) => {
            let redis = RedisBus::connect(url, &config.redis_channel).await?;
            let health = Arc::new(AllHealthy(vec![database_health, redis.health()]));
            let stats = redis.stats();
            (Arc::new(redis), health, stats)
        }
        None => (Arc::new(InProcessBus::new()), database_health, BusStats::in_process()),
    };
    let presence: Arc<dyn PresenceRegistry> = match &config.redis_url {
        Some(url) => RedisPresence::connect(url, &config.redis_channel).await?,
        None => Arc::new(InMemoryPresence::new()),
    };
    let watched = Watched { pool: PoolStats::new(&pool), bus: bus_stats };
    let chats = Arc::new(MembershipCache::new(Arc::new(SeaChatRepository::new(pool.clone()))));
    bus.subscribe(chats.clone());
    let adapters = Adapters {
        users: Arc::new(SeaUserRepository::new(pool.clone())),
        chats,
        messages: Arc::new(BatchedMessageRepository::new(pool.clone())),
        receipts: Arc::new(SeaReceiptRepository::new(pool.clone())),
        hasher: Arc::new(BcryptHasher::new(config.bcrypt_cost)),
        tokens: Arc::new(JwtTokens::new(&config.jwt_secret, config.jwt_ttl)),
        accounts: Arc::new(CachedAccountStamps::new(Arc::new(SeaAccountStamps::new(pool.clone())))),
        sessions: Arc::new(SeaSessionStore::new(pool.clone(), config.refresh_ttl)),
        bus,
        limiter: Arc::new(TokenBuckets::new(config.rate_limits)),
        auth_limiter: Arc::new(AuthBuckets::new(config.auth_limits)),
        health,
        presence,
    };
    Ok((adapters, watched))
}

/// Applies pending migrations; safe when several instances start at once.
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub async fn migrate(database_url: &str) -> anyhow::Result<()> {
    db::migrate_with_lock(database_url).await
}

/// Creates the demo data (idempotently) and returns a human-readable report of the credentials.
///
/// # Errors
/// When the database cannot be reached.
pub async fn seed(database_url: &str, bcrypt_cost: u32) -> anyhow::Result<String> {
    db::migrate_with_lock(database_url).await?;
    let pool = db::connect(database_url, 2).await?;
    let report = crate::seed::run(&pool, &BcryptHasher::new(bcrypt_cost)).await;
    pool.close().await?;
    report
}

struct DatabaseHealth {
    db: DatabaseConnection,
}

#[async_trait]
impl HealthProbe for DatabaseHealth {
    async fn check(&self) -> Result<(), DomainError> {
        self.db.ping().await.map_err(|e| DomainError::Unexpected(anyhow::Error::new(e).context("database ping")))
    }
}

/// Healthy when every probe is.
struct AllHealthy(Vec<Arc<dyn HealthProbe>>);

#[async_trait]
impl HealthProbe for AllHealthy {
    async fn check(&self) -> Result<(), DomainError> {
        for probe in &self.0 {
            probe.check().await?;
        }
        Ok(())
    }
}
