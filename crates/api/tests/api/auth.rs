use serde_json::{Value, json};

use crate::helpers::{code, spawn_app};

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

#[tokio::test]
async fn missing_malformed_forged_and_expired_tokens_are_unauthorized() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (user, _) = app.register("carol").await?;
    let now = chrono::Utc::now().timestamp();
    let sign = |secret: &[u8], exp: i64| {
        let claims = json!({"sub": user["id"].to_string(), "iat": now - 7200, "exp": exp});
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &jsonwebtoken::EncodingKey::from_secret(secret))
    };
    let forged = sign(b"not-the-secret", now + 3600)?;
    let expired = sign(b"test-secret", now - 3600)?;
    let missing = app.client.get(app.url("/users/me")).send().await?;
    assert_eq!(missing.status(), 401);
    assert_eq!(code(&missing.json().await?), "unauthorized");
    for token in ["garbage", forged.as_str(), expired.as_str()] {
        let (status, body) = app.get(token, "/users/me").await?;
        assert_eq!((status, code(&body)), (401, "unauthorized"), "{token}");
    }
    let valid = sign(b"test-secret", now + 3600)?;
    assert_eq!(app.get(&valid, "/users/me").await?.0, 200, "the forging helper itself is sound");
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
