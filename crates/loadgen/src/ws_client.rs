//! WebSocket connections: dialing (optionally from several local addresses) and the frames we
//! read, parsed into small borrowed structs with only the fields the generator needs.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub type Ws = WebSocketStream<TcpStream>;

/// Dials `ws://host:port/ws?token=…`, rotating over the servers (several instances behind no load
/// balancer) and over the configured source addresses.
pub struct Connector {
    servers: Vec<(SocketAddr, String)>,
    next_server: AtomicUsize,
    sources: Vec<IpAddr>,
    next_source: AtomicUsize,
}

impl Connector {
    pub async fn new(base_url: &str, sources: Vec<IpAddr>) -> Result<Self> {
        Self::rotating(&[base_url.to_owned()], sources).await
    }

    pub async fn rotating(base_urls: &[String], sources: Vec<IpAddr>) -> Result<Self> {
        let mut servers = Vec::new();
        for base_url in base_urls {
            let url = reqwest::Url::parse(base_url).with_context(|| format!("bad base URL {base_url}"))?;
            if url.scheme() != "http" {
                bail!("only http:// base URLs are supported (got {})", url.scheme());
            }
            let host = url.host_str().context("base URL has no host")?.to_owned();
            let port = url.port_or_known_default().context("base URL has no port")?;
            let server = tokio::net::lookup_host((host.as_str(), port))
                .await?
                .next()
                .with_context(|| format!("cannot resolve {host}"))?;
            servers.push((server, format!("ws://{host}:{port}/ws")));
        }
        if servers.is_empty() {
            bail!("no server to connect to");
        }
        Ok(Self { servers, next_server: AtomicUsize::new(0), sources, next_source: AtomicUsize::new(0) })
    }

    /// Opens one device connection. `read_buffer` sizes tungstenite's eager read buffer (keep it
    /// small for thousands of idle connections).
    pub async fn connect(&self, token: &str, read_buffer: usize) -> Result<Ws> {
        let (server, ws_base) = &self.servers[self.next_server.fetch_add(1, Ordering::Relaxed) % self.servers.len()];
        let socket = if server.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        if !self.sources.is_empty() {
            let i = self.next_source.fetch_add(1, Ordering::Relaxed) % self.sources.len();
            socket
                .bind(SocketAddr::new(self.sources[i], 0))
                .with_context(|| format!("binding to source address {}", self.sources[i]))?;
        }
        socket.set_nodelay(true)?;
        let stream = socket.connect(*server).await.context("TCP connect")?;
        let config = WebSocketConfig::default().read_buffer_size(read_buffer).write_buffer_size(0);
        let request = format!("{ws_base}?token={token}");
        let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
            .await
            .context("WebSocket handshake")?;
        Ok(ws)
    }
}

/// A server frame, reduced to what the generator reads.
#[derive(Debug, Deserialize)]
pub struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(default, borrow)]
    pub client_id: Option<Cow<'a, str>>,
    /// An object in `ack`/`message` frames, a human text in `error` frames: parsed on demand.
    #[serde(default, borrow)]
    pub message: Option<&'a RawValue>,
    #[serde(default)]
    pub duplicate: Option<bool>,
    #[serde(default, borrow)]
    pub code: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct MessageLite<'a> {
    pub id: i64,
    pub chat_id: i64,
    #[serde(borrow)]
    pub text: Cow<'a, str>,
    #[serde(default, borrow)]
    pub timestamp: Option<Cow<'a, str>>,
}

impl MessageLite<'_> {
    /// Position in history order: (timestamp in µs, id). A missing or unparsable timestamp
    /// sorts by id alone.
    pub fn history_key(&self) -> (i64, i64) {
        let micros = self
            .timestamp
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map_or(0, |t| t.timestamp_micros());
        (micros, self.id)
    }
}

pub fn parse_frame(text: &str) -> Result<Frame<'_>> {
    serde_json::from_str(text).context("unparsable server frame")
}

impl<'a> Frame<'a> {
    /// The `message` object of an `ack` or `message` frame.
    pub fn message(&self) -> Result<MessageLite<'a>> {
        let raw = self.message.context("frame has no message")?;
        serde_json::from_str(raw.get()).context("unparsable message object")
    }
}

/// The `send` frame; ids and our texts need no JSON escaping.
pub fn send_frame(chat_id: i64, client_id: &uuid::Uuid, text: &str) -> String {
    format!(r#"{{"type":"send","chat_id":{chat_id},"client_id":"{client_id}","text":"{text}"}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_frame_is_valid_contract_json() {
        let id = uuid::Uuid::nil();
        let v: serde_json::Value = serde_json::from_str(&send_frame(3, &id, "lg 1 2")).expect("json");
        assert_eq!(v["type"], "send");
        assert_eq!(v["chat_id"], 3);
        assert_eq!(v["client_id"], "00000000-0000-0000-0000-000000000000");
        assert_eq!(v["text"], "lg 1 2");
    }

    #[test]
    fn ack_frame_parses_with_unknown_fields_ignored() {
        let raw = r#"{"type":"ack","client_id":"abc","duplicate":false,"message":{"id":9,"chat_id":2,
            "sender_id":1,"text":"lg 5 1","timestamp":"2025-01-01T00:00:00.000000Z","read":false,"client_id":"abc"}}"#;
        let f = parse_frame(raw).expect("parses");
        assert_eq!(f.kind, "ack");
        assert_eq!(f.client_id.as_deref(), Some("abc"));
        assert_eq!(f.duplicate, Some(false));
        let m = f.message().expect("message");
        assert_eq!((m.id, m.chat_id, m.text.as_ref()), (9, 2, "lg 5 1"));
        assert_eq!(m.history_key(), (1_735_689_600_000_000, 9));
    }

    #[test]
    fn history_order_is_timestamp_then_id() {
        let m = |id: i64, ts: &'static str| MessageLite {
            id,
            chat_id: 1,
            text: Cow::Borrowed(""),
            timestamp: Some(Cow::Borrowed(ts)),
        };
        let earlier_with_higher_id = m(10, "2025-01-01T00:00:00.000001Z");
        let later_with_lower_id = m(9, "2025-01-01T00:00:00.000002Z");
        assert!(earlier_with_higher_id.history_key() < later_with_lower_id.history_key());
        assert!(m(1, "2025-01-01T00:00:00.000001Z").history_key() < m(2, "2025-01-01T00:00:00.000001Z").history_key());
    }

    #[test]
    fn escaped_texts_and_other_frames_parse() {
        let f = parse_frame(r#"{"type":"message","message":{"id":1,"chat_id":1,"text":"a \"q\"","client_id":null}}"#)
            .expect("parses");
        assert_eq!(f.message().expect("message").text, "a \"q\"");
        let f = parse_frame(r#"{"type":"error","code":"rate_limited","message":"slow down","client_id":"x"}"#)
            .expect("parses");
        assert_eq!(f.code.as_deref(), Some("rate_limited"));
        assert!(f.message().is_err());
        let f = parse_frame(r#"{"type":"read","chat_id":1,"reader_id":7,"message_id":42}"#).expect("parses");
        assert_eq!(f.kind, "read");
    }
}
