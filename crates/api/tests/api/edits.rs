//! Editing, deleting and replying (contract v2): live frames, REST answers, tombstones and sync.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{code, id, spawn_app};
use crate::ws_client::WsClient;

fn version_of(answer: &Value, chat: i64) -> Option<i64> {
    answer["chats"].as_array()?.iter().find(|c| c["chat"]["id"].as_i64() == Some(chat))?["chat"]["version"].as_i64()
}

#[tokio::test]
async fn edits_and_deletions_reach_every_device_live_and_through_sync() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let ((alice_user, alice), (bob_user, bob)) = (app.register("alice").await?, app.register("bob").await?);
    let (_, chat) = app.post(&alice, "/chats/private", json!({"user_id": id(&bob_user)})).await?;
    let chat = id(&chat);
    let (_, synced) = app.post(&bob, "/sync", json!({"chats": {}})).await?;
    let held = version_of(&synced, chat).ok_or_else(|| anyhow::anyhow!("chat missing: {synced}"))?;
    let mut alice_ws = WsClient::connect(&app.address, &alice).await?;
    let mut bob_ws = WsClient::connect(&app.address, &bob).await?;

    let client_id = Uuid::new_v4();
    alice_ws.send_json(json!({"type": "send", "chat_id": chat, "client_id": client_id, "text": "helo"})).await?;
    let original = alice_ws.next_of("ack").await?["message"].clone();
    assert_eq!(
        (original["edited_at"].clone(), original["deleted"].clone(), original["reply_to"].clone()),
        (Value::Null, json!(false), Value::Null)
    );
    bob_ws.next_of("message").await?;

    // A reply names a message of the same chat.
    let reply_id = Uuid::new_v4();
    bob_ws
        .send_json(
            json!({"type": "send", "chat_id": chat, "client_id": reply_id, "text": "hi!", "reply_to": id(&original)}),
        )
        .await?;
    let reply = bob_ws.next_of("ack").await?["message"].clone();
    assert_eq!(reply["reply_to"], original["id"]);
    assert_eq!(alice_ws.next_of("message").await?["message"]["reply_to"], original["id"]);

    // The sender edits over WebSocket: an edit_ack for that connection, message_edited for the others.
    alice_ws.send_json(json!({"type": "edit", "chat_id": chat, "message_id": id(&original), "text": "hello"})).await?;
    let ack = alice_ws.next_of("edit_ack").await?["message"].clone();
    let edited = bob_ws.next_of("message_edited").await?["message"].clone();
    assert_eq!((ack["text"].as_str(), edited["text"].as_str()), (Some("hello"), Some("hello")));
    assert!(edited["edited_at"].is_string(), "{edited}");
    assert_eq!(edited["seq"], original["seq"]);
    assert!(edited["version"].as_i64() > reply["version"].as_i64(), "an edit advances the chat's version");

    // Only the sender edits; only the sender (or a group's creator) deletes.
    let path = format!("/chats/{chat}/messages/{}", id(&original));
    let (status, body) = app.patch(&bob, &path, json!({"text": "mine now"})).await?;
    assert_eq!((status, code(&body)), (403, "forbidden"));
    let (status, body) = app.delete(&bob, &path).await?;
    assert_eq!((status, code(&body)), (403, "forbidden"));
    bob_ws.send_json(json!({"type": "edit", "chat_id": chat, "message_id": id(&original), "text": "x"})).await?;
    assert_eq!(bob_ws.next_of("error").await?["code"], "forbidden");
    let (status, body) = app.patch(&alice, &path, json!({"text": " "})).await?;
    assert_eq!((status, code(&body)), (422, "invalid_input"));

    // A retry of the original send answers the message as it is now, not a conflict.
    alice_ws.send_json(json!({"type": "send", "chat_id": chat, "client_id": client_id, "text": "helo"})).await?;
    let retried = alice_ws.next_of("ack").await?;
    assert_eq!((retried["duplicate"].as_bool(), retried["message"]["text"].as_str()), (Some(true), Some("hello")));

    // Deleting over REST: both sides hear it, the tombstone keeps its place; a second delete is silent.
    let (status, _) = app.delete(&alice, &path).await?;
    assert_eq!(status, 204);
    for ws in [&mut alice_ws, &mut bob_ws] {
        let deleted = ws.next_of("message_deleted").await?;
        assert_eq!((deleted["chat_id"].as_i64(), deleted["message_id"].as_i64()), (Some(chat), Some(id(&original))));
        assert_eq!(deleted["seq"], original["seq"]);
    }
    let (status, _) = app.delete(&alice, &path).await?;
    assert_eq!(status, 204);
    let quiet = bob_ws.drain().await?;
    assert!(quiet.iter().all(|f| f["type"] != "message_deleted"), "a second delete sends nothing: {quiet:?}");
    let (status, body) = app.patch(&alice, &path, json!({"text": "back"})).await?;
    assert_eq!((status, code(&body)), (404, "not_found"), "a deleted message cannot be edited");
    alice_ws.send_json(json!({"type": "delete", "chat_id": chat, "message_id": 999_999})).await?;
    assert_eq!(alice_ws.next_of("error").await?["code"], "not_found");

    let (_, page) = app.get(&bob, &format!("/history/{chat}")).await?;
    let first = &page[0];
    assert_eq!(
        (first["id"].clone(), first["deleted"].clone(), first["text"].clone()),
        (original["id"].clone(), json!(true), json!(""))
    );
    assert_eq!(page[1]["reply_to"], original["id"], "a reply may name a deleted message");

    // A device that held the chat before all this gets the reply and the tombstone by version.
    let (_, changed) = app.post(&bob, "/sync", json!({"chats": {chat.to_string(): held}})).await?;
    let messages = changed["chats"][0]["messages"].as_array().cloned().unwrap_or_default();
    let seen: Vec<(i64, bool)> = messages.iter().map(|m| (id(m), m["deleted"].as_bool().unwrap_or_default())).collect();
    assert_eq!(seen, [(id(&reply), false), (id(&original), true)], "in version order: {changed}");
    assert_eq!(alice_user["id"], original["sender_id"]);
    Ok(())
}

#[tokio::test]
async fn a_reply_must_name_a_message_of_the_same_chat() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let ((_, alice), (bob_user, bob)) = (app.register("alice").await?, app.register("bob").await?);
    let (carol_user, _) = app.register("carol").await?;
    let (_, with_bob) = app.post(&alice, "/chats/private", json!({"user_id": id(&bob_user)})).await?;
    let (_, with_carol) = app.post(&alice, "/chats/private", json!({"user_id": id(&carol_user)})).await?;
    let elsewhere = app.send(&alice, id(&with_carol), "for carol").await?;
    let path = format!("/chats/{}/messages", id(&with_bob));
    for reply_to in [id(&elsewhere), 987_654] {
        let body = json!({"text": "re", "client_id": Uuid::new_v4(), "reply_to": reply_to});
        let (status, answer) = app.post(&bob, &path, body).await?;
        assert_eq!((status, code(&answer)), (422, "invalid_input"), "{reply_to}");
    }
    let own = app.send(&alice, id(&with_bob), "question").await?;
    let (status, answer) =
        app.post(&bob, &path, json!({"text": "answer", "client_id": Uuid::new_v4(), "reply_to": id(&own)})).await?;
    assert_eq!((status, answer["reply_to"].as_i64()), (201, Some(id(&own))));
    Ok(())
}

#[tokio::test]
async fn a_groups_creator_deletes_any_message_and_other_members_only_their_own() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (_, owner) = app.register("owner").await?;
    let ((bob_user, bob), (carol_user, carol)) = (app.register("bob").await?, app.register("carol").await?);
    let (_, group) =
        app.post(&owner, "/groups", json!({"name": "g", "member_ids": [id(&bob_user), id(&carol_user)]})).await?;
    let group = id(&group);
    let from_bob = app.send(&bob, group, "bob's").await?;
    let from_carol = app.send(&carol, group, "carol's").await?;
    let path = |m: &Value| format!("/chats/{group}/messages/{}", id(m));
    let (status, _) = app.delete(&carol, &path(&from_bob)).await?;
    assert_eq!(status, 403);
    let (status, _) = app.delete(&carol, &path(&from_carol)).await?;
    assert_eq!(status, 204);
    let (status, _) = app.delete(&owner, &path(&from_bob)).await?;
    assert_eq!(status, 204);
    let (status, body) = app.patch(&owner, &path(&from_bob), json!({"text": "x"})).await?;
    assert_eq!((status, code(&body)), (404, "not_found"));
    let (_, page) = app.get(&bob, &format!("/history/{group}")).await?;
    let deleted: Vec<bool> =
        page.as_array().map(|p| p.iter().map(|m| m["deleted"] == json!(true)).collect()).unwrap_or_default();
    assert_eq!(deleted, [true, true]);
    Ok(())
}

#[tokio::test]
async fn a_browser_passes_its_token_as_a_subprotocol_not_in_the_url() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (_, token) = app.register("alice").await?;
    let (mut ws, chosen) = WsClient::connect_with_subprotocol(&app.address, &token).await?;
    assert_eq!(chosen.as_deref(), Some("messenger"));
    ws.send_json(json!({"type": "ping"})).await?;
    assert_eq!(ws.next_frame().await?["type"], "pong");
    let refused = WsClient::connect_with_subprotocol(&app.address, "not-a-token").await;
    assert!(refused.is_err(), "a bad token in the subprotocol is refused before the upgrade");
    Ok(())
}
