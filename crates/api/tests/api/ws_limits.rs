//! What one client may make the server hold: frames refused by their header, sockets per user.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::spawn_app_with;
use crate::ws_client::WsClient;
use crate::ws_support::person;

/// A masked client frame header (mask of zeros, so the payload goes as it is).
fn header(first_byte: u8, length: u64) -> Vec<u8> {
    let mut bytes = vec![first_byte];
    match length {
        0..=125 => bytes.push(0x80 | u8::try_from(length).unwrap_or(0)),
        126..=65535 => {
            bytes.push(0x80 | 126);
            bytes.extend_from_slice(&u16::try_from(length).unwrap_or(0).to_be_bytes());
        }
        _ => {
            bytes.push(0x80 | 127);
            bytes.extend_from_slice(&length.to_be_bytes());
        }
    }
    bytes.extend_from_slice(&[0, 0, 0, 0]);
    bytes
}

#[tokio::test]
async fn a_header_declaring_a_huge_frame_closes_with_1009_at_once_whatever_follows() -> anyhow::Result<()> {
    let app = spawn_app_with(&[]).await?;
    let alice = person(&app.address, "alice").await?;
    let client = WsClient::connect(&app.address, &alice.token).await?;
    let tcp = client.into_tcp()?;
    let (mut reading, mut writing) = tcp.into_split();
    let rss_before = resident_mb()?;
    let started = Instant::now();
    writing.write_all(&header(0x81, 1 << 40)).await?;
    // Keep streaming as an attacker would; the server must not wait for (or buffer) any of it.
    let streamer = tokio::spawn(async move {
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0usize;
        while started.elapsed() < Duration::from_secs(5) && writing.write_all(&chunk).await.is_ok() {
            sent += chunk.len();
        }
        sent
    });
    let code = close_code_from(&mut reading).await?;
    assert_eq!(code, Some(1009));
    assert!(started.elapsed() < Duration::from_secs(2), "closed after {:?}", started.elapsed());
    let sent = streamer.await?;
    // The server reads and drops what still arrives until the socket is gone; it keeps none of it.
    let grown = resident_mb()? - rss_before;
    assert!(started.elapsed() < Duration::from_secs(5), "the connection ended ({sent} bytes went out)");
    assert!(grown < 64.0, "the server (in this process) grew by {grown:.0} MB while {sent} bytes came in");
    Ok(())
}

/// This process's resident memory: the server under test runs in it.
fn resident_mb() -> anyhow::Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS"))?;
    Ok(kb / 1024.0)
}

#[tokio::test]
async fn a_fragmented_message_over_64_kib_closes_with_1009() -> anyhow::Result<()> {
    let app = spawn_app_with(&[]).await?;
    let alice = person(&app.address, "alice").await?;
    let client = WsClient::connect(&app.address, &alice.token).await?;
    let mut tcp = client.into_tcp()?;
    let part = vec![b'x'; 40_000];
    let mut bytes = header(0x01, 40_000);
    bytes.extend_from_slice(&part);
    bytes.extend(header(0x80, 40_000));
    bytes.extend_from_slice(&part);
    tcp.write_all(&bytes).await?;
    let (mut reading, _writing) = tcp.into_split();
    assert_eq!(close_code_from(&mut reading).await?, Some(1009));
    Ok(())
}

#[tokio::test]
async fn one_socket_more_than_the_cap_is_refused_with_429_before_the_upgrade() -> anyhow::Result<()> {
    let app = spawn_app_with(&[("WS_MAX_CONNECTIONS_PER_USER", "3")]).await?;
    let alice = person(&app.address, "alice").await?;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(WsClient::connect(&app.address, &alice.token).await?);
    }
    let url = format!("{}/ws?token={}", app.address.replacen("http", "ws", 1), alice.token);
    match connect_async(url.clone().into_client_request()?).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status().as_u16(), 429),
        other => anyhow::bail!("expected 429, got {:?}", other.map(|_| "an upgrade")),
    }
    let bob = person(&app.address, "bob").await?;
    WsClient::connect(&app.address, &bob.token).await?;
    open.pop();
    // Once one of alice's sockets is gone, she may open another.
    for _ in 0..50 {
        if connect_async(url.clone()).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("a freed slot was never reusable")
}

async fn close_code_from(reading: &mut tokio::net::tcp::OwnedReadHalf) -> anyhow::Result<Option<u16>> {
    use tokio::io::AsyncReadExt;
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(1), reading.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => bytes.extend_from_slice(&buffer[..n]),
            Err(_) => {}
        }
        if let Some(code) = close_code_in(&bytes) {
            return Ok(Some(code));
        }
    }
    Ok(close_code_in(&bytes))
}

/// The code of the first close frame in what the server sent (server frames are unmasked).
fn close_code_in(bytes: &[u8]) -> Option<u16> {
    let mut at = 0;
    while at + 2 <= bytes.len() {
        let opcode = bytes[at] & 0x0f;
        let (len, header) = match bytes[at + 1] & 0x7f {
            126 => (usize::from(u16::from_be_bytes([*bytes.get(at + 2)?, *bytes.get(at + 3)?])), 4),
            127 => return None,
            len => (usize::from(len), 2),
        };
        let payload = bytes.get(at + header..at + header + len)?;
        if opcode == 0x8 {
            return payload.get(..2).map(|code| u16::from_be_bytes([code[0], code[1]]));
        }
        at += header + len;
    }
    None
}
