//! Setup phase over REST: register users, log them in, create groups and private chats.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use futures_util::{StreamExt, TryStreamExt, stream};
use reqwest::{Client, StatusCode};
use serde::Deserialize;
use serde_json::json;

pub const PASSWORD: &str = "password123";

#[derive(Debug, Clone)]
pub struct Api {
    pub http: Client,
    pub base: String,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub token: String,
}

#[derive(Debug, Clone)]
pub struct Chat {
    pub id: i64,
    /// Indexes into the user list.
    pub members: Vec<usize>,
}

#[derive(Deserialize)]
struct UserBody {
    id: i64,
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
}

#[derive(Deserialize)]
struct MemberBody {
    id: i64,
}

#[derive(Deserialize)]
struct ChatBody {
    id: i64,
    members: Vec<MemberBody>,
}

impl Api {
    pub fn new(base: &str) -> Result<Self> {
        let http = Client::builder().pool_max_idle_per_host(256).tcp_nodelay(true).build()?;
        Ok(Self { http, base: base.trim_end_matches('/').to_owned() })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Registers `email` (idempotent for a rerun: `email_taken` falls through to login) and
    /// returns the user with a fresh token.
    pub async fn register_and_login(&self, name: &str, email: &str) -> Result<User> {
        let body = json!({ "name": name, "email": email, "password": PASSWORD });
        let resp = self.http.post(self.url("/auth/register")).json(&body).send().await?;
        let status = resp.status();
        let registered_id = match status {
            StatusCode::CREATED => Some(resp.json::<UserBody>().await.context("register body")?.id),
            StatusCode::CONFLICT => None,
            _ => bail!("register {email}: {status} {}", resp.text().await.unwrap_or_default()),
        };
        let token = self.login(email).await?;
        let id = match registered_id {
            Some(id) => id,
            None => self.me(&token).await?,
        };
        Ok(User { id, token })
    }

    pub async fn me(&self, token: &str) -> Result<i64> {
        let me: UserBody = self
            .http
            .get(self.url("/users/me"))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()
            .context("GET /users/me")?
            .json()
            .await?;
        Ok(me.id)
    }

    pub async fn login(&self, email: &str) -> Result<String> {
        self.login_with(email, PASSWORD).await
    }

    pub async fn login_with(&self, email: &str, password: &str) -> Result<String> {
        let resp =
            self.http.post(self.url("/auth/token")).form(&[("username", email), ("password", password)]).send().await?;
        let status = resp.status();
        if !status.is_success() {
            bail!("token for {email}: {status} {}", resp.text().await.unwrap_or_default());
        }
        Ok(resp.json::<TokenBody>().await.context("token body")?.access_token)
    }

    async fn create_chat(&self, token: &str, path: &str, body: serde_json::Value) -> Result<ChatBody> {
        let resp = self.http.post(self.url(path)).bearer_auth(token).json(&body).send().await?;
        let status = resp.status();
        if !status.is_success() {
            bail!("POST {path}: {status} {}", resp.text().await.unwrap_or_default());
        }
        resp.json().await.with_context(|| format!("POST {path} body"))
    }
}

/// Registers `count` users named after `prefix`, `concurrency` at a time, in index order.
pub async fn register_users(api: &Api, prefix: &str, count: usize, concurrency: usize) -> Result<Vec<User>> {
    stream::iter(0..count)
        .map(|i| async move {
            let name = format!("lg{i}");
            let email = format!("{prefix}-{i}@loadgen.example.com");
            api.register_and_login(&name, &email).await
        })
        .buffered(concurrency.max(1))
        .try_collect()
        .await
}

/// Splits users `0..n` into consecutive groups of `k`; a remainder of two or more forms a
/// smaller last group, a single leftover user joins no group.
pub fn group_partition(n: usize, k: usize) -> Vec<Vec<usize>> {
    if k < 2 {
        return Vec::new();
    }
    (0..n).step_by(k).map(|start| (start..(start + k).min(n)).collect::<Vec<_>>()).filter(|g| g.len() >= 2).collect()
}

/// `count` distinct unordered pairs of users, spread over everybody: (i, i+1), (i, i+2), …
pub fn private_pairs(n: usize, count: usize) -> Vec<(usize, usize)> {
    let mut seen = BTreeSet::new();
    let mut pairs = Vec::new();
    'outer: for distance in 1..n {
        for a in 0..n {
            if pairs.len() >= count {
                break 'outer;
            }
            let b = (a + distance) % n;
            if seen.insert((a.min(b), a.max(b))) {
                pairs.push((a, b));
            }
        }
    }
    pairs
}

/// Creates the groups and private chats, `concurrency` requests at a time.
pub async fn create_chats(
    api: &Api,
    users: &[User],
    groups: &[Vec<usize>],
    pairs: &[(usize, usize)],
    concurrency: usize,
) -> Result<Vec<Chat>> {
    let group_reqs = groups.iter().enumerate().map(|(gi, members)| {
        let creator = members[0];
        let others: Vec<i64> = members[1..].iter().map(|&m| users[m].id).collect();
        let body = json!({ "name": format!("lg group {gi}"), "member_ids": others });
        (creator, "/groups", body, members.clone())
    });
    let pair_reqs = pairs.iter().map(|&(a, b)| (a, "/chats/private", json!({ "user_id": users[b].id }), vec![a, b]));
    let mut chats: Vec<Chat> = stream::iter(group_reqs.chain(pair_reqs))
        .map(|(creator, path, body, members)| async move {
            let chat = api.create_chat(&users[creator].token, path, body).await?;
            if chat.members.len() != members.len() {
                bail!("{path}: chat {} has {} members, expected {}", chat.id, chat.members.len(), members.len());
            }
            let wanted: BTreeSet<i64> = members.iter().map(|&m| users[m].id).collect();
            let got: BTreeSet<i64> = chat.members.iter().map(|m| m.id).collect();
            if wanted != got {
                bail!("{path}: chat {} has members {got:?}, expected {wanted:?}", chat.id);
            }
            Ok(Chat { id: chat.id, members })
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    chats.sort_by_key(|c| c.id);
    chats.dedup_by_key(|c| c.id);
    Ok(chats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_split_into_groups_of_k_with_a_smaller_last_group() {
        assert_eq!(group_partition(8, 4), vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7]]);
        assert_eq!(group_partition(6, 4), vec![vec![0, 1, 2, 3], vec![4, 5]]);
        assert_eq!(group_partition(5, 4), vec![vec![0, 1, 2, 3]]);
        assert!(group_partition(5, 1).is_empty());
    }

    #[test]
    fn private_pairs_are_distinct_and_never_self() {
        let pairs = private_pairs(4, 10);
        assert_eq!(pairs.len(), 6, "only 6 pairs exist among 4 users");
        let mut set = BTreeSet::new();
        for (a, b) in pairs {
            assert_ne!(a, b);
            assert!(set.insert((a.min(b), a.max(b))));
        }
        assert_eq!(private_pairs(10, 3), vec![(0, 1), (1, 2), (2, 3)]);
    }
}
