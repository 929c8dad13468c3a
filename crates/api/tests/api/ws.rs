//! The WebSocket half of the contract against the real server and a real database.

use std::collections::BTreeSet;

use serde_json::json;

use crate::helpers::spawn_app;
use crate::ws_client::WsClient;
use crate::ws_support::{get, group, history, person, post, private_chat};

#[tokio::test]
async fn an_upgrade_without_a_valid_token_is_refused_with_401() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    for query in ["", "?token=forged"] {
        let (status, body) = app.upgrade_answer(query).await?;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    Ok(())
}

#[tokio::test]
async fn a_private_message_reaches_the_recipient_and_the_senders_other_devices_but_not_the_sending_one()
-> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (alice, bob) = (person(&app.address, "alice").await?, person(&app.address, "bob").await?);
    let chat = private_chat(&app.address, &alice, &bob).await?;
    let mut phone = WsClient::connect(&app.address, &alice.token).await?;
    let mut laptop = WsClient::connect_with_query(&app.address, &alice.token).await?;
    let mut bob_ws = WsClient::connect(&app.address, &bob.token).await?;

    let client_id = phone.send_message(chat, "hello bob").await?;
    let ack = phone.next_of("ack").await?;
    assert_eq!(ack["client_id"], client_id.to_string());
    assert_eq!(ack["duplicate"], false);
    assert_eq!(ack["message"]["text"], "hello bob");
    assert_eq!(ack["message"]["read"], false);
    let id = ack["message"]["id"].clone();
    for device in [&mut laptop, &mut bob_ws] {
        let frame = device.next_of("message").await?;
        assert_eq!(frame["message"]["id"], id);
        assert_eq!(frame["message"]["sender_id"], alice.id);
        assert!(frame["message"]["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
    let rest = phone.drain().await?;
    assert!(rest.iter().all(|f| f["type"] != "message"), "the sending connection gets only its ack: {rest:?}");
    Ok(())
}

#[tokio::test]
async fn a_message_posted_over_rest_is_delivered_over_websocket() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (alice, bob) = (person(&app.address, "alice").await?, person(&app.address, "bob").await?);
    let chat = private_chat(&app.address, &alice, &bob).await?;
    let mut bob_ws = WsClient::connect(&app.address, &bob.token).await?;
    let mut alice_ws = WsClient::connect(&app.address, &alice.token).await?;
    let client_id = uuid::Uuid::new_v4();
    let (status, message) = post(
        &app.address,
        &alice.token,
        &format!("/chats/{chat}/messages"),
        json!({"text": "via rest", "client_id": client_id}),
    )
    .await?;
    assert_eq!(status, 201);
    assert_eq!(bob_ws.next_of("message").await?["message"]["id"], message["id"]);
    assert_eq!(alice_ws.next_of("message").await?["message"]["id"], message["id"], "the sender's devices see it too");
    Ok(())
}

#[tokio::test]
async fn group_receipts_flip_read_only_when_the_last_member_reads_and_pointers_never_move_back() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let a = person(&app.address, "a").await?;
    let (b, c, d) =
        (person(&app.address, "b").await?, person(&app.address, "c").await?, person(&app.address, "d").await?);
    let chat = group(&app.address, &a, &[&b, &c, &d]).await?;
    let mut a_ws = WsClient::connect(&app.address, &a.token).await?;
    let mut readers = Vec::new();
    for p in [&b, &c, &d] {
        readers.push(WsClient::connect(&app.address, &p.token).await?);
    }
    a_ws.send_message(chat, "first").await?;
    let first = a_ws.next_of("ack").await?["message"]["id"].as_i64().unwrap_or_default();
    a_ws.send_message(chat, "second").await?;
    let second = a_ws.next_of("ack").await?["message"]["id"].as_i64().unwrap_or_default();
    for reader in &mut readers {
        reader.next_of("message").await?;
        reader.next_of("message").await?;
    }

    for (i, reader_id) in [b.id, c.id].into_iter().enumerate() {
        readers[i].send_json(json!({"type": "read", "chat_id": chat, "message_id": second})).await?;
        let read = a_ws.next_of("read").await?;
        assert_eq!((read["reader_id"].as_i64(), read["message_id"].as_i64()), (Some(reader_id), Some(second)));
    }
    let early = a_ws.drain().await?;
    assert!(early.iter().all(|f| f["type"] != "read_all"), "two of three readers is not everybody: {early:?}");

    readers[2].send_json(json!({"type": "read", "chat_id": chat, "message_id": second})).await?;
    let read_all = a_ws.next_of("read_all").await?;
    assert_eq!(read_all, json!({"type": "read_all", "chat_id": chat, "sender_id": a.id, "message_id": second}));
    let messages = history(&app.address, &a.token, chat).await?;
    assert!(messages.iter().all(|m| m["read"] == true));

    readers[0].send_json(json!({"type": "read", "chat_id": chat, "message_id": first})).await?;
    let after = a_ws.drain().await?;
    assert!(after.iter().all(|f| f["type"] != "read"), "an older id changes nothing: {after:?}");
    let details = get(&app.address, &a.token, &format!("/chats/{chat}")).await?;
    let pointer = details["members"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["id"] == b.id))
        .map(|m| m["last_read_message_id"].clone());
    assert_eq!(pointer, Some(json!(second)));
    Ok(())
}

#[tokio::test]
async fn fifty_concurrent_sends_of_one_client_id_from_four_devices_and_rest_store_and_broadcast_once()
-> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (alice, bob) = (person(&app.address, "alice").await?, person(&app.address, "bob").await?);
    let chat = private_chat(&app.address, &alice, &bob).await?;
    let mut devices = Vec::new();
    for _ in 0..4 {
        devices.push(WsClient::connect(&app.address, &alice.token).await?);
    }
    let mut bob_ws = WsClient::connect(&app.address, &bob.token).await?;
    let client_id = uuid::Uuid::new_v4();
    let frame = json!({"type": "send", "chat_id": chat, "client_id": client_id, "text": "once"});

    let mut rest_calls = Vec::new();
    for _ in 0..10 {
        let (address, token, body) =
            (app.address.clone(), alice.token.clone(), json!({"text": "once", "client_id": client_id}));
        rest_calls
            .push(tokio::spawn(async move { post(&address, &token, &format!("/chats/{chat}/messages"), body).await }));
    }
    for device in &mut devices {
        for _ in 0..10 {
            device.send_json(frame.clone()).await?;
        }
    }
    let mut fresh = 0;
    let mut ids = BTreeSet::new();
    let mut rest_won = false;
    for call in rest_calls {
        let (status, message) = call.await??;
        assert!(status == 201 || status == 200, "{status}: {message}");
        if status == 201 {
            fresh += 1;
            rest_won = true;
        }
        ids.insert(message["id"].to_string());
    }
    let mut broadcasts = 0;
    for device in &mut devices {
        let mut acks = 0;
        while acks < 10 {
            let frame = device.next_frame().await?;
            match frame["type"].as_str() {
                Some("ack") => {
                    acks += 1;
                    if frame["duplicate"] == false {
                        fresh += 1;
                    }
                    ids.insert(frame["message"]["id"].to_string());
                }
                Some("message") => broadcasts += 1,
                Some("presence") => {} // Bob's devices coming online.
                other => anyhow::bail!("unexpected frame {other:?}: {frame}"),
            }
        }
        broadcasts += device.drain().await?.iter().filter(|f| f["type"] == "message").count();
    }
    assert_eq!(fresh, 1, "exactly one send stored the message");
    assert_eq!(ids.len(), 1, "every answer carries the same message");
    // The original reached every device of alice except the one that sent it (all four when REST won).
    assert_eq!(broadcasts, if rest_won { 4 } else { 3 });
    let to_bob = bob_ws.drain().await?;
    assert_eq!(to_bob.iter().filter(|f| f["type"] == "message").count(), 1);
    assert_eq!(history(&app.address, &alice.token, chat).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn every_connection_gets_a_chats_messages_in_history_order_under_concurrent_senders() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (a, b, c) =
        (person(&app.address, "a").await?, person(&app.address, "b").await?, person(&app.address, "c").await?);
    let chat = group(&app.address, &a, &[&b, &c]).await?;
    let mut watcher = WsClient::connect(&app.address, &c.token).await?;
    let mut senders = Vec::new();
    for p in [&a, &b] {
        let mut ws = WsClient::connect(&app.address, &p.token).await?;
        senders.push(tokio::spawn(async move {
            for i in 0..40 {
                ws.send_message(chat, &format!("m{i}")).await?;
            }
            for _ in 0..40 {
                ws.next_of("ack").await?;
            }
            anyhow::Ok(())
        }));
    }
    let mut received = Vec::new();
    while received.len() < 80 {
        received.push(watcher.next_of("message").await?["message"]["id"].as_i64().unwrap_or_default());
    }
    for sender in senders {
        sender.await??;
    }
    let mut sorted = received.clone();
    sorted.sort_unstable();
    assert_eq!(received, sorted, "frames arrive in id order");
    let stored: Vec<i64> =
        history(&app.address, &c.token, chat).await?.iter().filter_map(|m| m["id"].as_i64()).collect();
    assert_eq!(received, stored, "and in history order");
    Ok(())
}

#[tokio::test]
async fn typing_reaches_the_other_members_only() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (alice, bob) = (person(&app.address, "alice").await?, person(&app.address, "bob").await?);
    let chat = private_chat(&app.address, &alice, &bob).await?;
    let mut alice_phone = WsClient::connect(&app.address, &alice.token).await?;
    let mut alice_laptop = WsClient::connect(&app.address, &alice.token).await?;
    let mut bob_ws = WsClient::connect(&app.address, &bob.token).await?;
    alice_phone.send_json(json!({"type": "typing", "chat_id": chat})).await?;
    assert_eq!(bob_ws.next_of("typing").await?, json!({"type": "typing", "chat_id": chat, "user_id": alice.id}));
    assert!(alice_laptop.drain().await?.iter().all(|f| f["type"] != "typing"));
    Ok(())
}

#[tokio::test]
async fn bad_frames_get_error_frames_and_the_connection_stays_usable() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (alice, bob, eve) =
        (person(&app.address, "alice").await?, person(&app.address, "bob").await?, person(&app.address, "eve").await?);
    let chat = private_chat(&app.address, &alice, &bob).await?;
    let other_chat = private_chat(&app.address, &bob, &eve).await?;
    let mut ws = WsClient::connect(&app.address, &alice.token).await?;
    let reused = ws.send_message(chat, "original").await?;
    let original = ws.next_of("ack").await?["message"]["id"].as_i64().unwrap_or_default();
    let mut bob_ws = WsClient::connect(&app.address, &bob.token).await?;
    bob_ws.send_message(other_chat, "elsewhere").await?;
    let elsewhere = bob_ws.next_of("ack").await?["message"]["id"].as_i64().unwrap_or_default();

    let cases = [
        ("not json".to_owned(), "bad_request"),
        (json!({"type": "dance"}).to_string(), "bad_request"),
        (json!({"type": "send", "chat_id": chat, "text": "no client id"}).to_string(), "bad_request"),
        (
            json!({"type": "send", "chat_id": "one", "client_id": uuid::Uuid::new_v4(), "text": "x"}).to_string(),
            "bad_request",
        ),
        (
            json!({"type": "send", "chat_id": chat, "client_id": uuid::Uuid::new_v4(), "text": "  "}).to_string(),
            "invalid_input",
        ),
        (
            json!({"type": "send", "chat_id": chat, "client_id": uuid::Uuid::new_v4(), "text": "x".repeat(4097)})
                .to_string(),
            "invalid_input",
        ),
        (
            json!({"type": "send", "chat_id": other_chat, "client_id": uuid::Uuid::new_v4(), "text": "hi"}).to_string(),
            "forbidden",
        ),
        (
            json!({"type": "send", "chat_id": 999_999, "client_id": uuid::Uuid::new_v4(), "text": "hi"}).to_string(),
            "not_found",
        ),
        (json!({"type": "send", "chat_id": chat, "client_id": reused, "text": "different"}).to_string(), "conflict"),
        (json!({"type": "read", "chat_id": chat, "message_id": elsewhere}).to_string(), "not_found"),
        (json!({"type": "read", "chat_id": chat, "message_id": 999_999}).to_string(), "not_found"),
        (json!({"type": "typing", "chat_id": other_chat}).to_string(), "forbidden"),
    ];
    for (frame, code) in cases {
        ws.send_text(frame.clone()).await?;
        let error = ws.next_of("error").await?;
        assert_eq!(error["code"], code, "{frame} → {error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    ws.send_json(json!({"type": "ping"})).await?;
    assert_eq!(ws.next_frame().await?, json!({"type": "pong"}));
    ws.send_message(chat, "still works").await?;
    assert!(ws.next_of("ack").await?["message"]["id"].as_i64() > Some(original));
    Ok(())
}

#[tokio::test]
async fn a_frame_over_64_kib_closes_the_connection_with_1009() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let alice = person(&app.address, "alice").await?;
    let mut ws = WsClient::connect(&app.address, &alice.token).await?;
    ws.send_text("x".repeat(65 * 1024)).await?;
    let code = ws.closed_with().await?;
    assert_eq!(code.map(u16::from), Some(1009));
    Ok(())
}

#[tokio::test]
async fn a_graceful_shutdown_closes_every_websocket_with_1001() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let alice = person(&app.address, "alice").await?;
    let (mut phone, mut laptop) =
        (WsClient::connect(&app.address, &alice.token).await?, WsClient::connect(&app.address, &alice.token).await?);
    let stopper = app.stopper.clone();
    let stopping = tokio::spawn(async move { stopper.stop().await });
    for device in [&mut phone, &mut laptop] {
        assert_eq!(device.closed_with().await?.map(u16::from), Some(1001));
    }
    stopping.await?;
    Ok(())
}

#[tokio::test]
async fn members_hear_live_when_a_chat_appears_or_its_membership_changes() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (ann, ben, cat) =
        (person(&app.address, "ann").await?, person(&app.address, "ben").await?, person(&app.address, "cat").await?);
    let (mut ben_ws, mut cat_ws) =
        (WsClient::connect(&app.address, &ben.token).await?, WsClient::connect(&app.address, &cat.token).await?);
    let chat = group(&app.address, &ann, &[&ben]).await?;
    assert_eq!(ben_ws.next_of("chat_updated").await?, json!({"type": "chat_updated", "chat_id": chat}));
    post(&app.address, &ann.token, &format!("/groups/{chat}/members"), json!({"user_id": cat.id})).await?;
    assert_eq!(cat_ws.next_of("chat_updated").await?["chat_id"], chat, "the newcomer learns of the group");
    assert_eq!(ben_ws.next_of("chat_updated").await?["chat_id"], chat);
    let removed = reqwest::Client::new()
        .delete(format!("{}/groups/{chat}/members/{}", app.address, cat.id))
        .bearer_auth(&ann.token)
        .send()
        .await?;
    assert_eq!(removed.status(), 204);
    assert_eq!(cat_ws.next_of("chat_updated").await?["chat_id"], chat, "the removed member learns it too");
    Ok(())
}
