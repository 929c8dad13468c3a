//! `loadgen biggroup`: one group of 10,000 members, every member connected, a few senders at a fixed
//! total rate; delivery latency over every delivery (send → frame read by each member), per rate.
//!
//! The senders send on connections of their own (a second device of a member), so each message is
//! expected once on every member connection. Each rate is a phase on the same connections.

mod members;
mod receiver;
mod report;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant as StdInstant};

use anyhow::{Context, Result};
use futures_util::{StreamExt, TryStreamExt, stream};
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until};

use crate::BigGroupArgs;
use crate::counters::{Schedule, Shared, lock};
use crate::device::{SendMode, SendPlan, run_device};
use crate::proc_stats::{kb_to_mb, sample, usage};
use crate::run::sender_indexes;
use crate::setup::{Api, User};
use crate::stats::{LatencySummary, now_nanos};
use crate::ws_client::Connector;
use receiver::{Receivers, Window, receive};
pub use report::BigGroupReport;
use report::{PhaseReport, SetupReport};

/// Read buffer of a member connection: frames are small, and there are 10,000 of them.
const MEMBER_READ_BUFFER: usize = 8 * 1024;
const SENDER_READ_BUFFER: usize = 64 * 1024;

pub async fn run(args: &BigGroupArgs) -> Result<BigGroupReport> {
    let api = Api::new(&args.common.base_url)?;
    let connector = Connector::new(&args.common.base_url, args.source_ips.clone()).await?;
    let prefix = format!("bg-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let server_pid = args.server_pid.map(|p| p.to_string());
    let rss_mb = || server_pid.as_deref().map(sample).transpose().map(|s| s.map(|s| kb_to_mb(s.rss_kb)));

    eprintln!("setup: registering {} users ({prefix})…", args.members);
    let t = StdInstant::now();
    let users = members::register(&api, &prefix, args.members, args.setup_concurrency).await?;
    let register_s = t.elapsed().as_secs_f64();
    let t = StdInstant::now();
    let chat_id = members::create_group(&api, &users, args.initial_members, args.add_concurrency).await?;
    let group_s = t.elapsed().as_secs_f64();

    let receivers = Receivers::new();
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let rss_before = rss_mb()?;
    let t = StdInstant::now();
    let tasks = connect_members(&connector, &users, &receivers, &shutdown_rx, args).await?;
    let connect_s = t.elapsed().as_secs_f64();
    let t = StdInstant::now();
    settle(&receivers, args.quiet, args.settle_timeout).await;
    let setup = SetupReport {
        members: users.len(),
        initial_members: args.initial_members.min(users.len()),
        register_s,
        group_s,
        connect_s,
        settle_s: t.elapsed().as_secs_f64(),
        other_frames: receivers.other_frames.load(Ordering::Relaxed),
        connected: receivers.open.load(Ordering::Relaxed),
        server_rss_before_connect_mb: rss_before,
        server_rss_connected_mb: rss_mb()?,
    };
    eprintln!("setup: {} connected, {} presence/membership frames received", setup.connected, setup.other_frames);

    let senders: Vec<&User> = sender_indexes(users.len(), args.senders).into_iter().map(|i| &users[i]).collect();
    let mut phases = Vec::new();
    for &rate in &args.rates {
        phases.push(phase(args, rate, chat_id, &senders, &connector, &receivers, server_pid.as_deref()).await?);
    }
    let _ = shutdown_tx.send(true);
    for task in tasks {
        task.await.context("member task panicked")?;
    }
    let ok = phases.iter().all(|p| p.ok);
    Ok(BigGroupReport { setup, phases, ok })
}

/// Connects every member and starts its reading task at once, so that frames sent while the others
/// connect are read.
async fn connect_members(
    connector: &Connector,
    users: &[User],
    receivers: &Arc<Receivers>,
    shutdown: &watch::Receiver<bool>,
    args: &BigGroupArgs,
) -> Result<Vec<tokio::task::JoinHandle<()>>> {
    let started = StdInstant::now();
    let mut connects = stream::iter(users.iter().enumerate())
        .map(|(i, user)| async move {
            Ok::<_, anyhow::Error>((i, connector.connect(&user.token, MEMBER_READ_BUFFER).await?))
        })
        .buffer_unordered(args.connect_concurrency.max(1));
    let mut tasks = Vec::with_capacity(users.len());
    while let Some(connected) = connects.next().await {
        let (i, ws) = connected.context("connecting members (raise `ulimit -n`, or add --source-ips)")?;
        tasks.push(tokio::spawn(receive(i, ws, receivers.clone(), shutdown.clone())));
        if tasks.len().is_multiple_of(1000) {
            eprintln!(
                "connect: {} / {} members ({:.0} s, {} presence/membership frames so far)",
                tasks.len(),
                users.len(),
                started.elapsed().as_secs_f64(),
                receivers.other_frames.load(Ordering::Relaxed)
            );
        }
    }
    Ok(tasks)
}

/// Waits until no presence or membership frame has arrived for `quiet` seconds (at most `timeout`).
async fn settle(receivers: &Receivers, quiet: f64, timeout: f64) {
    let deadline = Instant::now() + Duration::from_secs_f64(timeout);
    let quiet_nanos = (quiet * 1e9) as i64;
    while Instant::now() < deadline {
        let last = i64::try_from(receivers.last_other_frame.load(Ordering::Relaxed)).unwrap_or(0);
        if now_nanos() - last >= quiet_nanos {
            return;
        }
        sleep(Duration::from_millis(200)).await;
    }
    eprintln!("settle: frames still arriving after {timeout} s; measuring anyway");
}

/// One offered rate: fresh sender connections, warm-up, measured duration, drain.
async fn phase(
    args: &BigGroupArgs,
    rate: f64,
    chat_id: i64,
    senders: &[&User],
    connector: &Connector,
    receivers: &Receivers,
    server_pid: Option<&str>,
) -> Result<PhaseReport> {
    let sender_ws: Vec<_> = stream::iter(senders)
        .then(|u| connector.connect(&u.token, SENDER_READ_BUFFER))
        .try_collect()
        .await
        .context("connecting senders")?;
    let lead = Duration::from_millis(200);
    let (warmup, duration) = (Duration::from_secs_f64(args.warmup), Duration::from_secs_f64(args.duration));
    let (t0, unix0) = (Instant::now() + lead, now_nanos() + lead.as_nanos() as i64);
    let to_nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    let window =
        Window { start: unix0, measure_start: unix0 + to_nanos(warmup), end: unix0 + to_nanos(warmup + duration) };
    let phase_index = receivers.add_window(window);
    let stats = Shared::new(Schedule { measure_start: window.measure_start, measure_end: window.end });
    let (stop_tx, stop_rx) = watch::channel(false);
    let interval = Duration::from_secs_f64(senders.len().max(1) as f64 / rate);
    let stop = t0 + warmup + duration;
    let disconnects_before = receivers.disconnects.load(Ordering::Relaxed);
    let tasks: Vec<_> = sender_ws
        .into_iter()
        .enumerate()
        .map(|(rank, ws)| {
            let stagger = interval.mul_f64(rank as f64 / senders.len() as f64);
            // A sender's other sending connections get its messages too: not counted here.
            let plan = SendPlan {
                chats: vec![(chat_id, 0)],
                mode: SendMode::Rate(interval),
                start: t0 + stagger,
                stop,
                start_unix_nanos: unix0 + to_nanos(stagger),
            };
            tokio::spawn(run_device(ws, Some(plan), stats.clone(), stop_rx.clone()))
        })
        .collect();
    eprintln!("phase: {rate} msg/s from {} senders, {warmup:?} warm-up, {duration:?} measured", senders.len());

    sleep_until(t0 + warmup).await;
    let (server_start, self_start) = (server_pid.map(sample).transpose()?, sample("self")?);
    let mut peak_rss = server_start.map_or(0, |s| s.rss_kb);
    while Instant::now() < stop {
        sleep_until((Instant::now() + Duration::from_millis(500)).min(stop)).await;
        if let Some(s) = server_pid.map(sample).transpose()? {
            peak_rss = peak_rss.max(s.rss_kb);
        }
    }
    let (server_end, self_end) = (server_pid.map(sample).transpose()?, sample("self")?);

    // Drain: until every acked message reached every open member connection, or the time is up.
    let drain_deadline = Instant::now() + Duration::from_secs_f64(args.drain);
    loop {
        let (acked, outstanding) = {
            let st = lock(&stats);
            (st.acked, st.outstanding)
        };
        let owed = acked * receivers.open.load(Ordering::Relaxed) as u64;
        if (outstanding == 0 && receivers.deliveries(phase_index) >= owed) || Instant::now() >= drain_deadline {
            break;
        }
        sleep(Duration::from_millis(50)).await;
    }
    let drain_s = args.drain - drain_deadline.saturating_duration_since(Instant::now()).as_secs_f64();
    let _ = stop_tx.send(true);
    let mut acked_ids = Vec::new();
    for task in tasks {
        let records = task.await.context("sender task panicked")??;
        acked_ids.extend(records.iter().filter_map(|r| r.message_id));
    }

    let tally = receivers.tally(phase_index)?;
    let member_connections = receivers.open.load(Ordering::Relaxed);
    let expected_per_message = member_connections as u64;
    let (mut lost, mut acked_received) = (0, 0);
    for id in &acked_ids {
        let got = tally.received.get(id).copied().unwrap_or(0);
        acked_received += got;
        lost += expected_per_message.saturating_sub(got);
    }
    let st = lock(&stats);
    let send_errors: u64 = st.errors.values().sum();
    let disconnects = receivers.disconnects.load(Ordering::Relaxed) - disconnects_before;
    let ok = lost == 0
        && tally.duplicates == 0
        && tally.order_violations == 0
        && disconnects == 0
        && send_errors == 0
        && st.acked == st.sent;
    Ok(PhaseReport {
        rate,
        senders: senders.len(),
        warmup_s: args.warmup,
        duration_s: args.duration,
        sent: st.sent,
        acked: st.acked,
        send_errors,
        member_connections,
        expected_deliveries: expected_per_message * acked_ids.len() as u64,
        deliveries: tally.deliveries,
        lost,
        unacked_deliveries: tally.deliveries.saturating_sub(acked_received),
        duplicate_deliveries: tally.duplicates,
        order_violations: tally.order_violations,
        disconnects,
        deliveries_per_s: tally.deliveries_measured as f64 / args.duration.max(1e-9),
        ack_latency: LatencySummary::from_histogram(&st.ack_latency),
        delivery_latency: LatencySummary::from_histogram(&tally.latency),
        drain_s,
        server: server_start.zip(server_end).map(|(start, end)| usage(&start, &end, peak_rss)),
        loadgen_cpu_percent: usage(&self_start, &self_end, 0).cpu_percent,
        ok,
    })
}
