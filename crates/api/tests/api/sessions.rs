//! Sessions: refresh tokens that rotate, reuse that ends a session, logout.

use serde_json::{Value, json};

use crate::helpers::{TestApp, code, sign_in_at, spawn_app, spawn_app_with};

/// Registers a user and signs in; returns the token answer (access and refresh token).
async fn signed_in(app: &TestApp, name: &str) -> anyhow::Result<Value> {
    let (user, _) = app.register(name).await?;
    sign_in_at(&app.client, &app.address, user["email"].as_str().unwrap_or_default(), "password123").await
}

fn refresh_token(answer: &Value) -> &str {
    answer["refresh_token"].as_str().unwrap_or_default()
}

/// `POST /auth/token` with the refresh grant.
async fn refresh(app: &TestApp, token: &str) -> anyhow::Result<(u16, Value)> {
    let response = app
        .client
        .post(app.url("/auth/token"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await?;
    Ok((response.status().as_u16(), response.json().await?))
}

async fn log_out(app: &TestApp, token: &str) -> anyhow::Result<u16> {
    let response = app.client.post(app.url("/auth/logout")).json(&json!({"refresh_token": token})).send().await?;
    Ok(response.status().as_u16())
}

#[tokio::test]
async fn a_refresh_token_gets_a_new_pair_once_and_its_reuse_ends_the_session() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let first = signed_in(&app, "erin").await?;
    assert_eq!(refresh_token(&first).len(), 64);
    assert!(first["refresh_expires_in"].as_u64().is_some_and(|s| s >= 86_400));
    let (status, second) = refresh(&app, refresh_token(&first)).await?;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["token_type"], "bearer");
    assert_ne!(refresh_token(&second), refresh_token(&first));
    let me = app.get(second["access_token"].as_str().unwrap_or_default(), "/users/me").await?;
    assert_eq!(me.0, 200);

    // The first token was used: presenting it again is reuse, and the whole session ends.
    let (status, body) = refresh(&app, refresh_token(&first)).await?;
    assert_eq!((status, code(&body)), (401, "unauthorized"));
    let (status, body) = refresh(&app, refresh_token(&second)).await?;
    assert_eq!((status, code(&body)), (401, "unauthorized"), "the session's newest token died with it");
    // Access tokens stay valid until they expire.
    assert_eq!(app.get(second["access_token"].as_str().unwrap_or_default(), "/users/me").await?.0, 200);
    Ok(())
}

#[tokio::test]
async fn sessions_are_independent_and_rotation_works_over_json_too() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (user, _) = app.register("fay").await?;
    let email = user["email"].as_str().unwrap_or_default();
    let phone = sign_in_at(&app.client, &app.address, email, "password123").await?;
    let laptop = sign_in_at(&app.client, &app.address, email, "password123").await?;
    let answer = app
        .client
        .post(app.url("/auth/token"))
        .json(&json!({"grant_type": "refresh_token", "refresh_token": refresh_token(&phone)}))
        .send()
        .await?;
    assert_eq!(answer.status(), 200);
    let phone_again = refresh(&app, refresh_token(&phone)).await?;
    assert_eq!(phone_again.0, 401);
    let (status, _) = refresh(&app, refresh_token(&laptop)).await?;
    assert_eq!(status, 200, "another device's session is untouched");
    Ok(())
}

#[tokio::test]
async fn logout_ends_the_session_and_answers_204_for_any_token_without_authorization() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let session = signed_in(&app, "gil").await?;
    assert_eq!(log_out(&app, refresh_token(&session)).await?, 204);
    let (status, body) = refresh(&app, refresh_token(&session)).await?;
    assert_eq!((status, code(&body)), (401, "unauthorized"));
    assert_eq!(log_out(&app, refresh_token(&session)).await?, 204, "twice");
    assert_eq!(log_out(&app, "never-issued").await?, 204);
    assert_eq!(app.get(session["access_token"].as_str().unwrap_or_default(), "/users/me").await?.0, 200);
    let malformed = app.client.post(app.url("/auth/logout")).json(&json!({"token": "x"})).send().await?;
    assert_eq!(malformed.status(), 400);
    assert_eq!(code(&malformed.json().await?), "bad_request");
    Ok(())
}

#[tokio::test]
async fn bad_and_expired_refresh_tokens_are_unauthorized_and_incomplete_grants_bad_requests() -> anyhow::Result<()> {
    let app = spawn_app_with(&[("JWT_REFRESH_TTL_SECONDS", "1")]).await?;
    let session = signed_in(&app, "hal").await?;
    assert_eq!(session["refresh_expires_in"], 1);
    let (status, body) = refresh(&app, "not-a-token").await?;
    assert_eq!((status, code(&body)), (401, "unauthorized"));
    for form in [
        vec![("grant_type", "refresh_token")],
        vec![("grant_type", "client_credentials")],
        vec![("username", "someone@example.com")],
    ] {
        let response = app.client.post(app.url("/auth/token")).form(&form).send().await?;
        assert_eq!(response.status(), 400, "{form:?}");
        assert_eq!(code(&response.json().await?), "bad_request", "{form:?}");
    }
    // Expiry is kept in whole seconds: two of them are sure to have passed the one-second lifetime.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, body) = refresh(&app, refresh_token(&session)).await?;
    assert_eq!((status, code(&body)), (401, "unauthorized"));
    Ok(())
}

#[tokio::test]
async fn two_refreshes_racing_with_one_token_never_both_win() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let session = signed_in(&app, "ida").await?;
    let token = refresh_token(&session);
    let (first, second) = tokio::join!(refresh(&app, token), refresh(&app, token));
    let mut statuses = [first?.0, second?.0];
    statuses.sort_unstable();
    // Either the second saw the token retired, or lost the conditional update: reuse either way.
    assert_eq!(statuses[1], 401, "{statuses:?}");
    assert!(statuses[0] == 200 || statuses[0] == 401, "{statuses:?}");
    Ok(())
}
