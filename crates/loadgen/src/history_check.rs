//! After a run: page through `GET /history` of every chat and compare with what was sent.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result, bail};
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::device::SentRecord;
use crate::setup::{Api, Chat, User};

const PAGE: usize = 200;

#[derive(Debug, Clone, Deserialize)]
pub struct HistoryMessage {
    pub id: i64,
    pub chat_id: i64,
    pub sender_id: i64,
    pub client_id: Option<Uuid>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryReport {
    pub chats: usize,
    /// Messages found in the checked chats.
    pub persisted: u64,
    /// Acked message ids absent from history (or found in another chat than sent to).
    pub acked_missing: u64,
    /// Sends without an ack (error, or unanswered) whose client_id is nevertheless stored.
    pub unacked_persisted: u64,
    /// The same message id more than once (across pages: a paging bug).
    pub duplicate_ids: u64,
    /// The same (sender, client_id) stored twice: a deduplication failure.
    pub duplicate_client_ids: u64,
}

/// Every message of `chat_id`, in history order, through offset paging.
pub async fn fetch_all(api: &Api, token: &str, chat_id: i64) -> Result<Vec<HistoryMessage>> {
    let mut all = Vec::new();
    loop {
        let url = api.url(&format!("/history/{chat_id}?limit={PAGE}&offset={}", all.len()));
        let resp = api.http.get(&url).bearer_auth(token).send().await?;
        let status = resp.status();
        if !status.is_success() {
            bail!("GET {url}: {status} {}", resp.text().await.unwrap_or_default());
        }
        let page: Vec<HistoryMessage> = resp.json().await.with_context(|| format!("GET {url} body"))?;
        let last = page.len() < PAGE;
        all.extend(page);
        if last {
            return Ok(all);
        }
    }
}

pub async fn check_history(
    api: &Api,
    users: &[User],
    chats: &[Chat],
    sent: &[SentRecord],
    concurrency: usize,
) -> Result<HistoryReport> {
    let histories: Vec<Vec<HistoryMessage>> = stream::iter(chats)
        .map(|chat| fetch_all(api, &users[chat.members[0]].token, chat.id))
        .buffered(concurrency.max(1))
        .try_collect()
        .await?;
    let mut report = compare(histories.iter().flatten(), sent);
    report.chats = chats.len();
    Ok(report)
}

/// Pure comparison of what history holds with what was sent.
pub fn compare<'a>(stored: impl IntoIterator<Item = &'a HistoryMessage>, sent: &[SentRecord]) -> HistoryReport {
    let mut report = HistoryReport::default();
    let mut ids = HashMap::new();
    let mut client_ids = HashSet::new();
    for m in stored {
        report.persisted += 1;
        if ids.insert(m.id, m.chat_id).is_some() {
            report.duplicate_ids += 1;
        } else if let Some(c) = m.client_id
            && !client_ids.insert((m.sender_id, c))
        {
            report.duplicate_client_ids += 1;
        }
    }
    let stored_client_ids: HashSet<Uuid> = client_ids.iter().map(|(_, c)| *c).collect();
    for r in sent {
        match r.message_id {
            Some(id) if ids.get(&id) != Some(&r.chat_id) => report.acked_missing += 1,
            Some(_) => {}
            None if stored_client_ids.contains(&r.client_id) => report.unacked_persisted += 1,
            None => {}
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: i64, sender_id: i64, client_id: Uuid) -> HistoryMessage {
        HistoryMessage { id, chat_id: 1, sender_id, client_id: Some(client_id) }
    }

    fn record(client_id: Uuid, message_id: Option<i64>) -> SentRecord {
        SentRecord { chat_id: 1, client_id, message_id }
    }

    #[test]
    fn a_clean_history_reports_no_problem() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let stored = [msg(1, 10, a), msg(2, 11, b)];
        let r = compare(&stored, &[record(a, Some(1)), record(b, Some(2))]);
        assert_eq!(r, HistoryReport { persisted: 2, ..HistoryReport::default() });
    }

    #[test]
    fn duplicates_and_missing_messages_are_counted() {
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let stored = [msg(1, 10, a), msg(1, 10, a), msg(2, 10, b), msg(3, 10, b), msg(4, 10, c)];
        let mut elsewhere = record(b, Some(3));
        elsewhere.chat_id = 2;
        let sent =
            [record(a, Some(1)), record(b, Some(2)), record(c, None), record(Uuid::new_v4(), Some(9)), elsewhere];
        let r = compare(&stored, &sent);
        assert_eq!(r.persisted, 5);
        assert_eq!(r.duplicate_ids, 1);
        assert_eq!(r.duplicate_client_ids, 1);
        assert_eq!(r.acked_missing, 2);
        assert_eq!(r.unacked_persisted, 1);
    }

    #[test]
    fn history_messages_parse_from_contract_json() {
        let raw = r#"[{"id":1,"chat_id":2,"sender_id":3,"text":"x","timestamp":"2025-01-01T00:00:00.000000Z",
            "read":false,"client_id":null}]"#;
        let v: Vec<HistoryMessage> = serde_json::from_str(raw).expect("parses");
        assert_eq!(v[0].client_id, None);
    }
}
