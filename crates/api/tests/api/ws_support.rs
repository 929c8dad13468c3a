//! REST shortcuts for the WebSocket tests: users, chats and history, through the public API only.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::register_at;

/// A registered, signed-in user.
pub struct Person {
    pub id: i64,
    pub token: String,
}

pub async fn person(address: &str, name: &str) -> anyhow::Result<Person> {
    let (user, token) = register_at(&reqwest::Client::new(), address, name).await?;
    let id = user["id"].as_i64().ok_or_else(|| anyhow::anyhow!("no id in {user}"))?;
    Ok(Person { id, token })
}

pub async fn post(address: &str, token: &str, path: &str, body: Value) -> anyhow::Result<(StatusCode, Value)> {
    let response =
        reqwest::Client::new().post(format!("{address}{path}")).bearer_auth(token).json(&body).send().await?;
    let status = response.status();
    let body = if status == StatusCode::NO_CONTENT { Value::Null } else { response.json().await? };
    Ok((status, body))
}

pub async fn get(address: &str, token: &str, path: &str) -> anyhow::Result<Value> {
    Ok(reqwest::Client::new()
        .get(format!("{address}{path}"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

pub async fn private_chat(address: &str, me: &Person, other: &Person) -> anyhow::Result<i64> {
    let (_, chat) = post(address, &me.token, "/chats/private", json!({"user_id": other.id})).await?;
    chat["id"].as_i64().ok_or_else(|| anyhow::anyhow!("no chat id in {chat}"))
}

pub async fn group(address: &str, creator: &Person, members: &[&Person]) -> anyhow::Result<i64> {
    let ids: Vec<i64> = members.iter().map(|m| m.id).collect();
    let (_, chat) = post(address, &creator.token, "/groups", json!({"name": "Team", "member_ids": ids})).await?;
    chat["id"].as_i64().ok_or_else(|| anyhow::anyhow!("no chat id in {chat}"))
}

pub async fn history(address: &str, token: &str, chat: i64) -> anyhow::Result<Vec<Value>> {
    let page = get(address, token, &format!("/history/{chat}?limit=200")).await?;
    Ok(page.as_array().cloned().unwrap_or_default())
}
