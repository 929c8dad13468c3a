//! `loadgen sync`: the cost of `POST /sync` for a user with many chats of which a few changed.
//!
//! Setup, through the public API only: a user U and a peer P, `--chats` groups created by U with P
//! as the other member, one message by U in each. U syncs once from nothing and keeps every chat's
//! version; then P sends one message into `--changed` of the chats. Measured:
//! - `changed`: U syncing with the versions from before P's messages; every answer must list exactly
//!   the changed chats, each with exactly one new message;
//! - `unchanged`: U syncing with the current versions; every answer must be empty;
//! - `new_device`: `{"chats":{}}`, every chat with its newest messages.
//!
//! Latency is measured from sending the request until the whole body has arrived; the body is parsed
//! and checked afterwards, outside the measured time.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use futures_util::future::join_all;
use futures_util::{StreamExt, TryStreamExt, stream};
use hdrhistogram::Histogram;
use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::SyncArgs;
use crate::setup::{Api, User};
use crate::stats::{LatencySummary, new_histogram, record_nanos};

/// Chat id → the chat version a client holds.
type Held = BTreeMap<i64, i64>;

#[derive(Debug, Serialize)]
pub struct SyncScenarioReport {
    pub name: String,
    pub requests: usize,
    pub failures: usize,
    /// The first failure's description, if any.
    pub first_failure: Option<String>,
    pub requests_per_s: f64,
    pub mean_response_bytes: f64,
    pub mean_chats: f64,
    pub mean_messages: f64,
    #[serde(flatten)]
    pub latency: LatencySummary,
}

#[derive(Debug, Serialize)]
pub struct SyncBenchReport {
    pub chats: usize,
    pub changed: usize,
    pub concurrency: usize,
    pub setup_seconds: f64,
    /// Size of the request body holding every chat's version.
    pub request_bytes: usize,
    pub scenarios: Vec<SyncScenarioReport>,
}

#[derive(Debug, Deserialize)]
struct SyncAnswer {
    chats: Vec<SyncEntry>,
    removed: Vec<i64>,
}

#[derive(Debug, Deserialize)]
struct SyncEntry {
    chat: ChatRef,
    messages: Vec<MessageRef>,
    more: bool,
}

#[derive(Debug, Deserialize)]
struct ChatRef {
    id: i64,
    version: i64,
}

#[derive(Debug, Deserialize)]
struct MessageRef {
    chat_id: i64,
    version: i64,
}

#[derive(Debug, Deserialize)]
struct IdOnly {
    id: i64,
}

/// What a scenario's every answer must look like.
#[derive(Debug, Clone)]
enum Expect {
    /// Exactly these chats, each with exactly this many messages, nothing removed, no `more`.
    Chats { ids: BTreeSet<i64>, messages_each: usize },
    /// Every one of `count` chats, each with at least one message, nothing removed.
    All { count: usize },
}

impl Expect {
    fn check(&self, answer: &SyncAnswer) -> Result<()> {
        ensure!(answer.removed.is_empty(), "removed {:?}", answer.removed);
        match self {
            Expect::Chats { ids, messages_each } => {
                let got: BTreeSet<i64> = answer.chats.iter().map(|e| e.chat.id).collect();
                ensure!(
                    got == *ids && answer.chats.len() == ids.len(),
                    "{} chats {got:?}, expected {} {ids:?}",
                    answer.chats.len(),
                    ids.len()
                );
                for e in &answer.chats {
                    ensure!(
                        e.messages.len() == *messages_each,
                        "chat {}: {} messages, expected {messages_each}",
                        e.chat.id,
                        e.messages.len()
                    );
                    ensure!(!e.more, "chat {}: more is true", e.chat.id);
                    ensure!(e.messages.iter().all(|m| m.chat_id == e.chat.id), "chat {}: foreign message", e.chat.id);
                }
            }
            Expect::All { count } => {
                let got: BTreeSet<i64> = answer.chats.iter().map(|e| e.chat.id).collect();
                ensure!(
                    got.len() == *count && answer.chats.len() == *count,
                    "{} chats ({} distinct), expected {count}",
                    answer.chats.len(),
                    got.len()
                );
                if let Some(e) = answer.chats.iter().find(|e| e.messages.is_empty()) {
                    bail!("chat {}: no messages", e.chat.id);
                }
            }
        }
        Ok(())
    }
}

pub async fn run(args: &SyncArgs) -> Result<SyncBenchReport> {
    ensure!(args.chats >= 1, "--chats must be at least 1");
    ensure!(args.changed <= args.chats, "--changed ({}) exceeds --chats ({})", args.changed, args.chats);
    let api = Api::new(&args.common.base_url)?;
    let setup_started = Instant::now();

    let prefix = format!("sync-{}", &Uuid::new_v4().simple().to_string()[..10]);
    let user = api.register_and_login("lg sync user", &format!("{prefix}-u@loadgen.example.com")).await?;
    let peer = api.register_and_login("lg sync peer", &format!("{prefix}-p@loadgen.example.com")).await?;

    eprintln!("sync: creating {} groups with one message each…", args.chats);
    let concurrency = args.setup_concurrency.max(1);
    let mut chat_ids: Vec<i64> = stream::iter(0..args.chats)
        .map(|i| {
            let (api, user, peer) = (&api, &user, &peer);
            async move {
                let body = json!({ "name": format!("lg sync {i}"), "member_ids": [peer.id] });
                let chat: IdOnly = post_json(api, &user.token, "/groups", &body).await?;
                send_message(api, user, chat.id, &format!("lg sync first {i}")).await?;
                Ok::<_, anyhow::Error>(chat.id)
            }
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    chat_ids.sort_unstable();

    let before = sync_until_complete(&api, &user.token, Held::new()).await.context("initial sync")?;
    let known: BTreeSet<i64> = chat_ids.iter().copied().collect();
    let synced: BTreeSet<i64> = before.keys().copied().collect();
    ensure!(known.is_subset(&synced), "the initial sync misses chats: {:?}", known.difference(&synced));
    // Only the chats made here: a rerun against the same user is impossible (fresh emails), but keep the
    // request to exactly the benchmark's chats anyway.
    let before: Held = before.into_iter().filter(|(id, _)| known.contains(id)).collect();

    let changed: BTreeSet<i64> =
        (0..args.changed).map(|k| chat_ids[k * chat_ids.len() / args.changed.max(1)]).collect();
    eprintln!("sync: the peer sends one message into {} chats…", changed.len());
    stream::iter(changed.iter().copied())
        .map(|chat_id| {
            let (api, peer) = (&api, &peer);
            async move { send_message(api, peer, chat_id, "lg sync change").await }
        })
        .buffer_unordered(concurrency)
        .try_collect::<Vec<()>>()
        .await?;

    let after = sync_until_complete(&api, &user.token, before.clone()).await.context("sync after the changes")?;
    let setup_seconds = setup_started.elapsed().as_secs_f64();

    let before_body = serde_json::to_vec(&json!({ "chats": held_json(&before) }))?;
    let after_body = serde_json::to_vec(&json!({ "chats": held_json(&after) }))?;
    let new_device_body = serde_json::to_vec(&json!({ "chats": {} }))?;
    let new_device_requests = args.new_device_requests.unwrap_or(args.requests / 10).max(1);
    let scenarios = [
        ("changed", before_body.clone(), args.requests, Expect::Chats { ids: changed.clone(), messages_each: 1 }),
        ("unchanged", after_body, args.requests, Expect::Chats { ids: BTreeSet::new(), messages_each: 0 }),
        ("new_device", new_device_body, new_device_requests, Expect::All { count: args.chats }),
    ];
    let mut reports = Vec::new();
    for (name, body, requests, expect) in scenarios {
        eprintln!("sync: {name}, {requests} requests, concurrency {}…", args.concurrency);
        reports.push(scenario(&api, &user.token, args.concurrency, name, &body, requests, &expect).await);
    }
    Ok(SyncBenchReport {
        chats: args.chats,
        changed: changed.len(),
        concurrency: args.concurrency,
        setup_seconds,
        request_bytes: before_body.len(),
        scenarios: reports,
    })
}

fn held_json(held: &Held) -> serde_json::Map<String, serde_json::Value> {
    held.iter().map(|(id, v)| (id.to_string(), json!(v))).collect()
}

async fn post_json<T: serde::de::DeserializeOwned>(
    api: &Api,
    token: &str,
    path: &str,
    body: &serde_json::Value,
) -> Result<T> {
    let resp = api.http.post(api.url(path)).bearer_auth(token).json(body).send().await?;
    let status = resp.status();
    if !status.is_success() {
        bail!("POST {path}: {status} {}", resp.text().await.unwrap_or_default());
    }
    resp.json().await.with_context(|| format!("POST {path} body"))
}

async fn send_message(api: &Api, from: &User, chat_id: i64, text: &str) -> Result<()> {
    let body = json!({ "text": text, "client_id": Uuid::new_v4() });
    let _: IdOnly = post_json(api, &from.token, &format!("/chats/{chat_id}/messages"), &body).await?;
    Ok(())
}

/// Syncs from `held` until no entry says `more`, as the contract asks: while `more` is true, hold the
/// last message's version, else the chat's. Returns the versions held at the end.
async fn sync_until_complete(api: &Api, token: &str, mut held: Held) -> Result<Held> {
    for _ in 0..10_000 {
        let answer: SyncAnswer = post_json(api, token, "/sync", &json!({ "chats": held_json(&held) })).await?;
        for id in &answer.removed {
            held.remove(id);
        }
        let mut more = false;
        for e in &answer.chats {
            let version = match (e.more, e.messages.last()) {
                (true, Some(last)) => {
                    more = true;
                    last.version
                }
                _ => e.chat.version,
            };
            held.insert(e.chat.id, version);
        }
        if !more {
            return Ok(held);
        }
    }
    bail!("POST /sync still says more after 10,000 calls")
}

struct WorkerResult {
    hist: Histogram<u64>,
    failures: usize,
    first_failure: Option<String>,
    bytes: usize,
    chats: usize,
    messages: usize,
}

async fn scenario(
    api: &Api,
    token: &str,
    concurrency: usize,
    name: &str,
    body: &[u8],
    requests: usize,
    expect: &Expect,
) -> SyncScenarioReport {
    let url = api.url("/sync");
    // Warm-up: a few requests not measured (connections, caches).
    for _ in 0..concurrency.min(requests) {
        let _ = fetch(api, token, &url, body.to_vec()).await;
    }
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let workers = (0..concurrency.max(1)).map(|_| async {
        let mut r =
            WorkerResult { hist: new_histogram(), failures: 0, first_failure: None, bytes: 0, chats: 0, messages: 0 };
        while next.fetch_add(1, Ordering::Relaxed) < requests {
            let payload = body.to_vec();
            let t = Instant::now();
            let outcome = fetch(api, token, &url, payload).await;
            let nanos = i64::try_from(t.elapsed().as_nanos()).unwrap_or(i64::MAX);
            let checked = outcome.and_then(|bytes| {
                let answer: SyncAnswer = serde_json::from_slice(&bytes).context("sync body")?;
                expect.check(&answer)?;
                Ok((bytes.len(), answer))
            });
            match checked {
                Ok((len, answer)) => {
                    record_nanos(&mut r.hist, nanos);
                    r.bytes += len;
                    r.chats += answer.chats.len();
                    r.messages += answer.chats.iter().map(|e| e.messages.len()).sum::<usize>();
                }
                Err(e) => {
                    r.failures += 1;
                    r.first_failure.get_or_insert_with(|| format!("{e:#}"));
                }
            }
        }
        r
    });
    let results = join_all(workers).await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut hist: Histogram<u64> = new_histogram();
    let (mut failures, mut bytes, mut chats, mut messages) = (0, 0, 0, 0);
    let mut first_failure = None;
    for r in results {
        let _ = hist.add(&r.hist);
        failures += r.failures;
        bytes += r.bytes;
        chats += r.chats;
        messages += r.messages;
        first_failure = first_failure.or(r.first_failure);
    }
    let ok = hist.len().max(1) as f64;
    SyncScenarioReport {
        name: name.to_owned(),
        requests,
        failures,
        first_failure,
        requests_per_s: requests as f64 / elapsed.max(1e-9),
        mean_response_bytes: bytes as f64 / ok,
        mean_chats: chats as f64 / ok,
        mean_messages: messages as f64 / ok,
        latency: LatencySummary::from_histogram(&hist),
    }
}

/// One `POST /sync` with a prepared body; returns the whole answer body.
async fn fetch(api: &Api, token: &str, url: &str, body: Vec<u8>) -> Result<Vec<u8>> {
    let resp = api.http.post(url).bearer_auth(token).header(CONTENT_TYPE, "application/json").body(body).send().await?;
    let status = resp.status();
    if !status.is_success() {
        bail!("POST /sync: {status} {}", resp.text().await.unwrap_or_default());
    }
    Ok(resp.bytes().await?.to_vec())
}

pub fn print_human(r: &SyncBenchReport) {
    println!(
        "== POST /sync for a user with {} chats, {} changed; concurrency {}; request {} bytes (setup {:.1} s)",
        r.chats, r.changed, r.concurrency, r.request_bytes, r.setup_seconds
    );
    for s in &r.scenarios {
        println!(
            "{:<11} p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2} ms  {:.0} req/s  {:.0} bytes  {:.1} chats  {:.1} msgs  ({} failed)",
            s.name,
            s.latency.p50_ms,
            s.latency.p95_ms,
            s.latency.p99_ms,
            s.latency.max_ms,
            s.requests_per_s,
            s.mean_response_bytes,
            s.mean_chats,
            s.mean_messages,
            s.failures
        );
        if let Some(f) = &s.first_failure {
            println!("{:<11} first failure: {f}", "");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(entries: &[(i64, usize)]) -> SyncAnswer {
        SyncAnswer {
            chats: entries
                .iter()
                .map(|&(id, n)| SyncEntry {
                    chat: ChatRef { id, version: 10 },
                    messages: (0..n).map(|k| MessageRef { chat_id: id, version: k as i64 + 1 }).collect(),
                    more: false,
                })
                .collect(),
            removed: Vec::new(),
        }
    }

    #[test]
    fn changed_expectation_wants_exactly_those_chats_with_one_message_each() {
        let expect = Expect::Chats { ids: [1, 2].into_iter().collect(), messages_each: 1 };
        assert!(expect.check(&answer(&[(1, 1), (2, 1)])).is_ok());
        assert!(expect.check(&answer(&[(1, 1)])).is_err());
        assert!(expect.check(&answer(&[(1, 1), (2, 1), (3, 1)])).is_err());
        assert!(expect.check(&answer(&[(1, 1), (2, 2)])).is_err());
        assert!(expect.check(&answer(&[(1, 1), (1, 1)])).is_err(), "a chat listed twice");
    }

    #[test]
    fn unchanged_expectation_wants_an_empty_answer() {
        let expect = Expect::Chats { ids: BTreeSet::new(), messages_each: 0 };
        assert!(expect.check(&answer(&[])).is_ok());
        assert!(expect.check(&answer(&[(1, 0)])).is_err());
        let mut removed = answer(&[]);
        removed.removed.push(4);
        assert!(expect.check(&removed).is_err());
    }

    #[test]
    fn new_device_expectation_wants_every_chat_with_messages() {
        let expect = Expect::All { count: 2 };
        assert!(expect.check(&answer(&[(1, 1), (2, 3)])).is_ok());
        assert!(expect.check(&answer(&[(1, 1)])).is_err());
        assert!(expect.check(&answer(&[(1, 1), (2, 0)])).is_err());
    }

    #[test]
    fn the_answer_shape_of_the_contract_parses() {
        let body = r#"{"chats":[{"chat":{"id":3,"type":"group","name":"g","version":7,"members":[]},
            "messages":[{"id":9,"chat_id":3,"seq":2,"version":7,"text":"x"}],"more":false}],"removed":[]}"#;
        let a: SyncAnswer = serde_json::from_str(body).expect("parses");
        assert_eq!(a.chats[0].chat.id, 3);
        assert_eq!(a.chats[0].messages[0].version, 7);
    }
}
