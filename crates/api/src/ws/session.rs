//! One WebSocket connection: authentication before the upgrade, then a reader and a writer task.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev;
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError, Session};
use bytestring::ByteString;
use domain::{ChatId, DomainError, MessageId};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::{Mutex, Semaphore, mpsc, watch};

use super::frame_guard::{FrameGuard, Oversized};
use super::hub::{Connection, Hub};
use super::protocol::{self, ClientFrame, ServerFrame};
use crate::error::ApiError;
use crate::state::Services;
use crate::telemetry::spawn_in;
use crate::wire::{ErrorCode, bearer_token};

/// Sends one connection may have waiting for the database at once.
const SENDS_IN_FLIGHT: usize = 64;

/// How long a closing connection waits for the peer to answer its close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Limits of a connection; the defaults are the contract's.
#[derive(Debug, Clone, Copy)]
pub struct WsSettings {
    pub max_frame_bytes: usize,
    /// Frames queued for one connection before it is closed as too slow.
    pub outbound_queue: usize,
    pub ping_interval: Duration,
    /// A peer silent (no frame, no pong) for this long is dropped.
    pub idle_timeout: Duration,
    /// Sockets one user may hold on this instance; one more upgrade is refused with 429.
    pub max_connections_per_user: usize,
}

impl Default for WsSettings {
    fn default() -> Self {
        Self {
            max_frame_bytes: 64 * 1024,
            outbound_queue: 256,
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            max_connections_per_user: 50,
        }
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The subprotocol a browser names to say it speaks this protocol; the server answers with it.
const SUBPROTOCOL: &str = "messenger";
/// A browser cannot set headers on a WebSocket, and a token in the URL lands in logs: it may offer the
/// token as a second subprotocol, `bearer.<token>` (a JWT is made of characters a subprotocol may hold).
const TOKEN_SUBPROTOCOL_PREFIX: &str = "bearer.";

/// The subprotocols the client offered, in its order.
fn offered_subprotocols(req: &HttpRequest) -> impl Iterator<Item = &str> {
    req.headers()
        .get_all(actix_web::http::header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
}

fn token_of(req: &HttpRequest) -> Option<String> {
    bearer_token(req)
        .map(str::to_owned)
        .or_else(|| offered_subprotocols(req).find_map(|p| p.strip_prefix(TOKEN_SUBPROTOCOL_PREFIX)).map(str::to_owned))
        .or_else(|| web::Query::<TokenQuery>::from_query(req.query_string()).ok().and_then(|q| q.into_inner().token))
}

/// `GET /ws`: checks the token (401 before any upgrade), registers the device with the hub — so it
/// misses no event from here on — and starts its tasks.
pub async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    services: web::Data<Services>,
    hub: web::Data<Hub>,
    settings: web::Data<WsSettings>,
) -> Result<HttpResponse, ApiError> {
    let token = token_of(&req).ok_or(DomainError::Unauthorized)?;
    let user = services.auth.authenticate(&token).await?;
    services.admit_request(user)?;
    let oversized = Oversized::default();
    // The guard sits between the socket and actix-ws: it must own the request's payload, and
    // `web::Payload` is only built by its extractor, from whatever payload it is handed.
    let guarded: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
        Box::pin(FrameGuard::new(body, settings.max_frame_bytes, oversized.clone()));
    let body = web::Payload::from_request(&req, &mut dev::Payload::from(guarded))
        .await
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let Some((connection, outbox, reading)) = hub.register(user, settings.max_connections_per_user) else {
        tracing::warn!(user_id = %user, "too many websockets for one user; upgrade refused");
        return Err(DomainError::RateLimited { retry_after: Duration::from_secs(1) }.into());
    };
    // The chats are read after registering, so that a change made meanwhile is heard and replayed, and
    // before answering, so that the client hears its chats' events from its first frame on.
    let chats = match services.chats.chat_ids_of(user).await {
        Ok(chats) => chats,
        Err(error) => {
            hub.unregister(&connection, Some(reading));
            return Err(error.into());
        }
    };
    hub.learn(user, reading, chats);
    let (mut response, session, stream) = match actix_ws::handle(&req, body) {
        Ok(handled) => handled,
        Err(error) => {
            hub.unregister(&connection, None);
            return Err(ApiError::BadRequest(error.to_string()));
        }
    };
    // A browser that offered subprotocols fails the connection unless one of them is answered.
    if offered_subprotocols(&req).any(|p| p == SUBPROTOCOL) {
        response.headers_mut().insert(
            actix_web::http::header::SEC_WEBSOCKET_PROTOCOL,
            actix_web::http::header::HeaderValue::from_static(SUBPROTOCOL),
        );
    }
    tracing::info!(user_id = %user, connection = %connection.id.0, "websocket connected");
    let span = crate::http::websocket_span(&req, connection.id.0, user);
    let settings = **settings;
    let last_heard = Arc::new(Mutex::new(Instant::now()));
    spawn_in(span.clone(), write(session.clone(), outbox, connection.clone(), settings, last_heard.clone()));
    let stream = stream
        .max_frame_size(settings.max_frame_bytes)
        .aggregate_continuations()
        .max_continuation_size(settings.max_frame_bytes);
    spawn_in(span, async move {
        let limits = ReadLimits { idle_timeout: settings.idle_timeout, oversized };
        services.presence.device_connected(user);
        read(session, stream, &connection, &services, last_heard, limits).await;
        hub.unregister(&connection, None);
        services.presence.device_disconnected(user);
        connection.close(CloseCode::Normal);
        tracing::info!(user_id = %connection.user, connection = %connection.id.0, "websocket disconnected");
    });
    Ok(response)
}

/// What ends a connection from the reading side.
struct ReadLimits {
    idle_timeout: Duration,
    /// Set by the frame guard when the client declared a frame or message over the limit.
    oversized: Oversized,
}

/// Handles the client's frames one after another, in the order sent.
async fn read(
    mut session: Session,
    mut stream: actix_ws::AggregatedMessageStream,
    connection: &Arc<Connection>,
    services: &Services,
    last_heard: Arc<Mutex<Instant>>,
    limits: ReadLimits,
) {
    let ReadLimits { idle_timeout, oversized } = limits;
    let sends_in_flight = Arc::new(Semaphore::new(SENDS_IN_FLIGHT));
    let mut closing = connection.closing();
    // Once a close is under way the stream is kept (and so the connection) until the peer answers the
    // close frame or a grace period ends: dropping it at once could cut the close frame off.
    let mut closing_started = false;
    let grace = tokio::time::sleep(CLOSE_GRACE);
    tokio::pin!(grace);
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            _ = closing.changed(), if !closing_started => {
                closing_started = true;
                let code = (*closing.borrow()).unwrap_or(CloseCode::Normal);
                grace.as_mut().reset(tokio::time::Instant::now() + close_wait(code, idle_timeout));
                continue;
            }
            () = &mut grace, if closing_started => return,
        };
        let Some(next) = next else { return };
        if closing_started {
            if let Ok(AggregatedMessage::Close(_)) | Err(_) = next {
                return;
            }
            continue;
        }
        *last_heard.lock().await = Instant::now();
        match next {
            Ok(AggregatedMessage::Text(text)) => handle(&text, connection, services, &sends_in_flight).await,
            Ok(AggregatedMessage::Binary(_)) => connection.push(error_frame(
                ErrorCode::BadRequest,
                "binary frames are not supported; send JSON text frames",
                None,
            )),
            Ok(AggregatedMessage::Ping(payload)) => {
                if session.pong(&payload).await.is_err() {
                    return;
                }
            }
            Ok(AggregatedMessage::Pong(_)) => {}
            Ok(AggregatedMessage::Close(_)) => return,
            Err(ProtocolError::Overflow) => {
                connection.close(CloseCode::Size);
            }
            Err(_) if oversized.is_set() => {
                connection.close(CloseCode::Size);
            }
            Err(error) => {
                tracing::debug!(%error, "websocket protocol error");
                connection.close(CloseCode::Protocol);
            }
        }
    }
}

/// Drains the outbound queue into the socket, pings, and closes when asked to.
async fn write(
    mut session: Session,
    mut outbox: mpsc::Receiver<ByteString>,
    connection: Arc<Connection>,
    settings: WsSettings,
    last_heard: Arc<Mutex<Instant>>,
) {
    let mut closing: watch::Receiver<Option<CloseCode>> = connection.closing();
    // Connections opened together (a reconnect storm, a load test) must not all ping together: each
    // starts its rhythm at an offset drawn from its random id.
    let period = settings.ping_interval.max(Duration::from_millis(1));
    let period_ms = u64::try_from(period.as_millis()).unwrap_or(u64::MAX).max(1);
    let offset = Duration::from_millis(u64::try_from(connection.id.0.as_u128() % u128::from(period_ms)).unwrap_or(0));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period + offset, period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let code = loop {
        tokio::select! {
            biased;
            _ = closing.changed() => break (*closing.borrow()).unwrap_or(CloseCode::Normal),
            frame = outbox.recv() => {
                let Some(frame) = frame else { break CloseCode::Normal };
                // A peer that stops reading blocks this send; the select lets a close request win.
                let sent = tokio::select! {
                    sent = session.text(frame) => sent,
                    _ = closing.changed() => break (*closing.borrow()).unwrap_or(CloseCode::Normal),
                };
                if sent.is_err() {
                    return;
                }
                connection.metrics().frame_delivered();
            }
            _ = ticker.tick() => {
                if last_heard.lock().await.elapsed() > settings.idle_timeout {
                    tracing::info!(user_id = %connection.user, "dropping a silent websocket");
                    break CloseCode::Away;
                }
                if session.ping(&protocol::ping_payload()).await.is_err() {
                    return;
                }
            }
        }
    };
    // Nothing more is queued for this connection: its frames are dropped (the client catches up with
    // a sync), so a peer that does not read holds no more than the socket's buffers.
    outbox.close();
    drop(outbox);
    let reason = CloseReason { code, description: close_description(code) };
    // A slow peer takes the close frame after what is in the socket already, so that it can tell why
    // it was cut off (1013); one that never reads is dropped when the wait ends.
    let _ = tokio::time::timeout(close_wait(code, settings.idle_timeout), session.close(Some(reason))).await;
}

/// How long a closing connection waits for its close frame to go out and for the peer's answer.
fn close_wait(code: CloseCode, idle_timeout: Duration) -> Duration {
    if code == CloseCode::Again { idle_timeout } else { CLOSE_GRACE }
}

fn close_description(code: CloseCode) -> Option<String> {
    match code {
        CloseCode::Again => Some("too slow to read: reconnect and POST /sync".into()),
        CloseCode::Size => Some("frame larger than 64 KiB".into()),
        CloseCode::Away => Some("server going away".into()),
        _ => None,
    }
}

async fn handle(text: &str, connection: &Arc<Connection>, services: &Services, sends_in_flight: &Arc<Semaphore>) {
    let frame = match protocol::parse(text) {
        Ok(frame) => frame,
        Err(reason) => {
            return connection.push(error_frame(ErrorCode::BadRequest, &reason, protocol::client_id_of(text)));
        }
    };
    let user = connection.user;
    match frame {
        ClientFrame::Send { chat_id, client_id, text, reply_to } => {
            let started = Instant::now();
            // A connection may have this many sends in flight; the next one waits here, and with it the
            // reading of this connection's frames.
            let Ok(permit) = sends_in_flight.clone().acquire_owned().await else { return };
            let reply_to = reply_to.map(MessageId);
            // Submitting fixes the message's place in its chat, in the order this connection sent it;
            // its outcome is awaited on the side, so the next frame is read meanwhile.
            let submitted =
                services.messages.submit(user, ChatId(chat_id), &text, client_id, reply_to, Some(connection.id)).await;
            let pending = match submitted {
                Ok(pending) => pending,
                Err(error) => {
                    connection.push(domain_error_frame(&error, Some(client_id)));
                    connection.metrics().send_answered(started, &Err(error));
                    return;
                }
            };
            let connection = connection.clone();
            actix_web::rt::spawn(async move {
                let sent = pending.outcome().await;
                drop(permit);
                connection.metrics().send_answered(started, &sent);
                match sent {
                    // A fresh message is acked by the hub, in line with the chat's other frames.
                    Ok(outcome) if !outcome.duplicate => {}
                    Ok(outcome) => connection.push(ServerFrame::ack(&outcome.message, true).encode()),
                    Err(error) => connection.push(domain_error_frame(&error, Some(client_id))),
                }
            });
        }
        ClientFrame::Read { chat_id, message_id } => {
            let result = match services.admit_request(user) {
                Ok(()) => services
                    .receipts
                    .mark_read(user, ChatId(chat_id), MessageId(message_id), Some(connection.id))
                    .await
                    .map(drop),
                Err(limited) => Err(limited),
            };
            if let Err(error) = result {
                connection.push(domain_error_frame(&error, None));
            }
        }
        ClientFrame::Edit { chat_id, message_id, text } => {
            // The editing connection gets its `edit_ack` from the hub, in line with the chat's frames.
            let edited =
                services.edits.edit(user, ChatId(chat_id), MessageId(message_id), &text, Some(connection.id)).await;
            if let Err(error) = edited {
                connection.push(domain_error_frame(&error, None));
            }
        }
        ClientFrame::Delete { chat_id, message_id } => {
            let result = match services.admit_request(user) {
                Ok(()) => services.edits.delete(user, ChatId(chat_id), MessageId(message_id)).await,
                Err(limited) => Err(limited),
            };
            if let Err(error) = result {
                connection.push(domain_error_frame(&error, None));
            }
        }
        ClientFrame::Typing { chat_id } => {
            let result = match services.admit_request(user) {
                Ok(()) => services.chats.typing(user, ChatId(chat_id)).await,
                Err(limited) => Err(limited),
            };
            if let Err(error) = result {
                connection.push(domain_error_frame(&error, None));
            }
        }
        ClientFrame::Ping => connection.push(ServerFrame::Pong.encode()),
    }
}

fn error_frame(code: ErrorCode, message: &str, client_id: Option<uuid::Uuid>) -> ByteString {
    ServerFrame::error(code, message.to_owned(), client_id).encode()
}

fn domain_error_frame(error: &DomainError, client_id: Option<uuid::Uuid>) -> ByteString {
    let (code, message) = ErrorCode::of(error);
    ServerFrame::error(code, message, client_id).encode()
}
