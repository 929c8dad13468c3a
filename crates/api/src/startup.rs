//! The composition root: builds the adapters, the use-cases and the servers, and nothing else knows
//! which adapters are in use.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpResponse, HttpServer, web};
use actix_ws::CloseCode;
use anyhow::Context;
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Config;
use crate::error::ApiError;
use crate::http::{self, RequestSpan};
use crate::metrics::{self, Endpoint, Metrics};
use crate::openapi::ApiDoc;
use crate::state::Services;
use crate::ws::{self, Hub};

/// Connections one worker accepts at once (each WebSocket holds one for its life).
const MAX_CONNECTIONS_PER_WORKER: usize = 200_000;

/// A running server bound to its port (port 0 in tests picks a free one).
pub struct Application {
    port: u16,
    server: Server,
    hub: Arc<Hub>,
    /// `/metrics` on `METRICS_ADDR`, when that is set: its port and its server.
    metrics_server: Option<(u16, Server)>,
}

impl Application {
    /// Connects to the database (migrating it) and the bus, and binds the listener.
    ///
    /// # Errors
    /// When a dependency cannot be reached or the address cannot be bound.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let (adapters, watched) = infra::build(&config.infra).await?;
        let services = web::Data::new(Services::new(adapters, config.send_timeout, config.presence_grace));
        let metrics = Arc::new(Metrics::new()?);
        let directory = services.clone().into_inner();
        let hub = Arc::new(Hub::new(config.ws.outbound_queue).with_metrics(metrics.ws.clone()).with_directory(
            Arc::new(move |user| {
                let services = directory.clone();
                Box::pin(async move { services.chats.chat_ids_of(user).await })
            }),
        ));
        metrics.watch(hub.clone(), watched)?;
        services.bus.subscribe(hub.clone());
        let endpoint = web::Data::new(Endpoint::new(metrics.clone(), config.metrics.token.clone()));
        let metrics_server = config.metrics.addr.map(|addr| metrics_server(addr, &endpoint)).transpose()?;
        if metrics_server.is_none() && config.metrics.token.is_none() && !config.listen_addr.ip().is_loopback() {
            tracing::warn!("GET /metrics is open to anyone who reaches LISTEN_ADDR: set METRICS_TOKEN or METRICS_ADDR");
        }
        let metrics_on_main = metrics_server.is_none();
        let metrics_data = web::Data::from(metrics.clone());
        let listener =
            TcpListener::bind(config.listen_addr).with_context(|| format!("binding {}", config.listen_addr))?;
        let port = listener.local_addr()?.port();
        let hub_data = web::Data::from(hub.clone());
        let ws_settings = web::Data::new(config.ws);
        let openapi = ApiDoc::openapi();
        let server = HttpServer::new(move || {
            let http_metrics = metrics.http.clone();
            let endpoint = endpoint.clone();
            App::new()
                .wrap_fn(http::routing::head_as_get)
                .wrap_fn(http::body_deadline::body_deadline)
                .wrap(
                    DefaultHeaders::new()
                        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                        .add((header::REFERRER_POLICY, "no-referrer")),
                )
                .wrap_fn(http::answer_request_id)
                .wrap_fn(move |req, service| http_metrics.around(req, service))
                .wrap(TracingLogger::<RequestSpan>::new())
                .app_data(metrics_data.clone())
                .app_data(services.clone())
                .app_data(hub_data.clone())
                .app_data(ws_settings.clone())
                .configure(http::routes)
                .configure(|cfg| {
                    if metrics_on_main {
                        metrics::routes(endpoint)(cfg);
                    }
                })
                .route("/ws", web::get().to(ws::upgrade))
                .route(
                    "/docs",
                    web::get().to(|| async {
                        HttpResponse::PermanentRedirect().insert_header(("Location", "/docs/")).finish()
                    }),
                )
                .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi.clone()))
                .default_service(web::to(http::routing::unmatched))
        })
        // Small frames must leave at once: with Nagle's algorithm on, a frame waits for the peer's
        // delayed ACK (~40 ms) and real-time latency goes with it.
        .on_connect(|connection, _| {
            if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            }
        })
        // A client gets this long to send its request head; a slow body is bounded by BodyDeadline.
        .client_request_timeout(Duration::from_secs(5))
        // actix stops accepting past 25,600 connections a worker by default: far fewer WebSockets than
        // an instance holds in memory (BENCHMARKS.md). The process's open-files limit is the real bound.
        .max_connections(MAX_CONNECTIONS_PER_WORKER)
        .disable_signals()
        .shutdown_timeout(10)
        .listen(listener)?
        .run();
        match &metrics_server {
            Some((metrics_port, _)) => tracing::info!(port, metrics_port, "listening"),
            None => tracing::info!(port, "listening"),
        }
        Ok(Self { port, server, hub, metrics_server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on when `METRICS_ADDR` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(port, _)| *port)
    }

    /// Stops the server the way a SIGTERM does.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            handle: self.server.handle(),
            metrics_handle: self.metrics_server.as_ref().map(|(_, server)| server.handle()),
            hub: self.hub.clone(),
        }
    }

    /// Serves until the server is stopped; on Ctrl-C or SIGTERM closes every WebSocket with 1001
    /// first, so that clients know to reconnect elsewhere.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let stopper = self.stopper();
        tokio::spawn(async move {
            shutdown_signal().await;
            stopper.stop().await;
        });
        let metrics = async {
            match self.metrics_server {
                Some((_, server)) => server.await.context("serving the metrics"),
                None => Ok(()),
            }
        };
        let (served, metrics) = tokio::join!(self.server, metrics);
        served.context("running the server")?;
        metrics
    }
}

/// The server of `/metrics` alone, on `METRICS_ADDR` (one worker; everything else is 404).
fn metrics_server(addr: std::net::SocketAddr, endpoint: &web::Data<Endpoint>) -> anyhow::Result<(u16, Server)> {
    let listener = TcpListener::bind(addr).with_context(|| format!("binding METRICS_ADDR {addr}"))?;
    let port = listener.local_addr()?.port();
    let endpoint = endpoint.clone();
    let server = HttpServer::new(move || {
        App::new()
            .wrap_fn(http::routing::head_as_get)
            .configure(metrics::routes(endpoint.clone()))
            .default_service(web::to(|| async { Err::<HttpResponse, _>(ApiError::RouteNotFound) }))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    Ok((port, server))
}

/// Shuts a running server down gracefully.
#[derive(Clone)]
pub struct Stopper {
    handle: ServerHandle,
    metrics_handle: Option<ServerHandle>,
    hub: Arc<Hub>,
}

impl Stopper {
    /// Closes every WebSocket with 1001 (going away), so that clients reconnect elsewhere, then lets
    /// in-flight requests finish and stops.
    pub async fn stop(&self) {
        tracing::info!(connections = self.hub.connection_count(), "shutting down");
        self.hub.close_all(CloseCode::Away);
        // Give the writers a moment to send their close frames before the sockets go.
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.handle.stop(true).await;
        if let Some(metrics) = &self.metrics_handle {
            metrics.stop(true).await;
        }
    }

    /// Stops at once, without waiting for anything (tests).
    pub fn abort(&self) {
        drop(self.handle.stop(false));
        if let Some(metrics) = &self.metrics_handle {
            drop(metrics.stop(false));
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminate => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// `messenger serve`.
///
/// # Errors
/// As [`Application::build`] and [`Application::run_until_stopped`].
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let served = Application::build(config).await?.run_until_stopped().await;
    crate::telemetry::shutdown();
    served
}

/// `messenger migrate`.
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    infra::migrate(&config.infra.database_url).await?;
    tracing::info!("migrations applied");
    Ok(())
}

/// `messenger seed`: prints the demo credentials.
///
/// # Errors
/// When the database cannot be reached.
pub async fn seed(config: &Config) -> anyhow::Result<()> {
    let report = infra::seed(&config.infra.database_url, config.infra.bcrypt_cost).await?;
    println!("{report}");
    Ok(())
}
