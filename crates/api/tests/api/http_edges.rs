//! The edges of HTTP: methods a path does not take, HEAD, oversized and slow bodies, and the headers
//! that keep the web client's page safe.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{code, spawn_app};

#[tokio::test]
async fn a_wrong_method_on_a_known_path_is_405_with_allow_and_the_error_body() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    for (method, path, allow) in [
        (reqwest::Method::PUT, "/healthz", "GET, HEAD"),
        (reqwest::Method::DELETE, "/history/1", "GET, HEAD"),
        (reqwest::Method::GET, "/auth/token", "POST"),
        (reqwest::Method::PATCH, "/chats/1/messages", "POST"),
    ] {
        let response = app.client.request(method.clone(), app.url(path)).send().await?;
        assert_eq!(response.status().as_u16(), 405, "{method} {path}");
        assert_eq!(response.headers().get("allow").and_then(|v| v.to_str().ok()), Some(allow), "{method} {path}");
        let body: serde_json::Value = response.json().await?;
        assert_eq!(code(&body), "method_not_allowed");
    }
    let (status, body) = app.get("x", "/no/such/route").await?;
    assert_eq!((status, code(&body)), (404, "not_found"));
    Ok(())
}

#[tokio::test]
async fn head_works_wherever_get_does() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    for path in ["/healthz", "/", "/openapi.json"] {
        let response = app.client.head(app.url(path)).send().await?;
        assert_eq!(response.status().as_u16(), 200, "HEAD {path}");
        assert!(response.bytes().await?.is_empty(), "HEAD {path} sends no body");
    }
    Ok(())
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_with_the_error_body() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (_, token) = app.register("alice").await?;
    let big = json!({"text": "x".repeat(70 * 1024), "client_id": uuid::Uuid::new_v4()});
    let (status, body) = app.post(&token, "/chats/1/messages", big).await?;
    assert_eq!((status, code(&body)), (413, "payload_too_large"));
    let form = format!("username=a%40b.c&password={}", "x".repeat(20 * 1024));
    let response = app
        .client
        .post(app.url("/auth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 413);
    let body: serde_json::Value = response.json().await?;
    assert_eq!(code(&body), "payload_too_large");
    Ok(())
}

#[tokio::test]
async fn a_body_trickling_in_is_cut_off() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&address).await?;
    let head =
        "POST /auth/register HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n";
    tcp.write_all(head.as_bytes()).await?;
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut byte = [0u8; 1024];
    // One byte a second, for longer than the server allows.
    while started.elapsed() < Duration::from_secs(30) {
        if tcp.write_all(b" ").await.is_err() {
            break;
        }
        match tokio::time::timeout(Duration::from_secs(1), tcp.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&byte[..n]);
                break;
            }
            Err(_) => {}
        }
    }
    assert!(started.elapsed() < Duration::from_secs(15), "the server waited {:?}", started.elapsed());
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    Ok(())
}

#[tokio::test]
async fn the_web_client_is_served_with_a_content_security_policy() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let response = app.client.get(app.url("/")).send().await?;
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let policy = header("content-security-policy").unwrap_or_default();
    assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"), "{policy}");
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(header("x-frame-options").as_deref(), Some("DENY"));
    Ok(())
}
