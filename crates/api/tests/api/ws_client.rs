//! A WebSocket test client speaking the contract's frames, with waits bounded by timeouts.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use uuid::Uuid;

pub const WAIT: Duration = Duration::from_secs(10);

pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    /// Connects with the token in the `Authorization` header.
    pub async fn connect(address: &str, token: &str) -> anyhow::Result<Self> {
        let url = format!("{}/ws", address.replacen("http", "ws", 1));
        let mut request = url.into_client_request()?;
        request.headers_mut().insert("Authorization", format!("Bearer {token}").parse()?);
        let (stream, _) = connect_async(request).await?;
        Ok(Self { stream })
    }

    /// Connects with the token in the query string, as browsers must.
    pub async fn connect_with_query(address: &str, token: &str) -> anyhow::Result<Self> {
        let url = format!("{}/ws?token={token}", address.replacen("http", "ws", 1));
        let (stream, _) = connect_async(url).await?;
        Ok(Self { stream })
    }

    /// Connects as a browser can without putting the token in the URL: as the subprotocol
    /// `bearer.<token>` beside `messenger`. Returns the subprotocol the server chose.
    pub async fn connect_with_subprotocol(address: &str, token: &str) -> anyhow::Result<(Self, Option<String>)> {
        let url = format!("{}/ws", address.replacen("http", "ws", 1));
        let mut request = url.into_client_request()?;
        request.headers_mut().insert("Sec-WebSocket-Protocol", format!("messenger, bearer.{token}").parse()?);
        let (stream, response) = connect_async(request).await?;
        let chosen = response.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok((Self { stream }, chosen))
    }

    pub async fn send_json(&mut self, frame: Value) -> anyhow::Result<()> {
        self.send_text(frame.to_string()).await
    }

    pub async fn send_text(&mut self, text: String) -> anyhow::Result<()> {
        self.stream.send(WsMessage::text(text)).await?;
        Ok(())
    }

    /// Sends a message with a fresh client id and returns that id.
    pub async fn send_message(&mut self, chat_id: i64, text: &str) -> anyhow::Result<Uuid> {
        let client_id = Uuid::new_v4();
        self.send_json(json!({"type": "send", "chat_id": chat_id, "client_id": client_id, "text": text})).await?;
        Ok(client_id)
    }

    /// The next JSON frame, skipping WebSocket control frames.
    pub async fn next_frame(&mut self) -> anyhow::Result<Value> {
        tokio::time::timeout(WAIT, async {
            loop {
                match self.stream.next().await {
                    Some(Ok(WsMessage::Text(text))) => return Ok(serde_json::from_str(&text)?),
                    Some(Ok(WsMessage::Close(frame))) => anyhow::bail!("closed: {frame:?}"),
                    Some(Ok(_)) => continue,
                    Some(Err(error)) => return Err(error.into()),
                    None => anyhow::bail!("stream ended"),
                }
            }
        })
        .await?
    }

    /// The next frame of `kind`, skipping others (typing, read receipts…).
    pub async fn next_of(&mut self, kind: &str) -> anyhow::Result<Value> {
        loop {
            let frame = self.next_frame().await?;
            if frame["type"] == kind {
                return Ok(frame);
            }
        }
    }

    /// Every frame queued for this connection before now, in order: a ping's pong comes after them,
    /// because one queue carries all of a connection's frames. Used for "nothing else arrived" checks,
    /// once whatever could have caused a frame has been acknowledged.
    pub async fn drain(&mut self) -> anyhow::Result<Vec<Value>> {
        self.send_json(json!({"type": "ping"})).await?;
        let mut frames = Vec::new();
        loop {
            let frame = self.next_frame().await?;
            if frame["type"] == "pong" {
                return Ok(frames);
            }
            frames.push(frame);
        }
    }

    /// The TCP stream under the WebSocket, to read what the server wrote without answering it (a client
    /// library answers pings as it reads, and fails on a socket the server has already shut).
    pub fn into_tcp(self) -> anyhow::Result<TcpStream> {
        match self.stream.into_inner() {
            MaybeTlsStream::Plain(tcp) => Ok(tcp),
            _ => anyhow::bail!("not a plain TCP stream"),
        }
    }

    /// Waits for the server to close the connection and returns the close code.
    pub async fn closed_with(&mut self) -> anyhow::Result<Option<CloseCode>> {
        tokio::time::timeout(WAIT, async {
            loop {
                match self.stream.next().await {
                    Some(Ok(WsMessage::Close(frame))) => return Ok(frame.map(|f| f.code)),
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => return Ok(None),
                }
            }
        })
        .await?
    }
}
