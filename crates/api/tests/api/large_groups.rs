//! Groups past 100 members: chats list only the caller among their members (the rest page through
//! `GET /chats/{chat_id}/members`), and a membership change is not broadcast to every member.

use futures_util::future::try_join_all;
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, id, spawn_app};
use crate::ws_client::WsClient;
use crate::ws_support::{Person, person, post};

/// Past this many members a chat shows only the caller (domain::chat::INLINE_MEMBERS_MAX).
const INLINE_MEMBERS_MAX: usize = 100;

/// A creator and a group of `size` members in all (the creator first).
async fn large_group(app: &TestApp, size: usize) -> anyhow::Result<(Vec<Person>, i64)> {
    let people =
        try_join_all((0..size).map(|i| async move { person(&app.address, &format!("member{i}")).await })).await?;
    let ids: Vec<i64> = people[1..].iter().map(|p| p.id).collect();
    let (status, chat) =
        post(&app.address, &people[0].token, "/groups", json!({"name": "Big", "member_ids": ids})).await?;
    anyhow::ensure!(status == 201, "create answered {status}: {chat}");
    Ok((people, id(&chat)))
}

fn ids_of(members: &Value) -> Vec<i64> {
    members.as_array().map(|ms| ms.iter().map(id).collect()).unwrap_or_default()
}

#[tokio::test]
async fn a_large_group_shows_only_the_caller_and_pages_its_members_by_id() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (people, chat) = large_group(&app, INLINE_MEMBERS_MAX + 1).await?;
    let me = &people[3];
    let (_, list) = app.get(&me.token, "/chats").await?;
    assert_eq!(ids_of(&list[0]["members"]), [me.id], "only the caller, with its read pointer");
    assert_eq!(list[0]["member_count"], INLINE_MEMBERS_MAX + 1);
    let (_, one) = app.get(&me.token, &format!("/chats/{chat}")).await?;
    assert_eq!((ids_of(&one["members"]), one["member_count"].as_u64()), (vec![me.id], Some(101)));

    let (status, first) = app.get(&me.token, &format!("/chats/{chat}/members?limit=60")).await?;
    assert_eq!(status, 200);
    let last = ids_of(&first).last().copied().unwrap_or_default();
    let (_, rest) = app.get(&me.token, &format!("/chats/{chat}/members?after_id={last}&limit=1000")).await?;
    let mut everyone: Vec<i64> = people.iter().map(|p| p.id).collect();
    everyone.sort_unstable();
    assert_eq!([ids_of(&first), ids_of(&rest)].concat(), everyone, "two pages, in id order, nobody twice");
    assert!(first[0].get("name").is_some() && first[0].get("last_read_message_id").is_some());
    let (_, default_page) = app.get(&me.token, &format!("/chats/{chat}/members")).await?;
    assert_eq!(ids_of(&default_page).len(), 101, "200 unless asked");

    let (status, body) = app.get(&me.token, &format!("/chats/{chat}/members?limit=0")).await?;
    assert_eq!((status, code(&body)), (422, "invalid_input"));
    let (status, body) = app.get(&me.token, &format!("/chats/{chat}/members?after_id=-1")).await?;
    assert_eq!((status, code(&body)), (422, "invalid_input"));
    let outsider = person(&app.address, "outsider").await?;
    let (status, body) = app.get(&outsider.token, &format!("/chats/{chat}/members")).await?;
    assert_eq!((status, code(&body)), (403, "forbidden"));
    let (status, body) = app.get(&me.token, "/chats/999999/members").await?;
    assert_eq!((status, code(&body)), (404, "not_found"));
    Ok(())
}

#[tokio::test]
async fn a_small_group_still_lists_every_member() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (people, chat) = large_group(&app, INLINE_MEMBERS_MAX).await?;
    let (_, one) = app.get(&people[0].token, &format!("/chats/{chat}")).await?;
    assert_eq!((ids_of(&one["members"]).len(), one["member_count"].as_u64()), (100, Some(100)));
    Ok(())
}

#[tokio::test]
async fn joining_a_large_group_tells_the_newcomer_and_not_every_member() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (people, chat) = large_group(&app, INLINE_MEMBERS_MAX + 1).await?;
    let newcomer = person(&app.address, "newcomer").await?;
    let mut member_ws = WsClient::connect(&app.address, &people[5].token).await?;
    let mut newcomer_ws = WsClient::connect(&app.address, &newcomer.token).await?;
    let (status, added) =
        post(&app.address, &people[0].token, &format!("/groups/{chat}/members"), json!({"user_id": newcomer.id}))
            .await?;
    assert_eq!(status, 200);
    assert_eq!(ids_of(&added["members"]), [people[0].id], "the answer is small too");
    assert_eq!(newcomer_ws.next_of("chat_updated").await?["chat_id"], chat);
    // The newcomer hears the group's messages at once; the member's next frame is that message, not a
    // chat_updated for somebody else joining.
    let sent = app.send(&people[0].token, chat, "welcome").await?;
    assert_eq!(newcomer_ws.next_of("message").await?["message"]["id"], sent["id"]);
    let next = member_ws.next_frame().await?;
    assert_eq!((next["type"].as_str(), &next["message"]["id"]), (Some("message"), &sent["id"]));
    Ok(())
}
