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
use crate::http::{self, RequestSpan};
use crate::openapi::ApiDoc;
use crate::state::Services;
use crate::ws::{self, Hub};

/// A running server bound to its port (port 0 in tests picks a free one).
pub struct Application {
    port: u16,
    server: Server,
    hub: Arc<Hub>,
}

impl Application {
    /// Connects to the database (migrating it) and the bus, and binds the listener.
    ///
    /// # Errors
    /// When a dependency cannot be reached or the address cannot be bound.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let adapters = infra::build(&config.infra).await?;
        let services = web::Data::new(Services::new(adapters, config.send_timeout));
        let hub = Arc::new(Hub::new(config.ws.outbound_queue));
        services.bus.subscribe(hub.clone());
        let listener =
            TcpListener::bind(config.listen_addr).with_context(|| format!("binding {}", config.listen_addr))?;
        let port = listener.local_addr()?.port();
        let hub_data = web::Data::from(hub.clone());
        let ws_settings = web::Data::new(config.ws);
        let openapi = ApiDoc::openapi();
        let server = HttpServer::new(move || {
            App::new()
                .wrap_fn(http::routing::head_as_get)
                .wrap_fn(http::body_deadline::body_deadline)
                .wrap(
                    DefaultHeaders::new()
                        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                        .add((header::REFERRER_POLICY, "no-referrer")),
                )
                .wrap(TracingLogger::<RequestSpan>::new())
                .app_data(services.clone())
                .app_data(hub_data.clone())
                .app_data(ws_settings.clone())
                .configure(http::routes)
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
        .disable_signals()
        .shutdown_timeout(10)
        .listen(listener)?
        .run();
        tracing::info!(port, "listening");
        Ok(Self { port, server, hub })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server the way a SIGTERM does.
    pub fn stopper(&self) -> Stopper {
        Stopper { handle: self.server.handle(), hub: self.hub.clone() }
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
        self.server.await.context("running the server")
    }
}

/// Shuts a running server down gracefully.
#[derive(Clone)]
pub struct Stopper {
    handle: ServerHandle,
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
    }

    /// Stops at once, without waiting for anything (tests).
    pub fn abort(&self) {
        drop(self.handle.stop(false));
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
    Application::build(config).await?.run_until_stopped().await
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
