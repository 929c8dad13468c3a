//! The standard run: set up users and chats, connect every device (and idle connections),
//! send for warm-up + duration, drain, then check persistence through history.

use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::{StreamExt, TryStreamExt, stream};
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until};

use crate::RunArgs;
use crate::counters::{Schedule, Shared, lock};
use crate::device::{SendMode, SendPlan, SentRecord, run_device};
use crate::history_check::check_history;
use crate::idle::{self, IdleOptions};
use crate::proc_stats::{ProcSample, kb_to_mb, sample, usage};
use crate::report::{ProcReport, RunConfig, RunReport};
use crate::setup::{Api, create_chats, group_partition, private_pairs, register_users};
use crate::stats::{expected_deliveries, now_nanos};
use crate::ws_client::{Connector, Ws};

const ACTIVE_READ_BUFFER: usize = 64 * 1024;

pub async fn run(args: &RunArgs) -> Result<RunReport> {
    let api = Api::new(&args.common.base_url)?;
    let ws_urls = if args.ws_urls.is_empty() { vec![args.common.base_url.clone()] } else { args.ws_urls.clone() };
    let connector = Connector::rotating(&ws_urls, args.source_ips.clone()).await?;
    let prefix = format!("lg-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);

    eprintln!("setup: registering {} users ({prefix})…", args.users);
    let users = register_users(&api, &prefix, args.users, args.setup_concurrency).await?;
    let groups = group_partition(users.len(), args.group_size);
    let pairs = private_pairs(users.len(), args.private_pairs);
    let chats = create_chats(&api, &users, &groups, &pairs, args.setup_concurrency).await?;
    eprintln!("setup: {} groups, {} private chats", groups.len(), pairs.len());
    let idle_users = if args.idle > 0 {
        let n = args.idle_users.clamp(1, args.idle);
        register_users(&api, &format!("{prefix}-idle"), n, args.setup_concurrency).await?
    } else {
        Vec::new()
    };

    // Per user: the chats it is in, with the fan-out of one message there.
    let mut user_chats: Vec<Vec<(i64, u64)>> = vec![Vec::new(); users.len()];
    for chat in &chats {
        for &m in &chat.members {
            user_chats[m].push((chat.id, expected_deliveries(chat.members.len(), args.devices)));
        }
    }

    let server_pid = args.server_pid.map(|p| p.to_string());

    eprintln!("connect: {} devices + {} idle connections…", users.len() * args.devices, args.idle);
    let device_jobs = (0..users.len()).flat_map(|u| (0..args.devices).map(move |d| (u, d)));
    let devices: Vec<(usize, usize, Ws)> = stream::iter(device_jobs)
        .map(|(u, d)| {
            let (connector, token) = (&connector, &users[u].token);
            async move { Ok::<_, anyhow::Error>((u, d, connector.connect(token, ACTIVE_READ_BUFFER).await?)) }
        })
        .buffer_unordered(args.connect_concurrency.max(1))
        .try_collect()
        .await
        .context("connecting devices")?;
    if args.idle > 0 {
        sleep(Duration::from_millis(500)).await;
    }
    let server_before_idle = server_pid.as_deref().map(sample).transpose()?;
    let idle_opts = IdleOptions {
        concurrency: args.connect_concurrency,
        timeout: Duration::from_secs_f64(args.idle_connect_timeout),
        max_failures: args.idle_max_failures,
    };
    let (idle, idle_outcome) = idle::open(&connector, &idle_users, args.idle, &idle_opts).await;
    if args.idle > 0 {
        sleep(Duration::from_millis(500)).await;
    }
    let server_after_idle = server_pid.as_deref().map(sample).transpose()?;

    // Schedule: sends start shortly, measurement after warm-up, sending stops at its end.
    let lead = Duration::from_millis(200);
    let t0 = Instant::now() + lead;
    let unix0 = now_nanos() + lead.as_nanos() as i64;
    let warmup = Duration::from_secs_f64(args.warmup);
    let duration = Duration::from_secs_f64(args.duration);
    let schedule = Schedule {
        measure_start: unix0 + warmup.as_nanos() as i64,
        measure_end: unix0 + (warmup + duration).as_nanos() as i64,
    };
    let (measure_start, measure_end) = (t0 + warmup, t0 + warmup + duration);
    let stats = Shared::new(schedule);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);

    // Users in no chat (a leftover of the grouping) cannot send: they do not count as senders.
    let senders: Vec<usize> = sender_indexes(users.len(), args.senders.unwrap_or(users.len()))
        .into_iter()
        .filter(|&u| !user_chats[u].is_empty())
        .collect();
    let mode = match (args.rate, args.window) {
        (Some(rate), _) => SendMode::Rate(Duration::from_secs_f64(senders.len().max(1) as f64 / rate)),
        (None, w) => SendMode::Window(w.max(1)),
    };
    let mut tasks = Vec::new();
    for (u, d, ws) in devices {
        let plan = (d == 0).then(|| senders.binary_search(&u).ok()).flatten().map(|rank| {
            let stagger = match mode {
                SendMode::Rate(interval) => interval.mul_f64(rank as f64 / senders.len() as f64),
                SendMode::Window(_) => Duration::ZERO,
            };
            SendPlan {
                chats: user_chats[u].clone(),
                mode,
                start: t0 + stagger,
                stop: measure_end,
                start_unix_nanos: unix0 + stagger.as_nanos() as i64,
            }
        });
        tasks.push(tokio::spawn(run_device(ws, plan, stats.clone(), shutdown_rx.clone())));
    }
    for ws in idle {
        tasks.push(tokio::spawn(run_device(ws, None, stats.clone(), shutdown_rx.clone())));
    }
    eprintln!("run: {:?} warm-up, {:?} measured, {} senders ({mode:?})", warmup, duration, senders.len());

    sleep_until(measure_start).await;
    let (server_start, self_start) = (server_pid.as_deref().map(sample).transpose()?, sample("self")?);
    let mut peak_rss = server_start.map_or(0, |s| s.rss_kb);
    while Instant::now() < measure_end {
        sleep_until((Instant::now() + Duration::from_millis(500)).min(measure_end)).await;
        if let Some(s) = server_pid.as_deref().map(sample).transpose()? {
            peak_rss = peak_rss.max(s.rss_kb);
        }
    }
    let (server_end, self_end) = (server_pid.as_deref().map(sample).transpose()?, sample("self")?);

    let drain_deadline = Instant::now() + Duration::from_secs_f64(args.drain);
    while !lock(&stats).drained() && Instant::now() < drain_deadline {
        sleep(Duration::from_millis(20)).await;
    }
    let drain_time = args.drain - drain_deadline.saturating_duration_since(Instant::now()).as_secs_f64();
    let _ = shutdown_tx.send(true);
    let mut records: Vec<SentRecord> = Vec::new();
    for task in tasks {
        records.extend(task.await.context("device task panicked")??);
    }

    let history = if args.history_check {
        eprintln!("history: checking {} chats…", chats.len());
        Some(check_history(&api, &users, &chats, &records, args.setup_concurrency).await?)
    } else {
        None
    };
    let server = match (server_start, server_end) {
        (Some(start), Some(end)) => {
            Some(server_report(&start, &end, peak_rss, server_before_idle, server_after_idle, idle_outcome.connected))
        }
        _ => None,
    };
    let config = RunConfig {
        users: users.len(),
        group_size: args.group_size,
        groups: groups.len(),
        private_chats: chats.len().saturating_sub(groups.len()),
        devices: args.devices,
        senders: senders.len(),
        idle_connections: args.idle,
        mode: if args.rate.is_some() { "rate" } else { "window" },
        window: args.rate.is_none().then_some(args.window),
        rate: args.rate,
        warmup_s: args.warmup,
        duration_s: args.duration,
    };
    let loadgen_cpu = usage(&self_start, &self_end, 0).cpu_percent;
    let st = lock(&stats);
    let idle_outcome = (args.idle > 0).then_some(idle_outcome);
    Ok(RunReport::build(config, &st, drain_time, server, loadgen_cpu, history, idle_outcome))
}

/// `count` users spread evenly over `0..n` (all of them when count >= n).
pub fn sender_indexes(n: usize, count: usize) -> Vec<usize> {
    let count = count.min(n);
    let mut v: Vec<usize> = (0..count).map(|i| i * n / count).collect();
    v.dedup();
    v
}

fn server_report(
    start: &ProcSample,
    end: &ProcSample,
    peak_rss_kb: u64,
    before_idle: Option<ProcSample>,
    after_idle: Option<ProcSample>,
    idle: usize,
) -> ProcReport {
    let per_conn_kb = match (before_idle, after_idle) {
        (Some(b), Some(a)) if idle > 0 => Some(a.rss_kb.saturating_sub(b.rss_kb) as f64 / idle as f64),
        _ => None,
    };
    ProcReport {
        usage: usage(start, end, peak_rss_kb),
        rss_before_idle_mb: before_idle.map(|s| kb_to_mb(s.rss_kb)),
        rss_after_idle_mb: after_idle.map(|s| kb_to_mb(s.rss_kb)),
        rss_kb_per_idle_connection: per_conn_kb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_are_spread_over_all_users() {
        assert_eq!(sender_indexes(8, 8), (0..8).collect::<Vec<_>>());
        assert_eq!(sender_indexes(8, 2), vec![0, 4]);
        assert_eq!(sender_indexes(8, 20).len(), 8);
        assert!(sender_indexes(8, 0).is_empty());
    }
}
