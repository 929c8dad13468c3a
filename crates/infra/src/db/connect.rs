//! Opening the database and applying migrations.

use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};

/// An arbitrary constant naming our migration lock among PostgreSQL advisory locks.
const MIGRATION_LOCK_KEY: i64 = 0x6d65_7373_656e_6772;

/// How long a statement may wait for a pooled connection (including opening one). Short, so that a
/// database outage is answered `unavailable` within seconds instead of hanging requests.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Opens a pool. SQLite gets write-ahead logging so that readers do not wait for the writer.
///
/// # Errors
/// When the URL is malformed or the database does not answer.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(ACQUIRE_TIMEOUT)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .sqlx_logging(false);
    let db = Database::connect(options).await.with_context(|| format!("connecting to {}", redact(url)))?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .await
            .context("configuring SQLite")?;
    }
    Ok(db)
}

/// A pool's connections as an operator sees them: read at each scrape of the metrics, never on the path
/// of a request (sqlx keeps these numbers anyway).
#[derive(Clone)]
pub struct PoolStats {
    db: DatabaseConnection,
}

impl PoolStats {
    pub fn new(db: &DatabaseConnection) -> Self {
        Self { db: db.clone() }
    }

    /// Connections open (busy or idle), idle ones, and the most the pool may open.
    fn sizes(&self) -> (u32, usize, u32) {
        match self.db.get_database_backend() {
            DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
            DbBackend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
            _ => (0, 0, 0),
        }
    }

    /// Connections lent to a statement or transaction right now.
    pub fn in_use(&self) -> u32 {
        let (open, idle, _) = self.sizes();
        open.saturating_sub(u32::try_from(idle).unwrap_or(u32::MAX))
    }

    /// Connections open and waiting for work.
    pub fn idle(&self) -> u32 {
        u32::try_from(self.sizes().1).unwrap_or(u32::MAX)
    }

    /// `DB_MAX_CONNECTIONS`: when `in_use` reaches it, further statements wait for a connection (at most
    /// the acquire timeout, then they are answered `unavailable`).
    pub fn max(&self) -> u32 {
        self.sizes().2
    }
}

/// Applies pending migrations. On PostgreSQL an advisory lock held on a dedicated connection makes
/// instances that start together take turns; SQLite serialises writers by itself.
///
/// # Errors
/// When the database does not answer or a migration fails.
pub async fn migrate_with_lock(url: &str) -> anyhow::Result<()> {
    let db = connect(url, 1).await?;
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    if postgres {
        db.execute_unprepared(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
            .await
            .context("taking the migration lock")?;
    }
    let result = Migrator::up(&db, None).await.context("applying migrations");
    if postgres {
        db.execute_unprepared(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
            .await
            .context("releasing the migration lock")?;
    }
    db.close().await.context("closing the migration connection")?;
    result
}

/// The URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_the_logs() {
        assert_eq!(redact("postgres://app:s3cret@db:5432/m"), "postgres://app:***@db:5432/m");
        assert_eq!(redact("postgres://postgres@127.0.0.1/m"), "postgres://postgres@127.0.0.1/m");
        assert_eq!(redact("sqlite://messenger.db?mode=rwc"), "sqlite://messenger.db?mode=rwc");
    }
}
