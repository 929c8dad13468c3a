//! Text that people type: control characters are refused everywhere, look-alike names and emails are
//! refused or normalised (NFC), and another user's email is shown only to whoever typed it exactly.
//! The same answers on SQLite and PostgreSQL.

use serde_json::{Value, json};

use crate::helpers::{TestApp, code, id, spawn_app};
use crate::ws_client::WsClient;

/// Cc characters other than newline and tab, the ones the contract names first.
const CONTROLS: [&str; 6] = ["\u{0}", "\r", "\u{7}", "\u{1b}", "\u{7f}", "\u{85}"];

async fn register_raw(app: &TestApp, name: &str, email: &str, password: &str) -> anyhow::Result<(u16, Value)> {
    let response = app
        .client
        .post(app.url("/auth/register"))
        .json(&json!({"name": name, "email": email, "password": password}))
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

async fn search(app: &TestApp, token: &str, q: &str) -> anyhow::Result<(u16, Value)> {
    let response =
        app.client.get(app.url("/users")).query(&[("q", q), ("limit", "100")]).bearer_auth(token).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

/// A fresh address each time, so that no attempt meets the per-email sign-up limit.
fn fresh_email() -> String {
    format!("u{}@example.com", uuid::Uuid::new_v4().simple())
}

fn users(found: &Value) -> Vec<Value> {
    found.as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_control_character_in_a_message_is_invalid_input_over_rest_and_websocket_and_nothing_is_stored()
-> anyhow::Result<()> {
    let app = spawn_app().await?;
    let ((_, alice), (bob, _)) = (app.register("alice").await?, app.register("bob").await?);
    let (_, chat) = app.post(&alice, "/chats/private", json!({"user_id": id(&bob)})).await?;
    let chat = id(&chat);
    let mut ws = WsClient::connect(&app.address, &alice).await?;
    for control in CONTROLS {
        let text = format!("hello{control}world");
        let (status, body) = app
            .post(&alice, &format!("/chats/{chat}/messages"), json!({"text": text, "client_id": uuid::Uuid::new_v4()}))
            .await?;
        assert_eq!((status, code(&body)), (422, "invalid_input"), "REST {control:?}: {body}");
        ws.send_message(chat, &text).await?;
        let error = ws.next_of("error").await?;
        assert_eq!(error["code"], "invalid_input", "WebSocket {control:?}: {error}");
    }
    let (status, history) = app.get(&alice, &format!("/history/{chat}")).await?;
    assert_eq!((status, users(&history).len()), (200, 0), "nothing stored: {history}");

    // Newlines, tabs, right-to-left text and joiners inside emoji are what people write: kept as typed.
    let kept = "line one\n\tשלום \u{200F}עולם 👩\u{200D}💻";
    let message = app.send(&alice, chat, kept).await?;
    assert_eq!(message["text"].as_str(), Some(kept));
    Ok(())
}

#[tokio::test]
async fn registration_refuses_control_characters_in_every_field_and_over_long_passwords_and_stores_nothing()
-> anyhow::Result<()> {
    let app = spawn_app().await?;
    for control in ["\u{0}", "\r", "\u{7f}", "\u{85}"] {
        let cases = [
            (format!("Al{control}ice"), fresh_email(), "password123".to_owned()),
            ("Alice".to_owned(), format!("al{control}{}", fresh_email()), "password123".to_owned()),
            ("Alice".to_owned(), fresh_email(), format!("password{control}123")),
        ];
        for (name, email, password) in cases {
            let (status, body) = register_raw(&app, &name, &email, &password).await?;
            assert_eq!((status, code(&body)), (422, "invalid_input"), "{name:?} {email:?} {control:?}: {body}");
        }
    }
    // bcrypt reads 72 bytes: a 74-byte password would be silently truncated, so it is refused.
    let (status, body) = register_raw(&app, "Alice", &fresh_email(), &"é".repeat(37)).await?;
    assert_eq!((status, code(&body)), (422, "invalid_input"), "{body}");
    let (status, alice) = register_raw(&app, "Alice", &fresh_email(), &"é".repeat(36)).await?;
    assert_eq!(status, 201, "72 bytes fit: {alice}");
    let (observer, token) = app.register("observer").await?;
    let (_, everyone) = search(&app, &token, "").await?;
    assert_eq!(users(&everyone).iter().map(id).collect::<Vec<_>>(), [id(&alice), id(&observer)], "nothing else stored");
    Ok(())
}

#[tokio::test]
async fn signing_in_with_a_control_character_never_reaches_the_database() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (user, _) = app.register("alice").await?;
    let email = user["email"].as_str().unwrap_or_default().to_owned();
    for (username, password) in [(format!("{email}\u{0}"), "password123"), (format!("\u{0}{email}"), "password123")] {
        let response = app
            .client
            .post(app.url("/auth/token"))
            .form(&[("username", username.as_str()), ("password", password)])
            .send()
            .await?;
        let status = response.status().as_u16();
        let body: Value = response.json().await?;
        // No server error and no token: control characters are invalid input, as everywhere.
        assert_eq!((status, code(&body)), (422, "invalid_input"), "{username:?}: {body}");
        assert!(body.get("access_token").is_none());
    }
    Ok(())
}

#[tokio::test]
async fn a_control_character_in_a_user_search_is_invalid_input() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (_, token) = app.register("alice").await?;
    for q in ["\u{0}", "al\u{0}ice", "al\rice", "\u{1b}[0m"] {
        let (status, body) = search(&app, &token, q).await?;
        assert_eq!((status, code(&body)), (422, "invalid_input"), "{q:?}: {body}");
    }
    Ok(())
}

#[tokio::test]
async fn invisible_bidi_and_mixed_script_names_and_emails_are_refused() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let names = [
        "Ali\u{200B}ce",    // zero-width space
        "Ali\u{200D}ce",    // zero-width joiner
        "\u{202E}ecilA",    // right-to-left override
        "Alice\u{2066}",    // left-to-right isolate
        "Ali\u{AD}ce",      // soft hyphen
        "\u{FEFF}Alice",    // byte-order mark
        "\u{0430}lice",     // a Cyrillic а among Latin letters
        "Alic\u{0435} Doe", // a Cyrillic е ending a Latin word
    ];
    for name in names {
        let (status, body) = register_raw(&app, name, &fresh_email(), "password123").await?;
        assert_eq!((status, code(&body)), (422, "invalid_input"), "name {name:?}: {body}");
    }
    for email in ["ali\u{200B}ce@example.com", "alice@exa\u{200F}mple.com", "\u{0430}lice@example.com"] {
        let (status, body) = register_raw(&app, "Alice", email, "password123").await?;
        assert_eq!((status, code(&body)), (422, "invalid_input"), "email {email:?}: {body}");
    }
    let (_, token) = app.register("alice").await?;
    for name in ["Te\u{200B}am", "\u{202E}maeT"] {
        let (status, body) = app.post(&token, "/groups", json!({"name": name, "member_ids": []})).await?;
        assert_eq!((status, code(&body)), (422, "invalid_input"), "group {name:?}: {body}");
    }
    // Scripts may meet in one name, word by word.
    let (status, body) = register_raw(&app, "Ivan Иванов", &fresh_email(), "password123").await?;
    assert_eq!(status, 201, "{body}");
    Ok(())
}

#[tokio::test]
async fn names_and_emails_are_stored_composed_so_accents_cannot_make_a_second_account() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (status, user) = register_raw(&app, "Ame\u{0301}lie", "rene\u{0301}@example.com", "password123").await?;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["name"].as_str(), Some("Am\u{e9}lie"));
    assert_eq!(user["email"].as_str(), Some("ren\u{e9}@example.com"));
    let (status, body) = register_raw(&app, "Amélie", "REN\u{c9}@example.com", "password123").await?;
    assert_eq!((status, code(&body)), (409, "email_taken"), "{body}");

    let (_, token) = app.register("searcher").await?;
    let (status, found) = search(&app, &token, "ame\u{0301}lie").await?;
    assert_eq!(status, 200);
    assert_eq!(users(&found).iter().map(id).collect::<Vec<_>>(), [id(&user)], "{found}");
    let (status, group) = app.post(&token, "/groups", json!({"name": "Cafe\u{0301}", "member_ids": []})).await?;
    assert_eq!((status, group["name"].as_str()), (201, Some("Caf\u{e9}")), "{group}");
    Ok(())
}

#[tokio::test]
async fn another_users_email_is_shown_only_to_whoever_searched_for_exactly_that_email() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let ((alice, token), (bob, _)) = (app.register("alice").await?, app.register("bob").await?);
    let bob_email = bob["email"].as_str().unwrap_or_default().to_owned();

    let (status, found) = search(&app, &token, "bob").await?;
    assert_eq!(status, 200);
    assert_eq!(users(&found), [json!({"id": id(&bob), "name": "bob"})], "no email by name");
    let (_, everyone) = search(&app, &token, "").await?;
    for user in users(&everyone) {
        assert_eq!(user.get("email").is_some(), id(&user) == id(&alice), "only the caller's own email: {user}");
    }
    // An email matches only whole, ignoring case; then the searcher may see it.
    let (_, exact) = search(&app, &token, &format!(" {} ", bob_email.to_uppercase())).await?;
    assert_eq!(users(&exact), [json!({"id": id(&bob), "name": "bob", "email": bob_email})]);
    let local_part = bob_email.split('@').next().unwrap_or_default();
    for partial in ["example.com", &local_part[4..], "@"] {
        let (status, found) = search(&app, &token, partial).await?;
        assert_eq!((status, users(&found)), (200, vec![]), "{partial:?} is part of an email only");
    }
    let (_, me) = app.get(&token, "/users/me").await?;
    assert_eq!(me["email"], alice["email"]);
    Ok(())
}
