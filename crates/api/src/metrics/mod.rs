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
use sampled::{Kind, Reader, Sampled};
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
        let (in_use, idle, max) = (pool.clone(), pool.clone(), pool);
        let (link, failures, dropped, queued) = (bus.clone(), bus.clone(), bus.clone(), bus);
        let pool_help = "Database pool connections: in_use (lent to a statement), idle";
        let series: [(Kind, Opts, Reader); 8] = [
            (
                Kind::Gauge,
                Opts::new("messenger_ws_connections", "Open WebSocket connections on this instance"),
                Box::new(move || hub.connection_count() as f64),
            ),
            (
                Kind::Gauge,
                Opts::new("messenger_db_pool_connections", pool_help).const_label("state", "in_use"),
                Box::new(move || f64::from(in_use.in_use())),
            ),
            (
                Kind::Gauge,
                Opts::new("messenger_db_pool_connections", pool_help).const_label("state", "idle"),
                Box::new(move || f64::from(idle.idle())),
            ),
            (
                Kind::Gauge,
                Opts::new(
                    "messenger_db_pool_max_connections",
                    "DB_MAX_CONNECTIONS: statements wait for a connection once in_use reaches it",
                ),
                Box::new(move || f64::from(max.max())),
            ),
            (
                Kind::Gauge,
                Opts::new(
                    "messenger_bus_link_up",
                    "1 while this instance hears the others through Redis (always 1 without Redis)",
                ),
                Box::new(move || f64::from(u8::from(link.link_up()))),
            ),
            (
                Kind::Counter,
                Opts::new(
                    "messenger_bus_publish_failures_total",
                    "Round trips to Redis that failed or timed out; their events were dropped",
                ),
                Box::new(move || failures.publish_failures() as f64),
            ),
            (
                Kind::Counter,
                Opts::new(
                    "messenger_bus_events_dropped_total",
                    "Events other instances never got from this one (their clients were told to resync)",
                ),
                Box::new(move || dropped.events_dropped() as f64),
            ),
            (
                Kind::Gauge,
                Opts::new("messenger_bus_queue_depth", "Events waiting to be forwarded to Redis"),
                Box::new(move || queued.queued() as f64),
            ),
        ];
        for (kind, opts, read) in series {
            self.registry.register(Box::new(Sampled::new(kind, opts, read)?))?;
        }
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
