//! `POST /sync` and the seq cursors of history: what a client needs to catch up after any absence.

use serde_json::{Value, json};

use crate::helpers::{code, id, spawn_app, spawn_app_with};

fn entry(answer: &Value, chat: i64) -> Option<&Value> {
    answer["chats"].as_array()?.iter().find(|c| c["chat"]["id"].as_i64() == Some(chat))
}

fn seqs(messages: &Value) -> Vec<i64> {
    messages.as_array().map(|a| a.iter().filter_map(|m| m["seq"].as_i64()).collect()).unwrap_or_default()
}

#[tokio::test]
async fn sync_answers_what_changed_since_the_versions_held_and_nothing_else() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let ((alice_user, alice), (bob_user, bob)) = (app.register("alice").await?, app.register("bob").await?);
    let (carol_user, carol) = app.register("carol").await?;
    let (_, private) = app.post(&alice, "/chats/private", json!({"user_id": id(&bob_user)})).await?;
    let private = id(&private);
    let (_, group) = app.post(&alice, "/groups", json!({"name": "g", "member_ids": [id(&bob_user)]})).await?;
    let group = id(&group);
    for i in 0..3 {
        app.send(&alice, private, &format!("p{i}")).await?;
    }

    // A new device lists nothing and gets every chat with its newest messages.
    let (status, first) = app.post(&bob, "/sync", json!({"chats": {}})).await?;
    assert_eq!(status, 200, "{first}");
    let held = entry(&first, private).ok_or_else(|| anyhow::anyhow!("private chat missing: {first}"))?;
    assert_eq!(seqs(&held["messages"]), [1, 2, 3]);
    assert_eq!((held["chat"]["last_seq"].as_i64(), held["more"].as_bool()), (Some(3), Some(false)));
    assert!(entry(&first, group).is_some());
    let version = |answer: &Value, chat| entry(answer, chat).and_then(|c| c["chat"]["version"].as_i64());
    let (private_version, group_version) = (version(&first, private), version(&first, group));

    // Nothing changed: nothing answered.
    let held = json!({"chats": {private.to_string(): private_version, group.to_string(): group_version}});
    let (_, quiet) = app.post(&bob, "/sync", held.clone()).await?;
    assert_eq!(quiet, json!({"chats": [], "removed": []}));

    // Two messages and a read pointer later, only the private chat changed, with just those messages.
    let fourth = app.send(&alice, private, "p3").await?;
    app.send(&bob, private, "p4").await?;
    let (status, _) = app.post(&alice, &format!("/chats/{private}/read"), json!({"message_id": id(&fourth)})).await?;
    assert_eq!(status, 204);
    let (_, changed) = app.post(&bob, "/sync", held.clone()).await?;
    assert_eq!(changed["chats"].as_array().map(Vec::len), Some(1), "{changed}");
    let entry_now = entry(&changed, private).ok_or_else(|| anyhow::anyhow!("private chat missing"))?;
    assert_eq!(seqs(&entry_now["messages"]), [4, 5]);
    assert!(version(&changed, private) > private_version);
    let pointers: Vec<Option<i64>> = entry_now["chat"]["members"]
        .as_array()
        .map(|m| m.iter().filter(|m| m["id"] == alice_user["id"]).map(|m| m["last_read_message_id"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(pointers, [Some(id(&fourth))], "read pointers come with the summary");

    // A member removed from a group hears it as `removed`; a chat joined meanwhile comes unlisted.
    app.delete(&alice, &format!("/groups/{group}/members/{}", id(&bob_user))).await?;
    let (_, other) = app.post(&carol, "/chats/private", json!({"user_id": id(&bob_user)})).await?;
    let (_, after_leaving) = app.post(&bob, "/sync", held).await?;
    assert_eq!(after_leaving["removed"], json!([group]));
    assert!(entry(&after_leaving, id(&other)).is_some(), "{after_leaving}");
    let _ = carol_user;
    Ok(())
}

#[tokio::test]
async fn a_long_absence_is_paged_with_more_and_history_pages_by_seq() -> anyhow::Result<()> {
    // 230 sends in a burst: more than the default request budget allows.
    let app = spawn_app_with(&[("RATE_REQUEST_PER_SEC", "0"), ("RATE_SEND_PER_SEC", "0")]).await?;
    let ((_, alice), (bob_user, bob)) = (app.register("alice").await?, app.register("bob").await?);
    let (_, chat) = app.post(&alice, "/chats/private", json!({"user_id": id(&bob_user)})).await?;
    let chat = id(&chat);
    for i in 0..230 {
        app.send(&alice, chat, &format!("m{i}")).await?;
    }
    let (_, first) = app.post(&bob, "/sync", json!({"chats": {chat.to_string(): 0}})).await?;
    let page = entry(&first, chat).ok_or_else(|| anyhow::anyhow!("chat missing"))?;
    assert_eq!((page["more"].as_bool(), page["messages"].as_array().map(Vec::len)), (Some(true), Some(200)));
    let last = page["messages"][199]["version"].as_i64().unwrap_or_default();
    let (_, rest) = app.post(&bob, "/sync", json!({"chats": {chat.to_string(): last}})).await?;
    let rest = entry(&rest, chat).ok_or_else(|| anyhow::anyhow!("chat missing"))?;
    assert_eq!((rest["more"].as_bool(), seqs(&rest["messages"]).first().copied()), (Some(false), Some(201)));
    assert_eq!(seqs(&rest["messages"]).len(), 30);

    let (_, gap) = app.get(&bob, &format!("/history/{chat}?after_seq=100&limit=3")).await?;
    assert_eq!(seqs(&gap), [101, 102, 103]);
    let (_, before) = app.get(&bob, &format!("/history/{chat}?before_seq=100&limit=3")).await?;
    assert_eq!(seqs(&before), [97, 98, 99]);
    let (status, both) = app.get(&bob, &format!("/history/{chat}?after_seq=1&after_id=1")).await?;
    assert_eq!((status, code(&both)), (422, "invalid_input"));
    Ok(())
}

#[tokio::test]
async fn bad_sync_bodies_get_the_contracts_errors() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (_, token) = app.register("alice").await?;
    for (body, status, expected) in [
        (json!({"chats": {"x": 1}}), 400, "bad_request"),
        (json!({"chats": {"1": -1}}), 422, "invalid_input"),
        (json!({"chats": [1]}), 400, "bad_request"),
        (json!({}), 400, "bad_request"),
    ] {
        let (got, answer) = app.post(&token, "/sync", body.clone()).await?;
        assert_eq!((got, code(&answer)), (status, expected), "{body}");
    }
    let (status, _) = app.post("forged", "/sync", json!({"chats": {}})).await?;
    assert_eq!(status, 401);
    Ok(())
}
