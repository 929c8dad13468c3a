//! `loadgen history`: latency of `GET /history` for the first page, a deep offset and `after_id`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use futures_util::future::join_all;
use hdrhistogram::Histogram;
use serde::Serialize;
use serde::de::IgnoredAny;

use crate::HistoryArgs;
use crate::setup::Api;
use crate::stats::{LatencySummary, new_histogram, record_nanos};

#[derive(Debug, Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub query: String,
    pub requests: usize,
    pub failures: usize,
    pub mean_items: f64,
    pub requests_per_s: f64,
    #[serde(flatten)]
    pub latency: LatencySummary,
}

#[derive(Debug, Serialize)]
pub struct HistoryBenchReport {
    pub chat_id: i64,
    pub concurrency: usize,
    pub scenarios: Vec<ScenarioReport>,
}

pub async fn run(args: &HistoryArgs) -> Result<HistoryBenchReport> {
    let api = Api::new(&args.common.base_url)?;
    let token = args.caller.token(&api).await?;
    let after_id = match args.after_id {
        Some(id) => id,
        None => id_at_offset(&api, &token, args.chat_id, args.deep_offset).await?,
    };
    let scenarios = [
        ("first_page", "limit=50&offset=0".to_owned()),
        ("deep_offset", format!("limit=50&offset={}", args.deep_offset)),
        ("after_id", format!("after_id={after_id}&limit=50")),
    ];
    let mut reports = Vec::new();
    for (name, query) in scenarios {
        eprintln!("history: {name} ({query}), {} requests…", args.requests);
        reports.push(scenario(&api, &token, args, name, &query).await);
    }
    Ok(HistoryBenchReport { chat_id: args.chat_id, concurrency: args.concurrency, scenarios: reports })
}

/// The id of the message at `offset` (or of the last message, if the chat is shorter).
async fn id_at_offset(api: &Api, token: &str, chat_id: i64, offset: usize) -> Result<i64> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: i64,
    }
    let url = api.url(&format!("/history/{chat_id}?limit=1&offset={offset}"));
    let page: Vec<IdOnly> = api.http.get(&url).bearer_auth(token).send().await?.error_for_status()?.json().await?;
    match page.first() {
        Some(m) => Ok(m.id),
        None => {
            eprintln!("history: chat {chat_id} has fewer than {offset} messages; after_id starts at 0");
            Ok(0)
        }
    }
}

async fn scenario(api: &Api, token: &str, args: &HistoryArgs, name: &str, query: &str) -> ScenarioReport {
    let url = api.url(&format!("/history/{}?{query}", args.chat_id));
    // Warm-up: a few requests not measured (connections, caches).
    for _ in 0..args.concurrency.min(args.requests) {
        let _ = fetch(api, token, &url).await;
    }
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let workers = (0..args.concurrency.max(1)).map(|_| async {
        let mut hist = new_histogram();
        let (mut failures, mut items) = (0_usize, 0_usize);
        while next.fetch_add(1, Ordering::Relaxed) < args.requests {
            let t = Instant::now();
            match fetch(api, token, &url).await {
                Ok(n) => {
                    record_nanos(&mut hist, i64::try_from(t.elapsed().as_nanos()).unwrap_or(i64::MAX));
                    items += n;
                }
                Err(_) => failures += 1,
            }
        }
        (hist, failures, items)
    });
    let results = join_all(workers).await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut hist: Histogram<u64> = new_histogram();
    let (mut failures, mut items) = (0, 0);
    for (h, f, n) in results {
        let _ = hist.add(&h);
        failures += f;
        items += n;
    }
    let ok = hist.len().max(1) as f64;
    ScenarioReport {
        name: name.to_owned(),
        query: query.to_owned(),
        requests: args.requests,
        failures,
        mean_items: items as f64 / ok,
        requests_per_s: args.requests as f64 / elapsed.max(1e-9),
        latency: LatencySummary::from_histogram(&hist),
    }
}

/// One request; returns how many messages the page held.
async fn fetch(api: &Api, token: &str, url: &str) -> Result<usize> {
    let resp = api.http.get(url).bearer_auth(token).send().await?;
    if !resp.status().is_success() {
        bail!("GET {url}: {}", resp.status());
    }
    let body = resp.bytes().await?;
    let page: Vec<IgnoredAny> = serde_json::from_slice(&body).context("history body")?;
    Ok(page.len())
}

pub fn print_human(r: &HistoryBenchReport) {
    println!("== GET /history on chat {}, concurrency {}", r.chat_id, r.concurrency);
    for s in &r.scenarios {
        println!(
            "{:<12} p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2} ms  {:.0} req/s  {:.1} items  ({} failed)  ?{}",
            s.name,
            s.latency.p50_ms,
            s.latency.p95_ms,
            s.latency.p99_ms,
            s.latency.max_ms,
            s.requests_per_s,
            s.mean_items,
            s.failures,
            s.query
        );
    }
}
