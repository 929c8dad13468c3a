//! Two instances on one database and one Redis act as one service.
//!
//! Needs Redis: `TEST_REDIS_URL` (CI sets it). Without it the tests try the default local Redis and,
//! when none answers, say so and pass without checking anything, so that `cargo test` needs no server.

use std::collections::BTreeSet;

use serde_json::json;

use crate::device::Device;
use crate::helpers::{TestDatabase, spawn_on};
use crate::ws_client::WsClient;
use crate::ws_support::{person, post, private_chat};

pub async fn redis_url() -> anyhow::Result<Option<String>> {
    if let Ok(url) = std::env::var("TEST_REDIS_URL") {
        return Ok(Some(url));
    }
    let url = "redis://127.0.0.1:6379".to_owned();
    match tokio::net::TcpStream::connect("127.0.0.1:6379").await {
        Ok(_) => Ok(Some(url)),
        Err(_) => {
            eprintln!("no Redis at 127.0.0.1:6379 and TEST_REDIS_URL unset: scale-out test not run");
            Ok(None)
        }
    }
}

/// Two servers sharing a database and a Redis channel of their own.
async fn two_instances() -> anyhow::Result<Option<(TestDatabase, String, String)>> {
    let Some(redis) = redis_url().await? else { return Ok(None) };
    let database = TestDatabase::create().await?;
    let channel = format!("test:{}", uuid::Uuid::new_v4().simple());
    let overrides = [("REDIS_URL", redis.as_str()), ("REDIS_CHANNEL", channel.as_str())];
    let (a, _) = spawn_on(database.url(), &overrides).await?;
    let (b, _) = spawn_on(database.url(), &overrides).await?;
    Ok(Some((database, a, b)))
}

#[tokio::test]
async fn messages_receipts_and_read_all_cross_instances() -> anyhow::Result<()> {
    let Some((_database, a, b)) = two_instances().await? else { return Ok(()) };
    let (alice, bob) = (person(&a, "alice").await?, person(&b, "bob").await?);
    let chat = private_chat(&a, &alice, &bob).await?;
    let mut alice_on_a = WsClient::connect(&a, &alice.token).await?;
    let mut alice_on_b = WsClient::connect(&b, &alice.token).await?;
    let mut bob_on_b = WsClient::connect(&b, &bob.token).await?;

    alice_on_a.send_message(chat, "across").await?;
    let ack = alice_on_a.next_of("ack").await?;
    let id = ack["message"]["id"].as_i64().unwrap_or_default();
    assert_eq!(bob_on_b.next_of("message").await?["message"]["id"].as_i64(), Some(id));
    assert_eq!(
        alice_on_b.next_of("message").await?["message"]["id"].as_i64(),
        Some(id),
        "the sender's device on the other instance"
    );

    bob_on_b.send_json(json!({"type": "read", "chat_id": chat, "message_id": id})).await?;
    let read = alice_on_a.next_of("read").await?;
    assert_eq!((read["reader_id"].as_i64(), read["message_id"].as_i64()), (Some(bob.id), Some(id)));
    let read_all = alice_on_a.next_of("read_all").await?;
    assert_eq!(read_all, json!({"type": "read_all", "chat_id": chat, "sender_id": alice.id, "message_id": id}));
    Ok(())
}

#[tokio::test]
async fn a_client_id_raced_on_two_instances_stores_one_row() -> anyhow::Result<()> {
    let Some((_database, a, b)) = two_instances().await? else { return Ok(()) };
    let (alice, bob) = (person(&a, "alice").await?, person(&a, "bob").await?);
    let chat = private_chat(&a, &alice, &bob).await?;
    let body = json!({"text": "raced", "client_id": uuid::Uuid::new_v4()});
    let path = format!("/chats/{chat}/messages");
    let sends = (0..20).map(|i| {
        let address = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (token, body, path) = (alice.token.clone(), body.clone(), path.clone());
        async move { post(&address, &token, &path, body).await }
    });
    let mut created = 0;
    let mut ids = BTreeSet::new();
    for answer in futures_util::future::join_all(sends).await {
        let (status, message) = answer?;
        created += usize::from(status == 201);
        ids.insert(message["id"].as_i64());
    }
    assert_eq!((created, ids.len()), (1, 1));
    let history = crate::ws_support::history(&b, &bob.token, chat).await?;
    assert_eq!(history.len(), 1);
    Ok(())
}

/// A Redis server of the test's own on a free port, which it can stop and start again on that port.
pub struct OwnRedis {
    port: u16,
    process: Option<std::process::Child>,
}

impl OwnRedis {
    /// `None` when there is no `redis-server` to run and no Redis was required (`TEST_REDIS_URL` unset).
    pub async fn start() -> anyhow::Result<Option<Self>> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut redis = Self { port, process: None };
        match redis.restart().await {
            Ok(()) => Ok(Some(redis)),
            Err(error) if std::env::var("TEST_REDIS_URL").is_err() => {
                eprintln!("could not run redis-server ({error:#}): Redis restart test not run");
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn restart(&mut self) -> anyhow::Result<()> {
        let port = self.port.to_string();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()?;
        self.process = Some(child);
        eventually("redis-server to accept connections", || async {
            tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok()
        })
        .await
    }

    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.process.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Polls `check` every 100 ms for up to 20 s (the bus retries with a back-off of at most 5 s).
async fn eventually<F, Fut>(what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    anyhow::bail!("timed out waiting for {what}")
}

async fn ready_status(address: &str) -> u16 {
    reqwest::get(format!("{address}/readyz")).await.map_or(0, |r| r.status().as_u16())
}

/// Redis dies for a few seconds while two people send steadily from devices on two instances. No send
/// waits for Redis (the bus is off the send path), and every device ends up holding every message
/// exactly once: what the bus could not carry arrives through the `resync` frame and `POST /sync`.
#[tokio::test]
async fn a_redis_outage_under_sustained_sends_loses_nothing_and_stalls_no_send() -> anyhow::Result<()> {
    const PER_SENDER: usize = 40;
    let Some(mut redis) = OwnRedis::start().await? else { return Ok(()) };
    let database = TestDatabase::create().await?;
    let url = redis.url();
    let overrides = [("REDIS_URL", url.as_str()), ("REDIS_CHANNEL", "outage"), ("RATE_SEND_PER_SEC", "0")];
    let (a, _) = spawn_on(database.url(), &overrides).await?;
    let (b, _) = spawn_on(database.url(), &overrides).await?;
    let (alice, bob, carol) = (person(&a, "alice").await?, person(&b, "bob").await?, person(&a, "carol").await?);
    let chat = crate::ws_support::group(&a, &alice, &[&bob, &carol]).await?;
    // Alice on both instances (a phone and a laptop), Bob on b, Carol on a.
    let devices = [(&a, &alice), (&b, &alice), (&b, &bob), (&a, &carol)];
    let mut connected = Vec::new();
    for (address, who) in devices {
        let device = Device::connect(address, &who.token).await?;
        device.sync(address, &who.token).await?;
        connected.push(device);
    }
    let connected = std::sync::Arc::new(connected);

    let senders = [(0, "alice"), (2, "bob")].map(|(device, name)| {
        let connected = connected.clone();
        tokio::spawn(async move {
            let mut longest = std::time::Duration::ZERO;
            for i in 0..PER_SENDER {
                let (_, waited) = connected[device].send_until_acked(chat, &format!("{name} {i}")).await?;
                longest = longest.max(waited);
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            anyhow::Ok(longest)
        })
    });
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    redis.stop()?;
    eventually("/readyz to report the outage", || async { ready_status(&a).await == 503 }).await?;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    redis.restart().await?;
    for sender in senders {
        let longest = sender.await??;
        assert!(longest < std::time::Duration::from_secs(1), "a send waited {longest:?} for its ack");
    }
    for address in [&a, &b] {
        eventually("/readyz to recover", || async { ready_status(address).await == 200 }).await?;
    }

    let history = all_history(&a, &alice.token, chat).await?;
    assert_eq!(history.len(), 2 * PER_SENDER);
    let seqs: Vec<i64> = history.iter().filter_map(|m| m["seq"].as_i64()).collect();
    assert_eq!(seqs, (1..=i64::try_from(2 * PER_SENDER)?).collect::<Vec<_>>(), "no gap, no repeat");
    let everything: BTreeSet<i64> = history.iter().filter_map(|m| m["id"].as_i64()).collect();
    for (index, device) in connected.iter().enumerate() {
        eventually("every device to hold every message", || async {
            device.seen.lock().is_ok_and(|seen| seen.messages.keys().copied().collect::<BTreeSet<_>>() == everything)
        })
        .await
        .map_err(|e| anyhow::anyhow!("device {index}: {e}"))?;
        let seen = device.seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        assert!(seen.live.values().all(|count| *count == 1), "device {index} got a live frame twice");
        assert!(seen.resyncs >= 1, "device {index} was asked to resync");
    }
    // Real time crosses instances again.
    let (after, _) = connected[2].send_until_acked(chat, "after").await?;
    let after = after["id"].as_i64().unwrap_or_default();
    eventually("the next message to reach alice on a live", || async {
        connected[0].seen.lock().is_ok_and(|seen| seen.live.contains_key(&after))
    })
    .await
}

/// Every message of a chat, paging by seq.
async fn all_history(address: &str, token: &str, chat: i64) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut all: Vec<serde_json::Value> = Vec::new();
    loop {
        let after = all.last().and_then(|m| m["seq"].as_i64()).unwrap_or(0);
        let page =
            crate::ws_support::get(address, token, &format!("/history/{chat}?limit=200&after_seq={after}")).await?;
        let page = page.as_array().cloned().unwrap_or_default();
        if page.is_empty() {
            return Ok(all);
        }
        all.extend(page);
    }
}

/// Concurrent senders on two instances: the chat's positions have no gap and no repeat, and history
/// order (seq) agrees with timestamps.
#[tokio::test]
async fn seqs_stay_contiguous_with_concurrent_senders_on_two_instances() -> anyhow::Result<()> {
    let Some((_database, a, b)) = two_instances().await? else { return Ok(()) };
    let (alice, bob) = (person(&a, "alice").await?, person(&b, "bob").await?);
    let chat = private_chat(&a, &alice, &bob).await?;
    let path = format!("/chats/{chat}/messages");
    let sends = (0..120).map(|i| {
        let (address, token) =
            if i % 2 == 0 { (a.clone(), alice.token.clone()) } else { (b.clone(), bob.token.clone()) };
        let body = json!({"text": format!("m{i}"), "client_id": uuid::Uuid::new_v4()});
        let path = path.clone();
        async move { post(&address, &token, &path, body).await }
    });
    for answer in futures_util::future::join_all(sends).await {
        assert_eq!(answer?.0.as_u16(), 201);
    }
    let history = all_history(&b, &bob.token, chat).await?;
    let seqs: Vec<i64> = history.iter().filter_map(|m| m["seq"].as_i64()).collect();
    assert_eq!(seqs, (1..=120).collect::<Vec<i64>>());
    let stamps: Vec<chrono::DateTime<chrono::Utc>> =
        history.iter().filter_map(|m| m["timestamp"].as_str()?.parse().ok()).collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "timestamps never decrease along seq");
    Ok(())
}
