//! The server's metrics in the Prometheus text format (`GET /metrics`).
//!
//! Each [`Application`](crate::Application) has a registry of its own, so that several servers in one
//! process (the tests) count apart. Series on the request path are resolved when the server starts and
//! recorded with atomic adds; the ones other parts already know (open connections, the database pool,
//! the bus) are read when scraped. README's "Operating it" says what each means.

mod endpoint;
pub mod http;
mod sampled;
pub mod ws;

use std::sync::Arc;

use infra::Watched;
use prometheus::{IntGauge, Opts, Registry, TextEncoder};

pub use endpoint::{Endpoint, MetricsSettings, routes};
pub use http::HttpMetrics;
use sampled::{Kind, Sampled};
pub use ws::{SendOutcomes, WsMetrics};

use crate::ws::Hub;

pub struct Metrics {
    registry: Registry,
    pub ws: Arc<WsMetrics>,
    pub http: Arc<HttpMetrics>,
    /// `POST /chats/{chat_id}/messages`; WebSocket sends are in [`WsMetrics::sends`].
    pub rest_sends: SendOutcomes,
}

impl Metrics {
    /// # Errors
    /// When two series share a name (a bug).
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let sends = ws::sends_family();
        registry.register(Box::new(sends.clone()))?;
        let ws = Arc::new(WsMetrics::new(&sends));
        ws.register(&registry)?;
        let http = Arc::new(HttpMetrics::new());
        http.register(&registry)?;
        let build = IntGauge::with_opts(
            Opts::new("messenger_build_info", "Always 1; the version of the running binary")
                .const_label("version", env!("CARGO_PKG_VERSION")),
        )?;
        build.set(1);
        registry.register(Box::new(build))?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))?;
        Ok(Self { registry, ws, http, rest_sends: SendOutcomes::of(&sends, "rest") })
    }

    /// Reads the hub's and the adapters' numbers at each scrape.
    ///
    /// # Errors
    /// When two series share a name (a bug).
    pub fn watch(&self, hub: Arc<Hub>, watched: Watched) -> anyhow::Result<()> {
        let Watched { pool, bus } = watched;
        self.sample(
            Kind::Gauge,
            Opts::new("messenger_ws_connections", "Open WebSocket connections on this instance"),
            { move || hub.connection_count() as f64 },
        )?;
        let pool_help = "Database pool connections: in_use (lent to a statement), idle";
        let in_use = pool.clone();
        self.sample(
            Kind::Gauge,
            Opts::new("messenger_db_pool_connections", pool_help).const_label("state", "in_use"),
            { move || f64::from(in_use.in_use()) },
        )?;
        let idle = pool.clone();
        self.sample(
            Kind::Gauge,
            Opts::new("messenger_db_pool_connections", pool_help).const_label("state", "idle"),
            { move || f64::from(idle.idle()) },
        )?;
        let max_help = "DB_MAX_CONNECTIONS: statements wait for a connection once in_use reaches it";
        self.sample(Kind::Gauge, Opts::new("messenger_db_pool_max_connections", max_help), move || {
            f64::from(pool.max())
        })?;
        let link = bus.clone();
        let link_help = "1 while this instance hears the others through Redis (always 1 without Redis)";
        self.sample(Kind::Gauge, Opts::new("messenger_bus_link_up", link_help), move || {
            f64::from(u8::from(link.link_up()))
        })?;
        let failures = bus.clone();
        let failures_help = "Round trips to Redis that failed or timed out; their events were dropped";
        self.sample(Kind::Counter, Opts::new("messenger_bus_publish_failures_total", failures_help), move || {
            failures.publish_failures() as f64
        })?;
        let dropped = bus.clone();
        let dropped_help = "Events other instances never got from this one (their clients were told to resync)";
        self.sample(Kind::Counter, Opts::new("messenger_bus_events_dropped_total", dropped_help), move || {
            dropped.events_dropped() as f64
        })?;
        let queued_help = "Events waiting to be forwarded to Redis";
        self.sample(Kind::Gauge, Opts::new("messenger_bus_queue_depth", queued_help), move || bus.queued() as f64)?;
        Ok(())
    }

    fn sample(&self, kind: Kind, opts: Opts, read: impl Fn() -> f64 + Send + Sync + 'static) -> anyhow::Result<()> {
        self.registry.register(Box::new(Sampled::new(kind, opts, read)?))?;
        Ok(())
    }

    /// Every series, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = String::with_capacity(16 * 1024);
        if let Err(error) = TextEncoder::new().encode_utf8(&self.registry.gather(), &mut text) {
            tracing::error!(%error, "encoding the metrics");
        }
        text
    }
}
