//! Configuration from the environment, read once into one typed struct that is passed in.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use infra::{AuthLimits, InfraConfig, Rate, RateLimits};

use crate::metrics::MetricsSettings;
use crate::ws::WsSettings;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://messenger.db?mode=rwc";

/// HS256 keys shorter than this can be recovered from any token by guessing offline.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// Parts of secrets that were copied from an example: public, so no better than none.
const PLACEHOLDER_MARKS: &[&str] =
    &["changeme", "change-me", "change_me", "replace-me", "replaceme", "your-secret", "yoursecret", "placeholder"];
const PLACEHOLDER_SECRETS: &[&str] = &["secret", "jwt-secret", "jwt_secret", "password", "test-secret", "development"];

/// Refuses a `JWT_SECRET` that is short, a known placeholder or made of a handful of characters.
fn check_jwt_secret(secret: &str) -> anyhow::Result<()> {
    let lower = secret.trim().to_lowercase();
    if PLACEHOLDER_SECRETS.contains(&lower.as_str()) || PLACEHOLDER_MARKS.iter().any(|mark| lower.contains(mark)) {
        bail!("JWT_SECRET is a placeholder from an example; set a random value (e.g. `openssl rand -hex 32`)");
    }
    if secret.len() < MIN_JWT_SECRET_BYTES {
        bail!(
            "JWT_SECRET is {} bytes long; it must be at least {MIN_JWT_SECRET_BYTES} (a random value, e.g. \
             `openssl rand -hex 32`), because a short HS256 key can be recovered from any token by guessing",
            secret.len()
        );
    }
    let distinct: std::collections::HashSet<u8> = secret.bytes().collect();
    if distinct.len() < 8 {
        bail!("JWT_SECRET repeats a few characters; set a random value (e.g. `openssl rand -hex 32`)");
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen_addr: SocketAddr,
    pub infra: InfraConfig,
    pub ws: WsSettings,
    /// How long a send may wait for the database before it is answered `unavailable`.
    pub send_timeout: Duration,
    /// How long a user whose last device left stays online (`PRESENCE_OFFLINE_GRACE_SECS`).
    pub presence_grace: Duration,
    /// `METRICS_ADDR`, `METRICS_TOKEN`: where `GET /metrics` is served and who may read it.
    pub metrics: MetricsSettings,
}

/// `METRICS_ADDR` (host:port, served there only) and `METRICS_TOKEN` (a bearer token), both optional.
fn metrics_settings(get: &impl Fn(&str) -> Option<String>) -> anyhow::Result<MetricsSettings> {
    let addr = match get("METRICS_ADDR").filter(|a| !a.trim().is_empty()) {
        Some(addr) => Some(addr.trim().parse().with_context(|| format!("METRICS_ADDR={addr:?} is not host:port"))?),
        None => None,
    };
    let token = get("METRICS_TOKEN").filter(|t| !t.trim().is_empty());
    Ok(MetricsSettings { addr, token })
}

/// How long a refresh token stays valid by default: 30 days.
const DEFAULT_REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Reads variables through `get`, so tests can configure without touching the process environment.
fn parse<T: std::str::FromStr>(get: &impl Fn(&str) -> Option<String>, name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match get(name) {
        Some(raw) if !raw.trim().is_empty() => {
            raw.trim().parse().map_err(|e| anyhow::anyhow!("{name}={raw:?} is invalid: {e}"))
        }
        _ => Ok(default),
    }
}

/// A token bucket from `{name}_PER_SEC` and `{name}_BURST`.
fn rate(get: &impl Fn(&str) -> Option<String>, name: &str, per_second: f64, burst: f64) -> anyhow::Result<Rate> {
    Ok(Rate {
        per_second: parse(get, &format!("{name}_PER_SEC"), per_second)?,
        burst: parse(get, &format!("{name}_BURST"), burst)?,
    })
}

/// A positive duration given in (possibly fractional) seconds.
fn seconds(get: &impl Fn(&str) -> Option<String>, name: &str, default: Duration) -> anyhow::Result<Duration> {
    let secs: f64 = parse(get, name, default.as_secs_f64())?;
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| anyhow::anyhow!("{name}={secs} must be a positive number of seconds"))
}

impl Config {
    /// # Errors
    /// When a variable holds an invalid value, `JWT_SECRET` is missing with PostgreSQL, or it is weak (shorter
    /// than 32 bytes or a known placeholder).
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// # Errors
    /// As [`Config::from_env`].
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let database_url =
            get("DATABASE_URL").filter(|u| !u.trim().is_empty()).unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let jwt_secret = match get("JWT_SECRET").filter(|s| !s.is_empty()) {
            Some(secret) => {
                check_jwt_secret(&secret)?;
                secret.into_bytes()
            }
            None if database_url.starts_with("sqlite:") => {
                tracing::warn!(
                    "JWT_SECRET is not set: using a random development secret (tokens die with the process)"
                );
                uuid::Uuid::new_v4().as_bytes().iter().chain(uuid::Uuid::new_v4().as_bytes()).copied().collect()
            }
            None => bail!("JWT_SECRET must be set when DATABASE_URL is not SQLite"),
        };
        let listen_addr = parse(&get, "LISTEN_ADDR", "127.0.0.1:8080".to_owned())?;
        let listen_addr =
            listen_addr.parse().with_context(|| format!("LISTEN_ADDR={listen_addr:?} is not host:port"))?;
        let rate_limits = RateLimits {
            sends: rate(&get, "RATE_SEND", 200.0, 400.0)?,
            requests: rate(&get, "RATE_REQUEST", 50.0, 200.0)?,
        };
        // A person never meets these; a password guesser does within seconds.
        let auth_limits = AuthLimits {
            per_address: rate(&get, "RATE_AUTH", 1.0, 30.0)?,
            per_email: rate(&get, "RATE_AUTH_EMAIL", 0.1, 10.0)?,
        };
        let bcrypt_cost = parse(&get, "BCRYPT_COST", 12)?;
        if !(4..=31).contains(&bcrypt_cost) {
            bail!("BCRYPT_COST must be between 4 and 31");
        }
        let defaults = WsSettings::default();
        let ws = WsSettings {
            outbound_queue: parse(&get, "WS_OUTBOUND_QUEUE", defaults.outbound_queue)?.max(1),
            max_connections_per_user: parse(&get, "WS_MAX_CONNECTIONS_PER_USER", defaults.max_connections_per_user)?,
            ping_interval: seconds(&get, "WS_PING_INTERVAL_SECS", defaults.ping_interval)?,
            idle_timeout: seconds(&get, "WS_IDLE_TIMEOUT_SECS", defaults.idle_timeout)?,
            ..defaults
        };
        if ws.idle_timeout <= ws.ping_interval {
            // A peer can only prove it is alive by answering a ping; it needs at least one to answer.
            bail!("WS_IDLE_TIMEOUT_SECS must be longer than WS_PING_INTERVAL_SECS");
        }
        Ok(Self {
            listen_addr,
            infra: InfraConfig {
                database_url,
                db_max_connections: parse(&get, "DB_MAX_CONNECTIONS", 16)?.max(1),
                redis_url: get("REDIS_URL").filter(|u| !u.trim().is_empty()),
                redis_channel: parse(&get, "REDIS_CHANNEL", "messenger:events".to_owned())?,
                jwt_secret,
                jwt_ttl: Duration::from_secs(parse(&get, "JWT_TTL_SECONDS", 3600)?),
                refresh_ttl: seconds(&get, "JWT_REFRESH_TTL_SECONDS", DEFAULT_REFRESH_TTL)?,
                bcrypt_cost,
                rate_limits,
                auth_limits,
            },
            ws,
            send_timeout: seconds(&get, "SEND_TIMEOUT_SECS", app::messages::DEFAULT_SEND_TIMEOUT)?,
            presence_grace: seconds(&get, "PRESENCE_OFFLINE_GRACE_SECS", app::presence::DEFAULT_OFFLINE_GRACE)?,
            metrics: metrics_settings(&get)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> anyhow::Result<Config> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_lookup(move |name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_run_on_sqlite_without_any_setting() -> anyhow::Result<()> {
        let config = config(&[])?;
        assert_eq!(config.infra.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.listen_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.infra.jwt_secret.len(), 32);
        assert_eq!(config.infra.jwt_ttl, Duration::from_secs(3600));
        Ok(())
    }

    #[test]
    fn postgres_needs_a_secret_and_bad_values_are_refused() {
        assert!(config(&[("DATABASE_URL", "postgres://db/m")]).is_err());
        assert!(config(&[("DATABASE_URL", "postgres://db/m"), ("JWT_SECRET", STRONG_SECRET)]).is_ok());
        assert!(config(&[("LISTEN_ADDR", "nowhere")]).is_err());
        assert!(config(&[("RATE_SEND_PER_SEC", "fast")]).is_err());
        assert!(config(&[("BCRYPT_COST", "2")]).is_err());
        assert!(config(&[("WS_PING_INTERVAL_SECS", "0")]).is_err());
        assert!(config(&[("WS_IDLE_TIMEOUT_SECS", "-1")]).is_err());
        assert!(config(&[("WS_PING_INTERVAL_SECS", "30"), ("WS_IDLE_TIMEOUT_SECS", "20")]).is_err());
    }

    const STRONG_SECRET: &str = "9c1d3f0a6b2e4c8d7f5a1b3c9e0d2f4a";

    fn refusal(secret: &str) -> String {
        let refused = config(&[("DATABASE_URL", "postgres://db/m"), ("JWT_SECRET", secret)]);
        refused.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn a_short_jwt_secret_is_refused_saying_why() {
        for secret in ["s", "0123456789abcdef0123456789abcde"] {
            let message = refusal(secret);
            assert!(message.contains("at least 32"), "{secret}: {message}");
        }
        assert!(config(&[("JWT_SECRET", "short")]).is_err(), "on SQLite too");
    }

    #[test]
    fn placeholder_and_repetitive_jwt_secrets_are_refused() {
        for secret in [
            "change-me-in-production",
            "change-me-in-production-0123456789abcdef",
            "CHANGEME-please-0123456789abcdefghijklmnop",
            "secret",
            "your-secret-here-0123456789abcdefghijklmnop",
            &"a".repeat(64),
        ] {
            assert!(!refusal(secret).is_empty(), "{secret} was accepted");
        }
        assert!(refusal(STRONG_SECRET).is_empty());
    }

    #[test]
    fn session_and_sign_in_limits_have_the_contract_defaults() -> anyhow::Result<()> {
        let config = config(&[])?;
        assert_eq!(config.infra.refresh_ttl, Duration::from_secs(30 * 24 * 3600));
        let limits = config.infra.auth_limits;
        assert_eq!((limits.per_address.burst, limits.per_address.per_second), (30.0, 1.0));
        assert_eq!((limits.per_email.burst, limits.per_email.per_second), (10.0, 0.1));
        let tuned = super::tests::config(&[("JWT_REFRESH_TTL_SECONDS", "60"), ("RATE_AUTH_PER_SEC", "0")])?;
        assert_eq!(tuned.infra.refresh_ttl, Duration::from_secs(60));
        assert!(tuned.infra.auth_limits.per_address.per_second.abs() < f64::EPSILON);
        Ok(())
    }

    #[test]
    fn metrics_are_on_the_main_listener_and_open_unless_configured() -> anyhow::Result<()> {
        let open = config(&[])?;
        assert!(open.metrics.addr.is_none() && open.metrics.token.is_none());
        let guarded = config(&[("METRICS_ADDR", "127.0.0.1:9464"), ("METRICS_TOKEN", "scraper-secret")])?;
        assert_eq!(guarded.metrics.addr.map(|a| a.port()), Some(9464));
        assert_eq!(guarded.metrics.token.as_deref(), Some("scraper-secret"));
        assert!(!format!("{guarded:?}").contains("scraper-secret"), "the token stays out of logs");
        assert!(config(&[("METRICS_ADDR", "nowhere")]).is_err());
        Ok(())
    }

    #[test]
    fn websocket_timings_take_fractional_seconds() -> anyhow::Result<()> {
        let config = config(&[("WS_PING_INTERVAL_SECS", "0.25"), ("WS_IDLE_TIMEOUT_SECS", "1.5")])?;
        assert_eq!(
            (config.ws.ping_interval, config.ws.idle_timeout),
            (Duration::from_millis(250), Duration::from_millis(1500))
        );
        Ok(())
    }
}
