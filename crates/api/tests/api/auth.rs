use serde_json::{Value, json};

use crate::helpers::{TEST_JWT_SECRET, TestApp, code, id, spawn_app, spawn_app_with};

#[tokio::test]
async fn registration_answers_the_user_and_refuses_a_taken_email_whatever_its_case() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let register = |email: &'static str| {
        app.client
            .post(app.url("/auth/register"))
            .json(&json!({"name": "Alice", "email": email, "password": "password123"}))
            .send()
    };
    let response = register("alice@example.com").await?;
    assert_eq!(response.status(), 201);
    let user: Value = response.json().await?;
    assert_eq!((user["name"].as_str(), user["email"].as_str()), (Some("Alice"), Some("alice@example.com")));
    assert!(user["id"].as_i64().is_some() && user.get("password").is_none());
    let again = register("ALICE@Example.com").await?;
    assert_eq!(again.status(), 409);
    assert_eq!(code(&again.json().await?), "email_taken");
    Ok(())
}

#[tokio::test]
async fn registration_validates_each_field() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let cases = [
        (json!({"name": " ", "email": "a@b.io", "password": "password123"}), 422, "invalid_input"),
        (json!({"name": "A", "email": "not-an-email", "password": "password123"}), 422, "invalid_input"),
        (json!({"name": "A", "email": "a@b.io", "password": "short"}), 422, "invalid_input"),
        (json!({"name": "A", "email": "a@b.io"}), 400, "bad_request"),
        (json!({"name": 5, "email": "a@b.io", "password": "password123"}), 400, "bad_request"),
    ];
    for (body, status, expected) in cases {
        let response = app.client.post(app.url("/auth/register")).json(&body).send().await?;
        assert_eq!(response.status(), status, "{body}");
        assert_eq!(code(&response.json().await?), expected, "{body}");
    }
    let unparsable = app
        .client
        .post(app.url("/auth/register"))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await?;
    assert_eq!(unparsable.status(), 400);
    assert_eq!(code(&unparsable.json().await?), "bad_request");
    Ok(())
}

#[tokio::test]
async fn tokens_come_from_the_password_form_or_json_and_wrong_credentials_are_refused() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (user, _) = app.register("bob").await?;
    let email = user["email"].as_str().unwrap_or_default().to_owned();
    let form: Value = app
        .client
        .post(app.url("/auth/token"))
        .form(&[("grant_type", "password"), ("username", email.as_str()), ("password", "password123")])
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(form["token_type"], "bearer");
    assert!(form["expires_in"].as_u64().is_some_and(|s| s > 0));
    let json_answer = app
        .client
        .post(app.url("/auth/token"))
        .json(&json!({"email": email.to_uppercase(), "password": "password123"}))
        .send()
        .await?;
    assert_eq!(json_answer.status(), 200);
    for (username, password) in [(email.as_str(), "wrong-password"), ("nobody@example.com", "password123")] {
        let refused = app
            .client
            .post(app.url("/auth/token"))
            .form(&[("username", username), ("password", password)])
            .send()
            .await?;
        assert_eq!(refused.status(), 401);
        assert_eq!(code(&refused.json().await?), "invalid_credentials");
    }
    let me = app.get(form["access_token"].as_str().unwrap_or_default(), "/users/me").await?;
    assert_eq!(me, (200, user));
    Ok(())
}

/// The claims of a token this server signed, for forging variants of it.
fn claims_of(token: &str) -> anyhow::Result<Value> {
    let key = jsonwebtoken::DecodingKey::from_secret(TEST_JWT_SECRET.as_bytes());
    let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    Ok(jsonwebtoken::decode::<Value>(token, &key, &validation)?.claims)
}

fn sign(claims: &Value, secret: &[u8]) -> anyhow::Result<String> {
    Ok(jsonwebtoken::encode(&jsonwebtoken::Header::default(), claims, &jsonwebtoken::EncodingKey::from_secret(secret))?)
}

#[tokio::test]
async fn missing_malformed_forged_and_expired_tokens_are_unauthorized() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (_, token) = app.register("carol").await?;
    let now = chrono::Utc::now().timestamp();
    let mut claims = claims_of(&token)?;
    claims["iat"] = json!(now - 7200);
    claims["exp"] = json!(now + 3600);
    let forged = sign(&claims, b"not the secret, though just as long")?;
    let valid = sign(&claims, TEST_JWT_SECRET.as_bytes())?;
    claims["exp"] = json!(now - 3600);
    let expired = sign(&claims, TEST_JWT_SECRET.as_bytes())?;
    let missing = app.client.get(app.url("/users/me")).send().await?;
    assert_eq!(missing.status(), 401);
    assert_eq!(code(&missing.json().await?), "unauthorized");
    for token in ["garbage", forged.as_str(), expired.as_str()] {
        let (status, body) = app.get(token, "/users/me").await?;
        assert_eq!((status, code(&body)), (401, "unauthorized"), "{token}");
    }
    assert_eq!(app.get(&valid, "/users/me").await?.0, 200, "the forging helper itself is sound");
    Ok(())
}

#[tokio::test]
async fn a_signed_token_of_a_user_that_does_not_exist_is_unauthorized_everywhere() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (user, token) = app.register("dave").await?;
    let mut ghost = claims_of(&token)?;
    ghost["sub"] = json!((id(&user) + 1000).to_string());
    let ghost = sign(&ghost, TEST_JWT_SECRET.as_bytes())?;
    for path in ["/users/me", "/chats"] {
        let (status, body) = app.get(&ghost, path).await?;
        assert_eq!((status, code(&body)), (401, "unauthorized"), "{path}");
    }
    let (status, body) = app.post(&ghost, "/groups", json!({"name": "Ghosts", "member_ids": [id(&user)]})).await?;
    assert_eq!((status, code(&body)), (401, "unauthorized"), "POST /groups was a foreign-key 500");
    let (status, body) = app.upgrade_answer(&format!("?token={ghost}")).await?;
    assert_eq!((status, code(&body)), (401, "unauthorized"), "the WebSocket upgrade");
    assert_eq!(app.upgrade_answer(&format!("?token={token}")).await?.0, 101, "a real user's token upgrades");
    Ok(())
}

#[tokio::test]
async fn after_a_database_reset_an_old_token_does_not_become_the_new_user_with_its_id() -> anyhow::Result<()> {
    let before = spawn_app().await?;
    let (old_user, old_token) = before.register("old").await?;
    // The same secret, a fresh database: the first user there gets the same id.
    let after = spawn_app().await?;
    let (new_user, new_token) = after.register("new").await?;
    assert_eq!(id(&old_user), id(&new_user));
    let (status, body) = after.get(&old_token, "/users/me").await?;
    assert_eq!((status, code(&body)), (401, "unauthorized"));
    assert_eq!(after.upgrade_answer(&format!("?token={old_token}")).await?.0, 401);
    assert_eq!(after.get(&new_token, "/users/me").await?, (200, new_user));
    Ok(())
}

#[tokio::test]
async fn users_can_be_searched_by_name_or_email() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (_, token) = app.register("Zelda").await?;
    app.register("zebra").await?;
    app.register("alpha").await?;
    let (status, found) = app.get(&token, "/users?q=ZE&limit=10").await?;
    assert_eq!(status, 200);
    let names: Vec<&str> =
        found.as_array().map(|a| a.iter().filter_map(|u| u["name"].as_str()).collect()).unwrap_or_default();
    assert_eq!(names, ["Zelda", "zebra"]);
    let (status, body) = app.get(&token, "/users?limit=0").await?;
    assert_eq!((status, code(&body)), (422, "invalid_input"));
    Ok(())
}

/// A sign-in attempt from this test's address; returns the status and the `Retry-After` header.
async fn attempt(app: &TestApp, email: &str, password: &str) -> anyhow::Result<(u16, Option<u64>, Value)> {
    let response =
        app.client.post(app.url("/auth/token")).form(&[("username", email), ("password", password)]).send().await?;
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
    Ok((response.status().as_u16(), retry_after, response.json().await?))
}

#[tokio::test]
async fn one_address_gets_30_attempts_then_429_with_retry_after_and_so_does_registration() -> anyhow::Result<()> {
    // The contract's defaults: "" is the default value.
    let app = spawn_app_with(&[("RATE_AUTH_PER_SEC", "")]).await?;
    for i in 0..30 {
        let (status, _, body) = attempt(&app, &format!("guess{i}@example.com"), "wrong-password").await?;
        assert_eq!((status, code(&body)), (401, "invalid_credentials"), "attempt {i}");
    }
    let (status, retry_after, body) = attempt(&app, "guess-more@example.com", "wrong-password").await?;
    assert_eq!((status, code(&body)), (429, "rate_limited"));
    assert_eq!(retry_after, Some(1));
    let register = app
        .client
        .post(app.url("/auth/register"))
        .json(&json!({"name": "Late", "email": "late@example.com", "password": "password123"}))
        .send()
        .await?;
    assert_eq!(register.status(), 429);
    assert!(register.headers().contains_key("retry-after"));
    assert_eq!(code(&register.json().await?), "rate_limited");
    Ok(())
}

#[tokio::test]
async fn one_email_gets_10_attempts_whatever_the_address_and_others_are_unaffected() -> anyhow::Result<()> {
    let app = spawn_app_with(&[("RATE_AUTH_PER_SEC", "100"), ("RATE_AUTH_BURST", "100")]).await?;
    for i in 0..10 {
        let (status, _, _) = attempt(&app, "victim@example.com", &format!("guess-{i}")).await?;
        assert_eq!(status, 401, "attempt {i}");
    }
    let (status, retry_after, body) = attempt(&app, "VICTIM@example.com", "guess-10").await?;
    assert_eq!((status, code(&body)), (429, "rate_limited"));
    assert!(retry_after.is_some_and(|s| (5..=10).contains(&s)), "{retry_after:?}");
    let (status, _, body) = attempt(&app, "someone-else@example.com", "guess").await?;
    assert_eq!((status, code(&body)), (401, "invalid_credentials"));
    Ok(())
}

#[tokio::test]
async fn a_password_longer_than_72_bytes_does_not_sign_in_on_its_first_72() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let password = "p".repeat(72);
    let email = format!("long-{}@example.com", uuid::Uuid::new_v4().simple());
    let registered = app
        .client
        .post(app.url("/auth/register"))
        .json(&json!({"name": "Long", "email": email, "password": password}))
        .send()
        .await?;
    assert_eq!(registered.status(), 201);
    let (status, _, body) = attempt(&app, &email, &format!("{password}and more")).await?;
    assert_eq!((status, code(&body)), (401, "invalid_credentials"));
    assert_eq!(attempt(&app, &email, &password).await?.0, 200);
    Ok(())
}

#[tokio::test]
async fn the_server_refuses_to_start_with_a_short_or_placeholder_secret() -> anyhow::Result<()> {
    for secret in ["s", "change-me-in-production"] {
        let refused = spawn_app_with(&[("JWT_SECRET", secret)]).await;
        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("JWT_SECRET"), "{secret}: {message:?}");
    }
    Ok(())
}
