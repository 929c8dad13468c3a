use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::{code, id, spawn_app, spawn_app_with};

fn texts(page: &Value) -> Vec<&str> {
    page.as_array().map(|a| a.iter().filter_map(|m| m["text"].as_str()).collect()).unwrap_or_default()
}

#[tokio::test]
async fn history_pages_ascend_and_honour_limit_offset_after_and_before() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let ((_, alice), (bob, bob_token)) = (app.register("alice").await?, app.register("bob").await?);
    let (_, chat) = app.post(&alice, "/chats/private", json!({"user_id": id(&bob)})).await?;
    let chat = id(&chat);
    let mut sent = Vec::new();
    for i in 0..6 {
        let token = if i % 2 == 0 { &alice } else { &bob_token };
        sent.push(app.send(token, chat, &format!("m{i}")).await?);
    }
    let (status, all) = app.get(&alice, &format!("/history/{chat}")).await?;
    assert_eq!(status, 200);
    assert_eq!(texts(&all), ["m0", "m1", "m2", "m3", "m4", "m5"]);
    let stamps: Vec<chrono::DateTime<chrono::Utc>> = all
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["timestamp"].as_str()?.parse().ok()).collect())
        .unwrap_or_default();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "timestamps ascend");
    assert!(all[0]["timestamp"].as_str().is_some_and(|t| t.ends_with('Z') && t.len() == 27), "{}", all[0]["timestamp"]);
    assert_eq!(texts(&app.get(&alice, &format!("/history/{chat}?limit=2&offset=3")).await?.1), ["m3", "m4"]);
    assert_eq!(texts(&app.get(&alice, &format!("/history/{chat}?after_id={}", id(&sent[3]))).await?.1), ["m4", "m5"]);
    assert_eq!(
        texts(&app.get(&alice, &format!("/history/{chat}?before_id={}&limit=2", id(&sent[3]))).await?.1),
        ["m1", "m2"]
    );
    for (query, status, expected) in [
        ("limit=0", 422, "invalid_input"),
        ("limit=201", 422, "invalid_input"),
        ("offset=-1", 422, "invalid_input"),
        ("limit=abc", 400, "bad_request"),
    ] {
        let (got, body) = app.get(&alice, &format!("/history/{chat}?{query}")).await?;
        assert_eq!((got, code(&body)), (status, expected), "{query}");
    }
    Ok(())
}

#[tokio::test]
async fn a_non_member_can_never_read_or_post_and_unknown_chats_are_not_found() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let ((_, alice), (bob, _), (_, eve)) =
        (app.register("alice").await?, app.register("bob").await?, app.register("eve").await?);
    let (_, chat) = app.post(&alice, "/chats/private", json!({"user_id": id(&bob)})).await?;
    let message = app.send(&alice, id(&chat), "private").await?;
    let chat = id(&chat);
    let (status, body) = app.get(&eve, &format!("/history/{chat}")).await?;
    assert_eq!((status, code(&body)), (403, "forbidden"));
    let (status, body) = app
        .post(&eve, &format!("/chats/{chat}/messages"), json!({"text": "let me in", "client_id": uuid::Uuid::new_v4()}))
        .await?;
    assert_eq!((status, code(&body)), (403, "forbidden"));
    let (status, body) = app.post(&eve, &format!("/chats/{chat}/read"), json!({"message_id": id(&message)})).await?;
    assert_eq!((status, code(&body)), (403, "forbidden"));
    let (status, body) = app.get(&eve, "/history/999999").await?;
    assert_eq!((status, code(&body)), (404, "not_found"));
    assert_eq!(texts(&app.get(&alice, &format!("/history/{chat}")).await?.1), ["private"], "nothing was stored");
    Ok(())
}

#[tokio::test]
async fn a_repeated_client_id_answers_the_original_and_reuse_for_other_content_is_a_conflict() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let ((_, alice), (bob, _), (carol, _)) =
        (app.register("alice").await?, app.register("bob").await?, app.register("carol").await?);
    let (_, chat) = app.post(&alice, "/chats/private", json!({"user_id": id(&bob)})).await?;
    let (_, other) = app.post(&alice, "/chats/private", json!({"user_id": id(&carol)})).await?;
    let client_id = uuid::Uuid::new_v4();
    let path = format!("/chats/{}/messages", id(&chat));
    let (status, first) = app.post(&alice, &path, json!({"text": "hi", "client_id": client_id})).await?;
    assert_eq!(status, 201);
    assert_eq!(first["client_id"], client_id.to_string());
    assert_eq!(app.post(&alice, &path, json!({"text": "hi", "client_id": client_id})).await?, (200, first.clone()));
    let (status, body) = app.post(&alice, &path, json!({"text": "different", "client_id": client_id})).await?;
    assert_eq!((status, code(&body)), (409, "conflict"));
    let (status, body) = app
        .post(&alice, &format!("/chats/{}/messages", id(&other)), json!({"text": "hi", "client_id": client_id}))
        .await?;
    assert_eq!((status, code(&body)), (409, "conflict"));
    for (body, status, expected) in [
        (json!({"text": "", "client_id": uuid::Uuid::new_v4()}), 422, "invalid_input"),
        (json!({"text": "x".repeat(4097), "client_id": uuid::Uuid::new_v4()}), 422, "invalid_input"),
        (json!({"text": "no key"}), 400, "bad_request"),
        (json!({"text": "bad key", "client_id": "not-a-uuid"}), 400, "bad_request"),
    ] {
        let (got, answer) = app.post(&alice, &path, body.clone()).await?;
        assert_eq!((got, code(&answer)), (status, expected), "{body}");
    }
    assert_eq!(
        app.send(&alice, id(&chat), &"é".repeat(4096)).await?["text"].as_str().map(|t| t.chars().count()),
        Some(4096)
    );
    Ok(())
}

#[tokio::test]
async fn fifty_concurrent_identical_sends_store_one_row() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let ((_, alice), (bob, _)) = (app.register("alice").await?, app.register("bob").await?);
    let (_, chat) = app.post(&alice, "/chats/private", json!({"user_id": id(&bob)})).await?;
    let body = json!({"text": "once", "client_id": uuid::Uuid::new_v4()});
    let path = format!("/chats/{}/messages", id(&chat));
    let sends = (0..50).map(|_| app.post(&alice, &path, body.clone()));
    let answers = futures_util::future::join_all(sends).await;
    let mut statuses = Vec::new();
    let mut ids = BTreeSet::new();
    for answer in answers {
        let (status, message) = answer?;
        statuses.push(status);
        ids.insert(id(&message));
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1);
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 49);
    assert_eq!(ids.len(), 1);
    assert_eq!(app.get(&alice, &format!("/history/{}", id(&chat))).await?.1.as_array().map(Vec::len), Some(1));
    Ok(())
}

#[tokio::test]
async fn read_flips_when_every_other_member_has_read_and_the_pointer_never_moves_back() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let ((_, alice_token), (bob, bob_token)) = (app.register("alice").await?, app.register("bob").await?);
    let (_, chat) = app.post(&alice_token, "/chats/private", json!({"user_id": id(&bob)})).await?;
    let chat = id(&chat);
    let first = app.send(&alice_token, chat, "first").await?;
    let second = app.send(&alice_token, chat, "second").await?;
    let read = |token: &str, message: i64| {
        let token = token.to_owned();
        let app = &app;
        async move { app.post(&token, &format!("/chats/{chat}/read"), json!({"message_id": message})).await }
    };
    assert_eq!(read(&bob_token, id(&first)).await?.0, 204);
    let (_, history) = app.get(&alice_token, &format!("/history/{chat}")).await?;
    assert_eq!((history[0]["read"].as_bool(), history[1]["read"].as_bool()), (Some(true), Some(false)));
    assert_eq!(read(&bob_token, id(&second)).await?.0, 204);
    assert_eq!(read(&bob_token, id(&first)).await?.0, 204, "an older id is accepted and changes nothing");
    let (_, details) = app.get(&alice_token, &format!("/chats/{chat}")).await?;
    let pointer = details["members"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| id(m) == id(&bob)).map(|m| m["last_read_message_id"].clone()));
    assert_eq!(pointer, Some(json!(id(&second))));
    let (_, history) = app.get(&alice_token, &format!("/history/{chat}")).await?;
    assert!(history.as_array().is_some_and(|ms| ms.iter().all(|m| m["read"] == true)));
    let (status, body) = read(&bob_token, 999_999).await?;
    assert_eq!((status, code(&body)), (404, "not_found"));
    Ok(())
}

#[tokio::test]
async fn sending_over_the_limit_is_rate_limited_with_retry_after_and_stores_nothing() -> anyhow::Result<()> {
    let app = spawn_app_with(&[("RATE_SEND_PER_SEC", "0.5"), ("RATE_SEND_BURST", "2")]).await?;
    let ((_, alice), (bob, _)) = (app.register("alice").await?, app.register("bob").await?);
    let (_, chat) = app.post(&alice, "/chats/private", json!({"user_id": id(&bob)})).await?;
    let chat = id(&chat);
    let first = app.send(&alice, chat, "1").await?;
    app.send(&alice, chat, "2").await?;
    let response = app
        .client
        .post(app.url(&format!("/chats/{chat}/messages")))
        .bearer_auth(&alice)
        .json(&json!({"text": "3", "client_id": uuid::Uuid::new_v4()}))
        .send()
        .await?;
    assert_eq!(response.status(), 429);
    assert!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|s| s >= 1)
    );
    assert_eq!(code(&response.json().await?), "rate_limited");
    let repeat = json!({"text": "1", "client_id": first["client_id"]});
    assert_eq!(
        app.post(&alice, &format!("/chats/{chat}/messages"), repeat).await?.0,
        200,
        "a duplicate is free even when over the limit"
    );
    assert_eq!(texts(&app.get(&alice, &format!("/history/{chat}")).await?.1), ["1", "2"]);
    Ok(())
}
