//! Presence (contract v2): online with the first device, offline when the last one has been gone for the
//! grace period (a reload is not "offline"), told to whoever shares a chat, across instances.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestDatabase, code, id, spawn_app_with, spawn_on};
use crate::ws_client::WsClient;
use crate::ws_support::{get, person, private_chat};

const GRACE: &str = "0.4";

/// Frames of `kind` about `user` among what the connection has been sent so far.
async fn presence_frames(ws: &mut WsClient, user: i64) -> anyhow::Result<Vec<Value>> {
    Ok(ws.drain().await?.into_iter().filter(|f| f["type"] == "presence" && f["user_id"] == user).collect())
}

#[tokio::test]
async fn contacts_see_a_user_come_online_and_go_offline_but_not_a_reload() -> anyhow::Result<()> {
    let app = spawn_app_with(&[("PRESENCE_OFFLINE_GRACE_SECS", GRACE)]).await?;
    let ((alice_user, alice), (bob_user, bob)) = (app.register("alice").await?, app.register("bob").await?);
    let (_, carol) = app.register("carol").await?;
    app.post(&alice, "/chats/private", json!({"user_id": id(&bob_user)})).await?;
    let alice_id = id(&alice_user);
    let mut bob_ws = WsClient::connect(&app.address, &bob).await?;

    // Never connected: offline, never seen; the caller sees its own email, others do not.
    let (status, seen) = app.get(&bob, &format!("/users/{alice_id}")).await?;
    assert_eq!((status, seen["online"].as_bool(), seen["last_seen"].clone()), (200, Some(false), Value::Null));
    assert!(seen.get("email").is_none(), "{seen}");
    let (_, own) = app.get(&alice, &format!("/users/{alice_id}")).await?;
    assert_eq!(own["email"], alice_user["email"]);
    let (status, body) = app.get(&carol, &format!("/users/{alice_id}")).await?;
    assert_eq!((status, code(&body)), (404, "not_found"), "no shared chat: not visible");

    let alice_ws = WsClient::connect(&app.address, &alice).await?;
    let online = bob_ws.next_of("presence").await?;
    assert_eq!((online["user_id"].as_i64(), online["online"].as_bool()), (Some(alice_id), Some(true)));
    assert_eq!(online["last_seen"], Value::Null);
    let (_, seen) = app.get(&bob, &format!("/users/{alice_id}")).await?;
    assert_eq!(seen["online"].as_bool(), Some(true));

    // A reload: the socket goes and comes back within the grace period. Nobody hears of it.
    drop(alice_ws);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let alice_again = WsClient::connect(&app.address, &alice).await?;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(presence_frames(&mut bob_ws, alice_id).await?, Vec::<Value>::new(), "a reload is not offline");

    // Gone for good: offline once the grace period ends, with when.
    drop(alice_again);
    let offline = bob_ws.next_of("presence").await?;
    assert_eq!((offline["user_id"].as_i64(), offline["online"].as_bool()), (Some(alice_id), Some(false)));
    assert!(offline["last_seen"].is_string(), "{offline}");
    let (_, seen) = app.get(&bob, &format!("/users/{alice_id}")).await?;
    assert_eq!((seen["online"].as_bool(), seen["last_seen"].clone()), (Some(false), offline["last_seen"].clone()));
    Ok(())
}

#[tokio::test]
async fn presence_crosses_instances_and_a_move_between_them_is_not_offline() -> anyhow::Result<()> {
    let Some(redis) = crate::scale_out::redis_url().await? else { return Ok(()) };
    let database = TestDatabase::create().await?;
    let channel = format!("test:{}", uuid::Uuid::new_v4().simple());
    let overrides =
        [("REDIS_URL", redis.as_str()), ("REDIS_CHANNEL", channel.as_str()), ("PRESENCE_OFFLINE_GRACE_SECS", GRACE)];
    let (a, _) = spawn_on(database.url(), &overrides).await?;
    let (b, _) = spawn_on(database.url(), &overrides).await?;
    let (alice, bob) = (person(&a, "alice").await?, person(&b, "bob").await?);
    private_chat(&a, &alice, &bob).await?;
    let mut bob_on_b = WsClient::connect(&b, &bob.token).await?;

    let alice_on_a = WsClient::connect(&a, &alice.token).await?;
    let online = bob_on_b.next_of("presence").await?;
    assert_eq!((online["user_id"].as_i64(), online["online"].as_bool()), (Some(alice.id), Some(true)));
    assert_eq!(
        get(&b, &bob.token, &format!("/users/{}", alice.id)).await?["online"],
        json!(true),
        "B asks A's Redis set"
    );

    // Alice moves from A to B: A's grace ends while B holds her, so she never went offline.
    let alice_on_b = WsClient::connect(&b, &alice.token).await?;
    drop(alice_on_a);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(presence_frames(&mut bob_on_b, alice.id).await?, Vec::<Value>::new());

    drop(alice_on_b);
    let offline = bob_on_b.next_of("presence").await?;
    assert_eq!((offline["user_id"].as_i64(), offline["online"].as_bool()), (Some(alice.id), Some(false)));
    assert_eq!(get(&a, &bob.token, &format!("/users/{}", alice.id)).await?["online"], json!(false));
    Ok(())
}

/// Redis, which holds who is online on which instance, dies. Presence then judges from this instance
/// alone, within its one-second bound: a connection is never held up, contacts still hear a user come
/// online and go offline, and `GET /users/{id}` still answers.
#[tokio::test]
async fn with_redis_down_presence_answers_from_this_instance_and_holds_up_nothing() -> anyhow::Result<()> {
    let Some(mut redis) = crate::scale_out::OwnRedis::start().await? else { return Ok(()) };
    let database = TestDatabase::create().await?;
    let url = redis.url();
    let overrides = [("REDIS_URL", url.as_str()), ("PRESENCE_OFFLINE_GRACE_SECS", GRACE)];
    let (address, _) = spawn_on(database.url(), &overrides).await?;
    let (alice, bob) = (person(&address, "alice").await?, person(&address, "bob").await?);
    private_chat(&address, &alice, &bob).await?;
    let mut bob_ws = WsClient::connect(&address, &bob.token).await?;
    redis.stop()?;

    let started = std::time::Instant::now();
    let mut alice_ws = WsClient::connect(&address, &alice.token).await?;
    alice_ws.send_json(json!({"type": "ping"})).await?;
    assert_eq!(alice_ws.next_of("pong").await?["type"], "pong");
    assert!(started.elapsed() < Duration::from_secs(2), "a connection waited {:?} for Redis", started.elapsed());
    let online = bob_ws.next_of("presence").await?;
    assert_eq!((online["user_id"].as_i64(), online["online"].as_bool()), (Some(alice.id), Some(true)));
    assert_eq!(get(&address, &bob.token, &format!("/users/{}", alice.id)).await?["online"], json!(true));

    drop(alice_ws);
    let offline = bob_ws.next_of("presence").await?;
    assert_eq!((offline["user_id"].as_i64(), offline["online"].as_bool()), (Some(alice.id), Some(false)));
    let seen = get(&address, &bob.token, &format!("/users/{}", alice.id)).await?;
    assert_eq!((seen["online"].clone(), seen["last_seen"].clone()), (json!(false), offline["last_seen"].clone()));
    Ok(())
}
