//! A client that stops reading is closed, and does not hold anybody else up.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::net::TcpSocket;
use tokio_tungstenite::client_async;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::spawn_app_with;
use crate::ws_client::WsClient;
use crate::ws_support::{group, person};

const MESSAGES: usize = 1500;

#[tokio::test]
async fn a_client_that_does_not_read_is_closed_while_the_others_keep_receiving() -> anyhow::Result<()> {
    let app = spawn_app_with(&[("RATE_SEND_PER_SEC", "0"), ("WS_OUTBOUND_QUEUE", "16")]).await?;
    let (sender, reader, sleeper) = (
        person(&app.address, "sender").await?,
        person(&app.address, "reader").await?,
        person(&app.address, "sleeper").await?,
    );
    let chat = group(&app.address, &sender, &[&reader, &sleeper]).await?;

    // The sleeper's socket has a tiny receive buffer and is never read from.
    let socket = TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(4096)?;
    let port = app.address.rsplit(':').next().unwrap_or_default().parse::<u16>()?;
    let stream = socket.connect(([127, 0, 0, 1], port).into()).await?;
    let url = format!("ws://127.0.0.1:{port}/ws?token={}", sleeper.token);
    let (mut sleeping, _) = client_async(url, stream).await?;

    let mut reader_ws = WsClient::connect(&app.address, &reader.token).await?;
    let mut sender_ws = WsClient::connect(&app.address, &sender.token).await?;
    let text = "x".repeat(4000);
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for i in 0..MESSAGES {
        let sent_at = Instant::now();
        sender_ws.send_json(json!({"type": "send", "chat_id": chat, "client_id": uuid::Uuid::new_v4(), "text": format!("{i} {text}")})).await?;
        sender_ws.next_of("ack").await?;
        let frame = reader_ws.next_of("message").await?;
        assert!(frame["message"]["text"].as_str().is_some_and(|t| t.starts_with(&format!("{i} "))));
        slowest = slowest.max(sent_at.elapsed());
    }
    assert!(started.elapsed() < Duration::from_secs(120));
    assert!(slowest < Duration::from_secs(2), "the reader kept receiving promptly (slowest {slowest:?})");

    // Reading now, the sleeper finds what fitted in the buffers, then the close frame saying why.
    let mut received = 0;
    let mut close_code = None;
    let drained = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(frame) = sleeping.next().await {
            match frame {
                Ok(WsMessage::Text(_)) => received += 1,
                Ok(WsMessage::Close(frame)) => {
                    close_code = frame.map(|f| u16::from(f.code));
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    })
    .await;
    assert!(drained.is_ok(), "the connection was ended by the server");
    assert!(received < MESSAGES, "the sleeper was cut off (got {received} of {MESSAGES})");
    assert_eq!(close_code, Some(1013), "a slow reader learns why it was cut off");
    Ok(())
}

#[tokio::test]
async fn a_silent_peer_is_dropped_and_a_live_one_is_kept() -> anyhow::Result<()> {
    let app = spawn_app_with(&[("WS_PING_INTERVAL_SECS", "0.2"), ("WS_IDLE_TIMEOUT_SECS", "0.6")]).await?;
    let (alice, bob) = (person(&app.address, "alice").await?, person(&app.address, "bob").await?);
    let chat = crate::ws_support::private_chat(&app.address, &alice, &bob).await?;
    // Neither read nor written for a while: pings go unanswered, as from a phone that lost its network.
    let silent = WsClient::connect(&app.address, &bob.token).await?;
    let mut live = WsClient::connect(&app.address, &alice.token).await?;
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        // Reading answers the server's pings (the client library sends the pongs).
        live.drain().await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(close_code_on_the_wire(silent).await?, Some(u16::from(CloseCode::Away)));
    live.send_message(chat, "still here").await?;
    assert_eq!(live.next_of("ack").await?["message"]["text"], "still here");
    Ok(())
}

/// Reads the raw frames the server sent until the socket ends, and returns the close frame's code.
async fn close_code_on_the_wire(client: WsClient) -> anyhow::Result<Option<u16>> {
    let mut tcp = client.into_tcp()?;
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut bytes)).await??;
    let mut at = 0;
    // Server frames are unmasked: opcode byte, length byte (126 and 127 announce longer lengths), payload.
    while at + 2 <= bytes.len() {
        let opcode = bytes[at] & 0x0f;
        let (len, header) = match bytes[at + 1] & 0x7f {
            126 => (usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]])), 4),
            127 => anyhow::bail!("unexpectedly long frame"),
            len => (usize::from(len), 2),
        };
        let payload = bytes.get(at + header..at + header + len).unwrap_or_default();
        if opcode == 0x8 {
            return Ok(payload.get(..2).map(|code| u16::from_be_bytes([code[0], code[1]])));
        }
        at += header + len;
    }
    Ok(None)
}
