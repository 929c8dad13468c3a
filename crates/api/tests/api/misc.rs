use serde_json::Value;

use crate::helpers::{code, spawn_app};

#[tokio::test]
async fn health_readiness_docs_and_the_web_client_are_served() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    for path in ["/healthz", "/readyz"] {
        let body: Value = app.client.get(app.url(path)).send().await?.json().await?;
        assert_eq!(body["status"], "ok", "{path}");
    }
    let spec: Value = app.client.get(app.url("/openapi.json")).send().await?.json().await?;
    for path in [
        "/auth/register",
        "/auth/token",
        "/users/me",
        "/users",
        "/chats/private",
        "/groups",
        "/groups/{chat_id}/members",
        "/groups/{chat_id}/members/{user_id}",
        "/chats",
        "/chats/{chat_id}",
        "/history/{chat_id}",
        "/chats/{chat_id}/messages",
        "/chats/{chat_id}/read",
        "/healthz",
        "/readyz",
    ] {
        assert!(spec["paths"].get(path).is_some(), "{path} is documented");
    }
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
    let docs = app.client.get(app.url("/docs/")).send().await?;
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await?.contains("swagger"));
    let index = app.client.get(app.url("/")).send().await?;
    assert!(index.headers().get("content-type").is_some_and(|v| v.to_str().is_ok_and(|v| v.starts_with("text/html"))));
    let script = app.client.get(app.url("/static/app.js")).send().await?;
    assert!(
        script
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().is_ok_and(|v| v.starts_with("text/javascript")))
    );
    Ok(())
}

#[tokio::test]
async fn unknown_routes_answer_the_error_body() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    for path in ["/nope", "/static/missing.js"] {
        let response = app.client.get(app.url(path)).send().await?;
        assert_eq!(response.status(), 404);
        assert_eq!(code(&response.json().await?), "not_found");
    }
    Ok(())
}
