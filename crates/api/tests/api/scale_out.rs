//! Two instances on one database and one Redis act as one service.
//!
//! Needs Redis: `TEST_REDIS_URL` (CI sets it). Without it the tests try the default local Redis and,
//! when none answers, say so and pass without checking anything, so that `cargo test` needs no server.

use std::collections::BTreeSet;

use serde_json::json;

use crate::helpers::{TestDatabase, spawn_on};
use crate::ws_client::WsClient;
use crate::ws_support::{person, post, private_chat};

async fn redis_url() -> anyhow::Result<Option<String>> {
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
