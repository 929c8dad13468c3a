//! Setup of the big group over REST: many users, one group started with as many members as the
//! server allows at creation, the rest added one by one by the creator.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use futures_util::{StreamExt, stream};
use serde::Deserialize;
use serde_json::json;

use crate::setup::{Api, User, register_users};

/// Users registered per progress line.
const CHUNK: usize = 1000;

#[derive(Deserialize)]
struct Created {
    id: i64,
}

/// Registers `count` users, printing progress to stderr every thousand.
pub async fn register(api: &Api, prefix: &str, count: usize, concurrency: usize) -> Result<Vec<User>> {
    let started = Instant::now();
    let mut users = Vec::with_capacity(count);
    for chunk_start in (0..count).step_by(CHUNK) {
        let n = CHUNK.min(count - chunk_start);
        // Each chunk names its users after its first index, so emails stay distinct across chunks.
        users.extend(register_users(api, &format!("{prefix}-{chunk_start}"), n, concurrency).await?);
        eprintln!("setup: {} / {count} users registered ({:.0} s)", users.len(), started.elapsed().as_secs_f64());
    }
    Ok(users)
}

/// Creates the group with `users[0]` as creator and the next `initial - 1` users as members, then adds
/// the others one by one, `concurrency` requests at a time. Returns the chat id.
pub async fn create_group(api: &Api, users: &[User], initial: usize, concurrency: usize) -> Result<i64> {
    let (creator, others) = users.split_first().context("no users")?;
    let initial_others = initial.saturating_sub(1).min(others.len());
    let member_ids: Vec<i64> = others[..initial_others].iter().map(|u| u.id).collect();
    let resp = api
        .http
        .post(api.url("/groups"))
        .bearer_auth(&creator.token)
        .json(&json!({ "name": "biggroup", "member_ids": member_ids }))
        .send()
        .await?;
    let status = resp.status();
    if !status.is_success() {
        bail!("POST /groups: {status} {}", resp.text().await.unwrap_or_default());
    }
    let chat_id = resp.json::<Created>().await.context("POST /groups body")?.id;
    eprintln!("setup: group {chat_id} created with {} members", initial_others + 1);

    let started = Instant::now();
    let rest = &others[initial_others..];
    let mut added = 0_usize;
    let mut adds = stream::iter(rest)
        .map(|user| add_member(api, &creator.token, chat_id, user.id))
        .buffer_unordered(concurrency.max(1));
    while let Some(result) = adds.next().await {
        result?;
        added += 1;
        if added.is_multiple_of(CHUNK) || added == rest.len() {
            let rate = added as f64 / started.elapsed().as_secs_f64().max(1e-9);
            eprintln!("setup: {added} / {} members added ({rate:.0}/s)", rest.len());
        }
    }
    Ok(chat_id)
}

async fn add_member(api: &Api, token: &str, chat_id: i64, user_id: i64) -> Result<()> {
    let path = format!("/groups/{chat_id}/members");
    let resp = api.http.post(api.url(&path)).bearer_auth(token).json(&json!({ "user_id": user_id })).send().await?;
    let status = resp.status();
    // The body (the whole chat) is read, so that the connection goes back to the pool.
    let body = resp.bytes().await?;
    if !status.is_success() {
        bail!("POST {path}: {status} {}", String::from_utf8_lossy(&body));
    }
    Ok(())
}
