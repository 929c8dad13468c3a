//! `spawn_app`: a server on port 0 with a database of its own, dropped with the `TestApp`.

use std::collections::HashMap;
use std::path::PathBuf;

use api::{Application, Config};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub stopper: api::startup::Stopper,
    /// Dropped after the server: removes the test's database.
    _database: TestDatabase,
}

/// Where a test's data lives; removed when the test ends.
pub enum TestDatabase {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    pub async fn create() -> anyhow::Result<Self> {
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if admin_url.starts_with("postgres") => {
                let admin = Database::connect(&admin_url).await?;
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
                admin.close().await?;
                Ok(Self::Postgres { admin_url, name })
            }
            _ => {
                let dir = std::env::temp_dir().join(name);
                std::fs::create_dir_all(&dir)?;
                Ok(Self::Sqlite(dir))
            }
        }
    }

    pub fn url(&self) -> String {
        match self {
            Self::Sqlite(dir) => format!("sqlite://{}/test.db?mode=rwc", dir.display()),
            Self::Postgres { admin_url, name } => {
                let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
                format!("{base}/{name}")
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match self {
            Self::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Self::Postgres { admin_url, name } => {
                let (admin_url, database) = (admin_url.clone(), name.clone());
                // Drop runs outside async; a thread with its own runtime does the async cleanup.
                let cleanup = std::thread::spawn(move || {
                    let name = database;
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                    runtime.block_on(async {
                        let admin = Database::connect(&admin_url).await?;
                        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
                        admin.close().await?;
                        anyhow::Ok(())
                    })
                });
                if let Ok(Err(error)) = cleanup.join() {
                    eprintln!("could not drop test database {name}: {error}");
                }
            }
        }
    }
}

/// The servers' signing key in tests: as long as the server demands (32 bytes), so that tests can
/// forge tokens with it.
pub const TEST_JWT_SECRET: &str = "test secret: 32+ bytes, tests only";

pub async fn spawn_app() -> anyhow::Result<TestApp> {
    spawn_app_with(&[]).await
}

/// A server configured like production but for speed (bcrypt cost 4), without the sign-in limits (a test
/// registers many users from one address; the limits have tests of their own) and with the given
/// overrides.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> anyhow::Result<TestApp> {
    let database = TestDatabase::create().await?;
    let app = spawn_on(database.url(), overrides).await?;
    Ok(TestApp { address: app.0, client: reqwest::Client::new(), stopper: app.1, _database: database })
}

/// A server on an existing database (several instances on one database, for scale-out tests).
pub async fn spawn_on(
    database_url: String,
    overrides: &[(&str, &str)],
) -> anyhow::Result<(String, api::startup::Stopper)> {
    if std::env::var("TEST_LOG").is_ok() {
        api::telemetry::init(false);
    }
    let mut vars: HashMap<String, String> = [
        ("DATABASE_URL", database_url.as_str()),
        ("LISTEN_ADDR", "127.0.0.1:0"),
        ("JWT_SECRET", TEST_JWT_SECRET),
        ("RATE_AUTH_PER_SEC", "0"),
        ("BCRYPT_COST", "4"),
        ("DB_MAX_CONNECTIONS", "8"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (key, value) in overrides {
        vars.insert((*key).to_owned(), (*value).to_owned());
    }
    let config = Config::from_lookup(move |name| vars.get(name).cloned())?;
    let application = Application::build(config).await?;
    let address = format!("http://127.0.0.1:{}", application.port());
    let stopper = application.stopper();
    tokio::spawn(application.run_until_stopped());
    Ok((address, stopper))
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Registers a user with a unique email and signs in; returns (user JSON, token).
    pub async fn register(&self, name: &str) -> anyhow::Result<(Value, String)> {
        register_at(&self.client, &self.address, name).await
    }

    pub async fn get(&self, token: &str, path: &str) -> anyhow::Result<(u16, Value)> {
        let response = self.client.get(self.url(path)).bearer_auth(token).send().await?;
        Self::answer(response).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        let response = self.client.post(self.url(path)).bearer_auth(token).json(&body).send().await?;
        Self::answer(response).await
    }

    pub async fn patch(&self, token: &str, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        let response = self.client.patch(self.url(path)).bearer_auth(token).json(&body).send().await?;
        Self::answer(response).await
    }

    pub async fn delete(&self, token: &str, path: &str) -> anyhow::Result<(u16, Value)> {
        let response = self.client.delete(self.url(path)).bearer_auth(token).send().await?;
        Self::answer(response).await
    }

    async fn answer(response: reqwest::Response) -> anyhow::Result<(u16, Value)> {
        let status = response.status().as_u16();
        let text = response.text().await?;
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text)? };
        Ok((status, body))
    }

    /// What a WebSocket upgrade of `/ws{query}` answers, before any upgrade: its status and, unless it
    /// upgraded, its error body.
    pub async fn upgrade_answer(&self, query: &str) -> anyhow::Result<(u16, Value)> {
        let response = self
            .client
            .get(self.url(&format!("/ws{query}")))
            .header("Connection", "Upgrade")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, if status == 101 { Value::Null } else { response.json().await? }))
    }

    pub async fn send(&self, token: &str, chat: i64, text: &str) -> anyhow::Result<Value> {
        let (status, body) = self
            .post(token, &format!("/chats/{chat}/messages"), json!({"text": text, "client_id": uuid::Uuid::new_v4()}))
            .await?;
        anyhow::ensure!(status == 201, "send answered {status}: {body}");
        Ok(body)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting and let the database go; the runtime ending cancels the rest.
        self.stopper.abort();
    }
}

/// Registers a user with a unique email on the server at `address` and signs in; returns (user JSON, token).
pub async fn register_at(client: &reqwest::Client, address: &str, name: &str) -> anyhow::Result<(Value, String)> {
    let email = format!("{name}-{}@example.com", uuid::Uuid::new_v4().simple());
    let response = client
        .post(format!("{address}/auth/register"))
        .json(&json!({"name": name, "email": email, "password": "password123"}))
        .send()
        .await?;
    anyhow::ensure!(response.status() == 201, "register answered {}", response.status());
    let user: Value = response.json().await?;
    let token = token_at(client, address, &email, "password123").await?;
    Ok((user, token))
}

/// Signs in through the OAuth2 password flow and returns the access token.
async fn token_at(client: &reqwest::Client, address: &str, email: &str, password: &str) -> anyhow::Result<String> {
    let response = sign_in_at(client, address, email, password).await?;
    response["access_token"].as_str().map(str::to_owned).ok_or_else(|| anyhow::anyhow!("no token in {response}"))
}

/// Signs in through the OAuth2 password flow and returns the whole answer (access and refresh token).
pub async fn sign_in_at(client: &reqwest::Client, address: &str, email: &str, password: &str) -> anyhow::Result<Value> {
    let response = client
        .post(format!("{address}/auth/token"))
        .form(&[("username", email), ("password", password)])
        .send()
        .await?;
    anyhow::ensure!(response.status() == 200, "sign-in answered {}", response.status());
    Ok(response.json().await?)
}

/// `body["error"]["code"]` as a str, for assertions.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

pub fn id(value: &Value) -> i64 {
    value["id"].as_i64().unwrap_or_default()
}
