use serde_json::{Value, json};

use crate::helpers::{TestApp, code, id, spawn_app};

async fn team(app: &TestApp) -> anyhow::Result<(Vec<(Value, String)>, Value)> {
    let mut people = Vec::new();
    for name in ["ann", "ben", "cat", "dan"] {
        people.push(app.register(name).await?);
    }
    let (status, group) = app
        .post(
            &people[0].1,
            "/groups",
            json!({"name": " Team ", "member_ids": [id(&people[1].0), id(&people[2].0), id(&people[1].0)]}),
        )
        .await?;
    anyhow::ensure!(status == 201, "create answered {status}: {group}");
    Ok((people, group))
}

fn member_ids(chat: &Value) -> Vec<i64> {
    chat["members"].as_array().map(|ms| ms.iter().map(id).collect()).unwrap_or_default()
}

#[tokio::test]
async fn a_group_has_its_creator_first_and_distinct_members() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (people, group) = team(&app).await?;
    assert_eq!((group["type"].as_str(), group["name"].as_str()), (Some("group"), Some("Team")));
    assert_eq!(group["creator_id"].as_i64(), Some(id(&people[0].0)));
    assert_eq!(member_ids(&group), [id(&people[0].0), id(&people[1].0), id(&people[2].0)]);
    let (status, body) = app.post(&people[0].1, "/groups", json!({"name": "", "member_ids": []})).await?;
    assert_eq!((status, code(&body)), (422, "invalid_input"));
    let (status, body) = app.post(&people[0].1, "/groups", json!({"name": "X", "member_ids": [999_999]})).await?;
    assert_eq!((status, code(&body)), (404, "not_found"));
    Ok(())
}

#[tokio::test]
async fn only_the_creator_adds_and_a_newcomer_starts_with_nothing_unread() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (people, group) = team(&app).await?;
    let last = app.send(&people[1].1, id(&group), "before dan").await?;
    let path = format!("/groups/{}/members", id(&group));
    let (status, body) = app.post(&people[1].1, &path, json!({"user_id": id(&people[3].0)})).await?;
    assert_eq!((status, code(&body)), (403, "forbidden"));
    let (status, body) = app.post(&people[3].1, &path, json!({"user_id": id(&people[3].0)})).await?;
    assert_eq!((status, code(&body)), (403, "forbidden"), "outsiders cannot add themselves");
    let (status, chat) = app.post(&people[0].1, &path, json!({"user_id": id(&people[3].0)})).await?;
    assert_eq!(status, 200);
    let dan = chat["members"].as_array().and_then(|ms| ms.iter().find(|m| id(m) == id(&people[3].0)).cloned());
    assert_eq!(dan.map(|d| d["last_read_message_id"].clone()), Some(json!(id(&last))));
    let (_, list) = app.get(&people[3].1, "/chats").await?;
    assert_eq!(list[0]["unread_count"], 0);
    let (status, body) = app.post(&people[0].1, &path, json!({"user_id": 999_999})).await?;
    assert_eq!((status, code(&body)), (404, "not_found"));
    Ok(())
}

#[tokio::test]
async fn members_leave_the_creator_removes_and_creatorship_passes_to_the_longest_standing() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (people, group) = team(&app).await?;
    let chat = id(&group);
    let remove = |who: usize, whom: usize| {
        let path = format!("/groups/{chat}/members/{}", id(&people[whom].0));
        let token = people[who].1.clone();
        let app = &app;
        async move { app.delete(&token, &path).await }
    };
    let (status, body) = remove(1, 2).await?;
    assert_eq!((status, code(&body)), (403, "forbidden"), "members cannot remove each other");
    assert_eq!(remove(2, 2).await?.0, 204, "a member may leave");
    let (status, body) = remove(0, 2).await?;
    assert_eq!((status, code(&body)), (404, "not_found"), "a former member is no longer in the group");
    let (status, body) = remove(0, 3).await?;
    assert_eq!((status, code(&body)), (404, "not_found"), "dan was never a member");
    assert_eq!(remove(0, 0).await?.0, 204, "the creator leaves");
    let (_, chat_now) = app.get(&people[1].1, &format!("/chats/{chat}")).await?;
    assert_eq!(chat_now["creator_id"].as_i64(), Some(id(&people[1].0)));
    assert_eq!(member_ids(&chat_now), [id(&people[1].0)]);
    Ok(())
}

#[tokio::test]
async fn a_leaver_no_longer_counts_so_what_only_it_had_not_read_becomes_read() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (people, group) = team(&app).await?;
    let chat = id(&group);
    let message = app.send(&people[0].1, chat, "hello").await?;
    app.post(&people[1].1, &format!("/chats/{chat}/read"), json!({"message_id": id(&message)})).await?;
    let (_, history) = app.get(&people[0].1, &format!("/history/{chat}")).await?;
    assert_eq!(history[0]["read"], false, "cat has not read it");
    app.delete(&people[2].1, &format!("/groups/{chat}/members/{}", id(&people[2].0))).await?;
    let (_, history) = app.get(&people[0].1, &format!("/history/{chat}")).await?;
    assert_eq!(history[0]["read"], true);
    Ok(())
}

#[tokio::test]
async fn private_chats_have_fixed_members() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let ((_, alice), (bob, _), (carol, _)) =
        (app.register("alice").await?, app.register("bob").await?, app.register("carol").await?);
    let (_, chat) = app.post(&alice, "/chats/private", json!({"user_id": id(&bob)})).await?;
    let (status, body) =
        app.post(&alice, &format!("/groups/{}/members", id(&chat)), json!({"user_id": id(&carol)})).await?;
    assert_eq!((status, code(&body)), (422, "invalid_input"));
    Ok(())
}
