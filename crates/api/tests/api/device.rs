//! A client device as the contract asks clients to behave: it keeps what live frames bring, answers a
//! `resync` frame with `POST /sync` from the versions it holds, and resends an unacknowledged message
//! with the same client_id. Fault tests run several of them against servers whose dependencies fail.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use uuid::Uuid;

/// What a device has seen.
#[derive(Default)]
pub struct Seen {
    /// Every message held, by id.
    pub messages: HashMap<i64, Value>,
    /// How often each id arrived in a live `message` or `ack` frame.
    pub live: HashMap<i64, usize>,
    /// The version held per chat, from sync answers.
    pub versions: HashMap<i64, i64>,
    pub resyncs: usize,
}

type Waiters = Arc<Mutex<HashMap<Uuid, oneshot::Sender<Value>>>>;

pub struct Device {
    pub seen: Arc<Mutex<Seen>>,
    outgoing: mpsc::Sender<String>,
    waiters: Waiters,
}

impl Device {
    pub async fn connect(address: &str, token: &str) -> anyhow::Result<Self> {
        let url = format!("{}/ws?token={token}", address.replacen("http", "ws", 1));
        let (stream, _) = connect_async(url).await?;
        let (mut sink, mut stream) = stream.split();
        let (outgoing, mut queued) = mpsc::channel::<String>(64);
        tokio::spawn(async move {
            while let Some(text) = queued.recv().await {
                if sink.send(WsMessage::text(text)).await.is_err() {
                    return;
                }
            }
        });
        let seen = Arc::new(Mutex::new(Seen::default()));
        let waiters: Waiters = Arc::default();
        let (address, token) = (address.to_owned(), token.to_owned());
        let (reader_seen, reader_waiters) = (seen.clone(), waiters.clone());
        tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                let WsMessage::Text(text) = frame else { continue };
                let Ok(frame) = serde_json::from_str::<Value>(&text) else { continue };
                match frame["type"].as_str() {
                    Some("message" | "ack") => {
                        let message = frame["message"].clone();
                        if let Ok(mut seen) = reader_seen.lock() {
                            let id = message["id"].as_i64().unwrap_or_default();
                            *seen.live.entry(id).or_default() += 1;
                            seen.messages.insert(id, message);
                        }
                        answer(&reader_waiters, &frame);
                    }
                    Some("error") => answer(&reader_waiters, &frame),
                    Some("resync") => {
                        if let Ok(mut seen) = reader_seen.lock() {
                            seen.resyncs += 1;
                        }
                        let _ = sync(&address, &token, &reader_seen).await;
                    }
                    _ => {}
                }
            }
        });
        Ok(Self { seen, outgoing, waiters })
    }

    /// Sends until the server acknowledges (resending the same client_id after `unavailable` or no
    /// answer), and returns the stored message and the longest wait for one answer.
    pub async fn send_until_acked(&self, chat: i64, text: &str) -> anyhow::Result<(Value, Duration)> {
        let client_id = Uuid::new_v4();
        let frame = json!({"type": "send", "chat_id": chat, "client_id": client_id, "text": text}).to_string();
        let mut longest = Duration::ZERO;
        for _ in 0..100 {
            let (tx, rx) = oneshot::channel();
            if let Ok(mut waiters) = self.waiters.lock() {
                waiters.insert(client_id, tx);
            }
            let started = Instant::now();
            self.outgoing.send(frame.clone()).await?;
            let answer = tokio::time::timeout(Duration::from_secs(10), rx).await;
            longest = longest.max(started.elapsed());
            match answer {
                Ok(Ok(answer)) if answer["type"] == "ack" => return Ok((answer["message"].clone(), longest)),
                Ok(Ok(answer)) if answer["code"] == "unavailable" => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Ok(Ok(answer)) => anyhow::bail!("send refused: {answer}"),
                _ => {} // No answer: resend, as a client does after a lost ack.
            }
        }
        anyhow::bail!("never acknowledged")
    }

    /// A sync of the device's own, as after a reconnect.
    pub async fn sync(&self, address: &str, token: &str) -> anyhow::Result<()> {
        sync(address, token, &self.seen).await
    }
}

fn answer(waiters: &Waiters, frame: &Value) {
    let Some(client_id) = frame["client_id"].as_str().and_then(|c| c.parse::<Uuid>().ok()) else { return };
    if let Some(waiter) = waiters.lock().ok().and_then(|mut w| w.remove(&client_id)) {
        let _ = waiter.send(frame.clone());
    }
}

/// `POST /sync` from the versions held, following `more`, as the contract describes.
pub async fn sync(address: &str, token: &str, seen: &Mutex<Seen>) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for _ in 0..1000 {
        let held: HashMap<String, i64> = seen
            .lock()
            .map(|s| s.versions.iter().map(|(chat, version)| (chat.to_string(), *version)).collect())
            .unwrap_or_default();
        let response =
            client.post(format!("{address}/sync")).bearer_auth(token).json(&json!({"chats": held})).send().await?;
        anyhow::ensure!(response.status().is_success(), "sync answered {}", response.status());
        let answer: Value = response.json().await?;
        let mut again = false;
        let mut seen = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        for entry in answer["chats"].as_array().into_iter().flatten() {
            let chat = entry["chat"]["id"].as_i64().unwrap_or_default();
            let messages = entry["messages"].as_array().cloned().unwrap_or_default();
            for message in &messages {
                seen.messages.insert(message["id"].as_i64().unwrap_or_default(), message.clone());
            }
            let version = if entry["more"] == true {
                again = true;
                messages.last().and_then(|m| m["version"].as_i64()).unwrap_or_default()
            } else {
                entry["chat"]["version"].as_i64().unwrap_or_default()
            };
            seen.versions.insert(chat, version);
        }
        if !again {
            return Ok(());
        }
    }
    anyhow::bail!("sync never ended")
}
