use serde_json::json;

use crate::helpers::{code, id, spawn_app};

#[tokio::test]
async fn there_is_one_private_chat_per_pair_from_either_side() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let ((alice, alice_token), (bob, bob_token)) = (app.register("alice").await?, app.register("bob").await?);
    let (status, chat) = app.post(&alice_token, "/chats/private", json!({"user_id": id(&bob)})).await?;
    assert_eq!(status, 201);
    assert_eq!(
        (chat["type"].as_str(), chat["name"].as_str(), chat["creator_id"].is_null()),
        (Some("private"), Some("bob"), true)
    );
    let (status, again) = app.post(&bob_token, "/chats/private", json!({"user_id": id(&alice)})).await?;
    assert_eq!((status, id(&again)), (200, id(&chat)));
    assert_eq!(again["name"], "alice", "each side sees the other's name");
    Ok(())
}

#[tokio::test]
async fn a_private_chat_needs_another_existing_user() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (alice, token) = app.register("alice").await?;
    let (status, body) = app.post(&token, "/chats/private", json!({"user_id": id(&alice)})).await?;
    assert_eq!((status, code(&body)), (422, "invalid_input"));
    let (status, body) = app.post(&token, "/chats/private", json!({"user_id": 999_999})).await?;
    assert_eq!((status, code(&body)), (404, "not_found"));
    let (status, body) = app.post(&token, "/chats/private", json!({"user_id": "two"})).await?;
    assert_eq!((status, code(&body)), (400, "bad_request"));
    Ok(())
}

#[tokio::test]
async fn the_chat_list_shows_last_messages_unread_counts_and_recent_activity_first() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let ((_, alice), (bob, bob_token), (carol, _)) =
        (app.register("alice").await?, app.register("bob").await?, app.register("carol").await?);
    let (_, with_bob) = app.post(&alice, "/chats/private", json!({"user_id": id(&bob)})).await?;
    let (_, with_carol) = app.post(&alice, "/chats/private", json!({"user_id": id(&carol)})).await?;
    app.send(&bob_token, id(&with_bob), "one").await?;
    let last = app.send(&bob_token, id(&with_bob), "two").await?;
    app.send(&alice, id(&with_carol), "mine").await?;
    let (status, list) = app.get(&alice, "/chats").await?;
    assert_eq!(status, 200);
    let list = list.as_array().cloned().unwrap_or_default();
    assert_eq!(list.iter().map(id).collect::<Vec<_>>(), [id(&with_carol), id(&with_bob)]);
    assert_eq!(list[0]["unread_count"], 0, "one's own messages are never unread");
    assert_eq!(list[1]["unread_count"], 2);
    assert_eq!(list[1]["last_message"], last);
    app.post(&alice, &format!("/chats/{}/read", id(&with_bob)), json!({"message_id": id(&last)})).await?;
    let (_, list) = app.get(&alice, "/chats").await?;
    assert_eq!(list[1]["unread_count"], 0);
    Ok(())
}

#[tokio::test]
async fn a_chat_is_shown_to_members_only() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let ((_, alice), (bob, bob_token), (_, eve)) =
        (app.register("alice").await?, app.register("bob").await?, app.register("eve").await?);
    let (_, chat) = app.post(&alice, "/chats/private", json!({"user_id": id(&bob)})).await?;
    let path = format!("/chats/{}", id(&chat));
    let (status, seen) = app.get(&bob_token, &path).await?;
    assert_eq!((status, seen["members"].as_array().map(Vec::len)), (200, Some(2)));
    let (status, body) = app.get(&eve, &path).await?;
    assert_eq!((status, code(&body)), (403, "forbidden"));
    let (status, body) = app.get(&eve, "/chats/999999").await?;
    assert_eq!((status, code(&body)), (404, "not_found"));
    let (status, body) = app.get(&eve, "/chats/abc").await?;
    assert_eq!((status, code(&body)), (400, "bad_request"));
    Ok(())
}
