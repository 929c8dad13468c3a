//! PostgreSQL stops under load: sends fail fast and honestly (`unavailable`, nothing acknowledged that is
//! not stored), `/readyz` says so within a second, and once the database is back the retried sends are
//! stored exactly once, in seq order with timestamps that never decrease along it.
//!
//! The test runs a PostgreSQL of its own (`initdb` and `pg_ctl` as the `postgres` user, on a free port)
//! and never touches the shared one. It runs when `TEST_DATABASE_URL` names PostgreSQL (CI's second pass).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::device::Device;
use crate::helpers::spawn_on;
use crate::ws_support::{get, person, private_chat};

/// A PostgreSQL cluster of the test's own, removed when dropped.
struct OwnPostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
}

impl OwnPostgres {
    fn start() -> anyhow::Result<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")?
            .filter_map(Result::ok)
            .map(|entry| entry.path().join("bin"))
            .filter(|bin| bin.join("initdb").exists())
            .max()
            .ok_or_else(|| anyhow::anyhow!("no PostgreSQL binaries under /usr/lib/postgresql"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let data = std::env::temp_dir().join(format!("pg_{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&data)?;
        as_postgres(Command::new("chown").args(["postgres:postgres", &data.display().to_string()]), false)?;
        let initdb = bin.join("initdb");
        as_postgres(
            Command::new(initdb).args(["-D", &data.display().to_string(), "-A", "trust", "-U", "postgres"]),
            true,
        )?;
        let cluster = Self { bin, data, port };
        cluster.pg_ctl(&["start", "-w"])?;
        Ok(cluster)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_ctl(&self, args: &[&str]) -> anyhow::Result<()> {
        let options = format!("-p {} -k /tmp -c listen_addresses=127.0.0.1", self.port);
        let log = self.data.join("server.log").display().to_string();
        let data = self.data.display().to_string();
        let mut command = Command::new(self.bin.join("pg_ctl"));
        command.args(["-D", &data, "-o", &options, "-l", &log]).args(args);
        as_postgres(&mut command, true)
    }

    fn stop(&self) -> anyhow::Result<()> {
        self.pg_ctl(&["stop", "-m", "immediate", "-w"])
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// Runs `command` (as the `postgres` user when `switch` and this process is root: PostgreSQL refuses
/// to run as root).
fn as_postgres(command: &mut Command, switch: bool) -> anyhow::Result<()> {
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(ToOwned::to_owned).collect();
    let status = if switch && is_root() {
        Command::new("runuser").arg("-u").arg("postgres").arg("--").arg(program).args(args).output()?
    } else {
        command.output()?
    };
    anyhow::ensure!(status.status.success(), "{:?} failed: {}", command, String::from_utf8_lossy(&status.stderr));
    Ok(())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"))
}

#[tokio::test]
async fn a_database_outage_fails_sends_fast_and_loses_nothing() -> anyhow::Result<()> {
    if !std::env::var("TEST_DATABASE_URL").is_ok_and(|url| url.starts_with("postgres")) {
        eprintln!("TEST_DATABASE_URL does not name PostgreSQL: database outage test not run");
        return Ok(());
    }
    let postgres = OwnPostgres::start()?;
    let overrides = [("SEND_TIMEOUT_SECS", "2"), ("RATE_SEND_PER_SEC", "0")];
    let (server, _) = spawn_on(postgres.url(), &overrides).await?;
    let (alice, bob) = (person(&server, "alice").await?, person(&server, "bob").await?);
    let chat = private_chat(&server, &alice, &bob).await?;
    let sender = Device::connect(&server, &alice.token).await?;

    // Steady sends; the database stops after a few and comes back a few seconds later.
    let sending = tokio::spawn(async move {
        let mut answers = Vec::new();
        for i in 0..30 {
            answers.push(sender.send_until_acked(chat, &format!("m{i}")).await?);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::Ok(answers)
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    postgres.stop()?;
    let asked = Instant::now();
    let ready = reqwest::get(format!("{server}/readyz")).await?.status().as_u16();
    assert_eq!(ready, 503, "readiness reports the outage");
    assert!(asked.elapsed() < Duration::from_secs(1), "readiness answered within a second");
    // A REST send during the outage: refused fast and honestly, nothing stored.
    let path = format!("/chats/{chat}/messages");
    let in_the_dark = serde_json::json!({"text": "in the dark", "client_id": uuid::Uuid::new_v4()});
    let send = || crate::ws_support::post(&server, &bob.token, &path, in_the_dark.clone());
    let started = Instant::now();
    let (status, body) = send().await?;
    assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (503, Some("unavailable")), "{body}");
    assert!(started.elapsed() < Duration::from_secs(4), "refused within the send timeout ({:?})", started.elapsed());
    tokio::time::sleep(Duration::from_secs(3)).await;
    postgres.pg_ctl(&["start", "-w"])?;

    // The first send after recovery succeeds: the REST retry with the same client_id.
    let retried = async {
        for _ in 0..50 {
            let (status, body) = send().await?;
            if status.as_u16() == 201 {
                return anyhow::Ok(body);
            }
            anyhow::ensure!(status.as_u16() == 503, "retry answered {status}: {body}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        anyhow::bail!("the retry never went in")
    }
    .await?;
    assert_eq!(retried["text"], "in the dark");

    let acked = sending.await??;
    let history = get(&server, &alice.token, &format!("/history/{chat}?limit=200")).await?;
    let history = history.as_array().cloned().unwrap_or_default();
    assert_eq!(history.len(), 31, "every acknowledged message once, and nothing else");
    let acked_ids: BTreeSet<i64> = acked.iter().filter_map(|(m, _)| m["id"].as_i64()).collect();
    let stored_ids: BTreeSet<i64> = history.iter().filter_map(|m| m["id"].as_i64()).collect();
    assert!(acked_ids.is_subset(&stored_ids), "every ack names a stored message");
    let seqs: Vec<i64> = history.iter().filter_map(|m| m["seq"].as_i64()).collect();
    assert_eq!(seqs, (1..=31).collect::<Vec<_>>());
    let stamps: Vec<chrono::DateTime<chrono::Utc>> =
        history.iter().filter_map(|m| m["timestamp"].as_str()?.parse().ok()).collect();
    assert_eq!(stamps.len(), 31);
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "timestamps never decrease along seq");
    Ok(())
}
