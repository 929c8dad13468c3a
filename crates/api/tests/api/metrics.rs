//! `GET /metrics`: series that move with the traffic, route labels that are patterns, the token that
//! guards it and the address that moves it; and the request id every answer carries.

use std::collections::HashMap;
use std::time::Duration;

use api::{Application, Config};
use serde_json::json;

use crate::helpers::{TEST_JWT_SECRET, TestDatabase, spawn_app, spawn_app_with};
use crate::ws_client::WsClient;
use crate::ws_support::{person, private_chat};

/// One sample of a scrape: its name, labels and value.
struct Sample {
    name: String,
    labels: HashMap<String, String>,
    value: f64,
}

/// Parses the text format (enough of it for our own output: no escaped quotes in label values).
fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| {
                    let (key, value) = pair.split_once("=\"")?;
                    Some((key.to_owned(), value.trim_end_matches('"').to_owned()))
                })
                .collect();
            Some(Sample { name: name.to_owned(), labels, value: value.parse().ok()? })
        })
        .collect()
}

/// The sum of the samples named `name` whose labels include `labels`.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(text)
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).is_some_and(|l| l == v)))
        .map(|s| s.value)
        .sum()
}

async fn scrape(url: &str, token: Option<&str>) -> anyhow::Result<(u16, String)> {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    Ok((response.status().as_u16(), response.text().await?))
}

/// Scrapes until `ready` holds (counters move right after the frames they count leave), at most 5 s.
async fn scrape_until(url: &str, ready: impl Fn(&str) -> bool) -> anyhow::Result<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (status, text) = scrape(url, None).await?;
        anyhow::ensure!(status == 200, "/metrics answered {status}: {text}");
        if ready(&text) || tokio::time::Instant::now() > deadline {
            return Ok(text);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_websocket_send_and_rest_calls_move_their_series() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (alice, bob) = (person(&app.address, "alice").await?, person(&app.address, "bob").await?);
    let chat = private_chat(&app.address, &alice, &bob).await?;
    let mut alice_ws = WsClient::connect(&app.address, &alice.token).await?;
    let mut bob_ws = WsClient::connect(&app.address, &bob.token).await?;
    alice_ws.send_message(chat, "hello").await?;
    alice_ws.next_of("ack").await?;
    bob_ws.next_of("message").await?;
    let (status, _) = app.get(&bob.token, &format!("/history/{chat}")).await?;
    assert_eq!(status, 200);
    let client_id = uuid::Uuid::new_v4();
    for _ in 0..2 {
        app.post(&alice.token, &format!("/chats/{chat}/messages"), json!({"text": "again", "client_id": client_id}))
            .await?;
    }

    let metrics = app.url("/metrics");
    let text = scrape_until(&metrics, |text| value(text, "messenger_ws_frames_delivered_total", &[]) >= 3.0).await?;
    assert_eq!(value(&text, "messenger_ws_connections", &[]), 2.0);
    assert_eq!(value(&text, "messenger_sends_total", &[("transport", "ws"), ("outcome", "stored")]), 1.0);
    assert_eq!(value(&text, "messenger_sends_total", &[("transport", "rest"), ("outcome", "stored")]), 1.0);
    assert_eq!(value(&text, "messenger_sends_total", &[("transport", "rest"), ("outcome", "duplicate")]), 1.0);
    assert_eq!(value(&text, "messenger_ws_send_ack_seconds_count", &[]), 1.0);
    assert!(value(&text, "messenger_delivery_fanout_seconds_count", &[]) >= 2.0, "{text}");
    assert!(value(&text, "messenger_ws_frames_delivered_total", &[]) >= 3.0, "an ack and two messages");
    let history = [("method", "GET"), ("route", "/history/{chat_id}"), ("status", "200")];
    assert_eq!(value(&text, "messenger_http_requests_total", &history), 1.0);
    assert_eq!(value(&text, "messenger_http_request_duration_seconds_count", &[("route", "/history/{chat_id}")]), 1.0);
    assert!(!text.contains(&format!("/history/{chat}")), "a raw path became a label");
    assert_eq!(value(&text, "messenger_db_pool_max_connections", &[]), 8.0);
    assert_eq!(value(&text, "messenger_bus_link_up", &[]), 1.0);
    assert_eq!(value(&text, "messenger_ws_slow_consumers_closed_total", &[]), 0.0);

    drop(bob_ws);
    let text = scrape_until(&metrics, |text| value(text, "messenger_ws_connections", &[]) < 2.0).await?;
    assert_eq!(value(&text, "messenger_ws_connections", &[]), 1.0, "a closed socket leaves the gauge");
    Ok(())
}

#[tokio::test]
async fn unknown_paths_share_one_route_label() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    for n in 0..3 {
        app.client.get(app.url(&format!("/no/such/path/{n}"))).send().await?;
    }
    let text = scrape_until(&app.url("/metrics"), |_| true).await?;
    assert_eq!(value(&text, "messenger_http_requests_total", &[("route", "unmatched"), ("status", "404")]), 3.0);
    assert!(!text.contains("/no/such/path"), "{text}");
    Ok(())
}

#[tokio::test]
async fn refused_upgrades_are_counted_by_status() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    assert_eq!(app.upgrade_answer("?token=forged").await?.0, 401);
    assert_eq!(app.upgrade_answer("").await?.0, 401);
    let text = scrape_until(&app.url("/metrics"), |_| true).await?;
    assert_eq!(value(&text, "messenger_ws_upgrades_refused_total", &[("status", "401")]), 2.0);
    assert_eq!(value(&text, "messenger_http_requests_total", &[("route", "/ws"), ("status", "401")]), 2.0);
    Ok(())
}

#[tokio::test]
async fn metrics_token_is_required_when_set() -> anyhow::Result<()> {
    let app = spawn_app_with(&[("METRICS_TOKEN", "scrape-me-0123456789")]).await?;
    let url = app.url("/metrics");
    let (status, body) = scrape(&url, None).await?;
    assert_eq!(status, 401);
    assert!(body.contains(r#""code":"unauthorized""#), "{body}");
    assert_eq!(scrape(&url, Some("scrape-me-012345678")).await?.0, 401);
    let (status, body) = scrape(&url, Some("scrape-me-0123456789")).await?;
    assert_eq!(status, 200);
    assert!(body.contains("messenger_ws_connections 0"), "{body}");
    Ok(())
}

#[tokio::test]
async fn metrics_addr_moves_metrics_off_the_main_listener() -> anyhow::Result<()> {
    let database = TestDatabase::create().await?;
    let url = database.url();
    let vars: HashMap<&str, &str> = [
        ("DATABASE_URL", url.as_str()),
        ("LISTEN_ADDR", "127.0.0.1:0"),
        ("METRICS_ADDR", "127.0.0.1:0"),
        ("JWT_SECRET", TEST_JWT_SECRET),
        ("BCRYPT_COST", "4"),
    ]
    .into_iter()
    .collect();
    let config = Config::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned()))?;
    let application = Application::build(config).await?;
    let main = format!("http://127.0.0.1:{}", application.port());
    let metrics_port = application.metrics_port().ok_or_else(|| anyhow::anyhow!("no metrics listener"))?;
    let side = format!("http://127.0.0.1:{metrics_port}");
    let stopper = application.stopper();
    tokio::spawn(application.run_until_stopped());

    assert_eq!(scrape(&format!("{main}/metrics"), None).await?.0, 404);
    let (status, body) = scrape(&format!("{side}/metrics"), None).await?;
    assert_eq!(status, 200);
    assert!(body.contains("messenger_build_info"), "{body}");
    assert_eq!(scrape(&format!("{side}/healthz"), None).await?.0, 404, "the metrics listener serves nothing else");
    assert_eq!(scrape(&format!("{main}/healthz"), None).await?.0, 200);
    stopper.abort();
    Ok(())
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_a_safe_one_given_is_kept() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let request_id = |response: &reqwest::Response| {
        response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    };
    let given = app.client.get(app.url("/healthz")).header("X-Request-Id", "lb-7f3a.42").send().await?;
    assert_eq!(request_id(&given), "lb-7f3a.42");
    let unsafe_given = app.client.get(app.url("/healthz")).header("X-Request-Id", "a b<script>").send().await?;
    assert!(uuid::Uuid::parse_str(&request_id(&unsafe_given)).is_ok());
    let made = app.client.get(app.url("/nope")).send().await?;
    assert_eq!(made.status(), 404);
    assert!(uuid::Uuid::parse_str(&request_id(&made)).is_ok(), "errors carry one too");
    Ok(())
}
