//! `loadgen search`: latency of `GET /search/messages` on a big chat, per kind of query.
//!
//! Kinds: a very common word, a mid-frequency word, a rare word, two words together, a short prefix and
//! a word that matches nothing; each in one chat (`chat_id`) and in all the caller's chats, first page
//! and — where the first page is full — the second (`before_id` = the first page's last id). Every kind
//! is measured on its own, one request at a time (`--requests` each); with `--concurrency N` > 1 the
//! first pages of all kinds are then measured again, interleaved, `N` at a time.
//!
//! The default words are those of the corpus `bench/run.sh` (`ONLY=search`) builds: word of rank `k` is
//! the first 7 hex digits of md5(k) with 0–9 turned into g–p, drawn with a Zipf-like skew (rank 1 in
//! about 26% of the messages, rank 60 in 1%, rank 10,000 in 0.01%).
//!
//! Latency runs from sending the request until the whole body has arrived. Each answer is then checked
//! outside the measured time: newest first, below `before_id`, in the chat asked for, every query word
//! the beginning of a word of the text, no deleted message.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use futures_util::future::join_all;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::SearchArgs;
use crate::setup::Api;
use crate::stats::{LatencySummary, new_histogram, record_nanos};

#[derive(Debug, Serialize)]
pub struct SearchScenarioReport {
    /// `kind/scope[/page2]`, e.g. `common/chat`, `rare/all/page2`.
    pub name: String,
    pub kind: String,
    /// `chat` (with `chat_id`) or `all` (every chat of the caller).
    pub scope: String,
    pub page: u8,
    pub query: String,
    pub concurrency: usize,
    pub requests: usize,
    pub failures: usize,
    pub first_failure: Option<String>,
    pub requests_per_s: f64,
    /// Messages per answer (the same on every request of a scenario unless the data changes).
    pub mean_items: f64,
    pub min_items: usize,
    pub max_items: usize,
    #[serde(flatten)]
    pub latency: LatencySummary,
}

#[derive(Debug, Serialize)]
pub struct SearchBenchReport {
    pub chat_id: i64,
    pub limit: u32,
    pub words: BTreeMap<String, String>,
    pub scenarios: Vec<SearchScenarioReport>,
    /// The interleaved run at `--concurrency` (empty when it is 1).
    pub concurrent: Vec<SearchScenarioReport>,
    pub concurrent_requests_per_s: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Found {
    id: i64,
    chat_id: i64,
    text: String,
    #[serde(default)]
    deleted: bool,
}

/// One query to measure, with what its answers must satisfy.
#[derive(Debug, Clone)]
struct Query {
    kind: String,
    scope: &'static str,
    page: u8,
    path: String,
    words: Vec<String>,
    chat: Option<i64>,
    before: Option<i64>,
}

impl Query {
    fn name(&self) -> String {
        match self.page {
            1 => format!("{}/{}", self.kind, self.scope),
            p => format!("{}/{}/page{p}", self.kind, self.scope),
        }
    }

    fn query_string(&self) -> &str {
        self.path.split_once('?').map_or("", |(_, q)| q)
    }

    /// Checks one answer; returns how many messages it held.
    fn check(&self, body: &[u8], limit: u32) -> Result<usize> {
        let found: Vec<Found> = serde_json::from_slice(body).context("search body")?;
        ensure!(found.len() <= limit as usize, "{} messages, limit {limit}", found.len());
        ensure!(found.windows(2).all(|w| w[0].id > w[1].id), "not newest first");
        for m in &found {
            ensure!(!m.deleted, "message {} is deleted", m.id);
            if let Some(before) = self.before {
                ensure!(m.id < before, "message {} is not before {before}", m.id);
            }
            if let Some(chat) = self.chat {
                ensure!(m.chat_id == chat, "message {} is in chat {}, not {chat}", m.id, m.chat_id);
            }
            let text_words = words_of(&m.text);
            for w in &self.words {
                ensure!(text_words.iter().any(|t| t.starts_with(w.as_str())), "message {} lacks {w:?}", m.id);
            }
        }
        Ok(found.len())
    }
}

/// Runs of letters and digits, lower-cased (as the server splits texts and queries).
fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

fn encode(raw: &str) -> String {
    raw.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

pub async fn run(args: &SearchArgs) -> Result<SearchBenchReport> {
    ensure!((1..=100).contains(&args.limit), "--limit must be within 1..=100");
    let api = Api::new(&args.common.base_url)?;
    let token = args.caller.token(&api).await?;
    let kinds: Vec<(&str, &str)> = vec![
        ("common", args.common_word.as_str()),
        ("mid", args.mid_word.as_str()),
        ("rare", args.rare_word.as_str()),
        ("two_words", args.two_words.as_str()),
        ("prefix", args.prefix.as_str()),
        ("none", args.no_match.as_str()),
    ];
    let words: BTreeMap<String, String> = kinds.iter().map(|(k, q)| ((*k).to_owned(), (*q).to_owned())).collect();
    let budget = Duration::from_secs_f64(args.max_seconds.max(0.1));

    let mut scenarios = Vec::new();
    let mut first_pages = Vec::new();
    for (kind, q) in &kinds {
        for (scope, chat) in [("chat", Some(args.chat_id)), ("all", None)] {
            let chat_param = chat.map(|c| format!("&chat_id={c}")).unwrap_or_default();
            let base = format!("/search/messages?q={}{chat_param}&limit={}", encode(q), args.limit);
            let first = Query {
                kind: (*kind).to_owned(),
                scope,
                page: 1,
                path: base.clone(),
                words: words_of(q),
                chat,
                before: None,
            };
            // Unmeasured: warms the connection and caches, and gives the second page's anchor.
            let body =
                fetch(&api, &token, &first.path).await.with_context(|| format!("first request of {}", first.name()))?;
            let page: Vec<Found> = serde_json::from_slice(&body).context("search body")?;
            eprintln!("search: {} ({}), {} requests…", first.name(), first.query_string(), args.requests);
            scenarios.push(sequential(&api, &token, &first, args, budget).await);
            first_pages.push(first.clone());
            if page.len() == args.limit as usize
                && let Some(last) = page.last()
            {
                let second =
                    Query { page: 2, path: format!("{base}&before_id={}", last.id), before: Some(last.id), ..first };
                let _ = fetch(&api, &token, &second.path).await;
                eprintln!("search: {} ({}), {} requests…", second.name(), second.query_string(), args.requests);
                scenarios.push(sequential(&api, &token, &second, args, budget).await);
            }
        }
    }

    let (concurrent, concurrent_requests_per_s) = if args.concurrency > 1 {
        eprintln!(
            "search: the {} first pages interleaved, {} requests each, {} at a time…",
            first_pages.len(),
            args.requests,
            args.concurrency
        );
        let (reports, rate) = interleaved(&api, &token, &first_pages, args, budget).await;
        (reports, Some(rate))
    } else {
        (Vec::new(), None)
    };
    Ok(SearchBenchReport {
        chat_id: args.chat_id,
        limit: args.limit,
        words,
        scenarios,
        concurrent,
        concurrent_requests_per_s,
    })
}

#[derive(Debug)]
struct Tally {
    hist: Histogram<u64>,
    failures: usize,
    first_failure: Option<String>,
    items: usize,
    min_items: usize,
    max_items: usize,
    done: usize,
}

impl Tally {
    fn new() -> Self {
        Self {
            hist: new_histogram(),
            failures: 0,
            first_failure: None,
            items: 0,
            min_items: usize::MAX,
            max_items: 0,
            done: 0,
        }
    }

    fn record(&mut self, query: &Query, limit: u32, outcome: Result<Vec<u8>>, nanos: i64) {
        self.done += 1;
        match outcome.and_then(|body| query.check(&body, limit)) {
            Ok(n) => {
                record_nanos(&mut self.hist, nanos);
                self.items += n;
                self.min_items = self.min_items.min(n);
                self.max_items = self.max_items.max(n);
            }
            Err(e) => {
                self.failures += 1;
                self.first_failure.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        let _ = self.hist.add(&other.hist);
        self.failures += other.failures;
        self.first_failure = self.first_failure.take().or(other.first_failure);
        self.items += other.items;
        self.min_items = self.min_items.min(other.min_items);
        self.max_items = self.max_items.max(other.max_items);
        self.done += other.done;
    }

    fn report(self, query: &Query, concurrency: usize, seconds: f64) -> SearchScenarioReport {
        let ok = self.hist.len();
        SearchScenarioReport {
            name: query.name(),
            kind: query.kind.clone(),
            scope: query.scope.to_owned(),
            page: query.page,
            query: query.query_string().to_owned(),
            concurrency,
            requests: self.done,
            failures: self.failures,
            first_failure: self.first_failure,
            requests_per_s: self.done as f64 / seconds.max(1e-9),
            mean_items: self.items as f64 / (ok.max(1) as f64),
            min_items: if ok == 0 { 0 } else { self.min_items },
            max_items: self.max_items,
            latency: LatencySummary::from_histogram(&self.hist),
        }
    }
}

/// `--requests` of one query, one at a time (stopping early after `budget`).
async fn sequential(
    api: &Api,
    token: &str,
    query: &Query,
    args: &SearchArgs,
    budget: Duration,
) -> SearchScenarioReport {
    let mut tally = Tally::new();
    let started = Instant::now();
    for _ in 0..args.requests {
        if started.elapsed() > budget {
            eprintln!("search: {} stopped after {} requests ({:.0} s)", query.name(), tally.done, budget.as_secs_f64());
            break;
        }
        let t = Instant::now();
        let outcome = fetch(api, token, &query.path).await;
        let nanos = i64::try_from(t.elapsed().as_nanos()).unwrap_or(i64::MAX);
        tally.record(query, args.limit, outcome, nanos);
    }
    tally.report(query, 1, started.elapsed().as_secs_f64())
}

/// Every query `--requests` times, in rotation, `--concurrency` requests in flight; per-query latency.
async fn interleaved(
    api: &Api,
    token: &str,
    queries: &[Query],
    args: &SearchArgs,
    budget: Duration,
) -> (Vec<SearchScenarioReport>, f64) {
    let total = queries.len() * args.requests;
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let workers = (0..args.concurrency).map(|_| async {
        let mut tallies: Vec<Tally> = queries.iter().map(|_| Tally::new()).collect();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= total || started.elapsed() > budget {
                break;
            }
            let q = i % queries.len();
            let t = Instant::now();
            let outcome = fetch(api, token, &queries[q].path).await;
            let nanos = i64::try_from(t.elapsed().as_nanos()).unwrap_or(i64::MAX);
            tallies[q].record(&queries[q], args.limit, outcome, nanos);
        }
        tallies
    });
    let results = join_all(workers).await;
    let seconds = started.elapsed().as_secs_f64();
    let mut merged: Vec<Tally> = queries.iter().map(|_| Tally::new()).collect();
    for tallies in results {
        for (m, t) in merged.iter_mut().zip(tallies) {
            m.merge(t);
        }
    }
    let done: usize = merged.iter().map(|t| t.done).sum();
    let reports = merged.into_iter().zip(queries).map(|(t, q)| t.report(q, args.concurrency, seconds)).collect();
    (reports, done as f64 / seconds.max(1e-9))
}

/// One request; returns the whole body.
async fn fetch(api: &Api, token: &str, path: &str) -> Result<Vec<u8>> {
    let resp = api.http.get(api.url(path)).bearer_auth(token).send().await?;
    let status = resp.status();
    if !status.is_success() {
        bail!("GET {path}: {status} {}", resp.text().await.unwrap_or_default());
    }
    Ok(resp.bytes().await?.to_vec())
}

fn print_table(rows: &[SearchScenarioReport]) {
    println!(
        "{:<20} {:>8} {:>8} {:>8} {:>8} {:>7} {:>6} {:>6}  query",
        "scenario", "p50 ms", "p90 ms", "p99 ms", "max ms", "req/s", "items", "failed"
    );
    for s in rows {
        println!(
            "{:<20} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7.0} {:>6.1} {:>6}  ?{}",
            s.name,
            s.latency.p50_ms,
            s.latency.p90_ms,
            s.latency.p99_ms,
            s.latency.max_ms,
            s.requests_per_s,
            s.mean_items,
            s.failures,
            s.query
        );
        if let Some(f) = &s.first_failure {
            println!("{:<20} first failure: {f}", "");
        }
    }
}

pub fn print_human(r: &SearchBenchReport) {
    println!(
        "== GET /search/messages, chat {} and all the caller's chats, limit {}, one at a time",
        r.chat_id, r.limit
    );
    print_table(&r.scenarios);
    if let (Some(first), Some(rate)) = (r.concurrent.first(), r.concurrent_requests_per_s) {
        println!("== the first pages interleaved, {} at a time: {rate:.0} req/s in all", first.concurrency);
        print_table(&r.concurrent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(words: &[&str], chat: Option<i64>, before: Option<i64>) -> Query {
        Query {
            kind: "k".into(),
            scope: "chat",
            page: 1,
            path: "/search/messages?q=x".into(),
            words: words.iter().map(|w| (*w).to_owned()).collect(),
            chat,
            before,
        }
    }

    #[test]
    fn an_answer_newest_first_with_every_word_as_a_prefix_passes() {
        let body = br#"[{"id":9,"chat_id":3,"text":"Release notes, v2"},{"id":4,"chat_id":3,"text":"the release"}]"#;
        assert_eq!(query(&["rel"], Some(3), Some(10)).check(body, 20).expect("valid"), 2);
        assert_eq!(query(&["rel"], None, None).check(b"[]", 20).expect("empty"), 0);
    }

    #[test]
    fn wrong_order_chat_anchor_words_or_size_fail() {
        let body = br#"[{"id":4,"chat_id":3,"text":"release"},{"id":9,"chat_id":3,"text":"release"}]"#;
        assert!(query(&["rel"], None, None).check(body, 20).is_err(), "oldest first");
        let one = br#"[{"id":9,"chat_id":3,"text":"release notes"}]"#;
        assert!(query(&["rel"], Some(4), None).check(one, 20).is_err(), "another chat");
        assert!(query(&["rel"], None, Some(9)).check(one, 20).is_err(), "not before the anchor");
        assert!(query(&["elease"], None, None).check(one, 20).is_err(), "a word's middle");
        assert!(query(&["rel", "party"], None, None).check(one, 20).is_err(), "a word missing");
        assert!(query(&["rel"], None, None).check(one, 0).is_err(), "over the limit");
    }

    #[test]
    fn words_are_runs_of_letters_and_digits_lower_cased() {
        assert_eq!(words_of("Café-bar; v2.0"), ["café", "bar", "v2", "0"]);
        assert_eq!(encode("ab cd"), "ab%20cd");
    }
}
