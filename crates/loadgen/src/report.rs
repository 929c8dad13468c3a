//! The run's figures: one serialisable report, printed as a human table and one JSON line.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::counters::Shared;
use crate::history_check::HistoryReport;
use crate::idle::IdleOutcome;
use crate::proc_stats::ProcUsage;
use crate::stats::{LatencySummary, delivery_balance};

#[derive(Debug, Serialize)]
pub struct RunConfig {
    pub users: usize,
    pub group_size: usize,
    pub groups: usize,
    pub private_chats: usize,
    pub devices: usize,
    pub senders: usize,
    pub idle_connections: usize,
    pub mode: &'static str,
    pub window: Option<usize>,
    pub rate: Option<f64>,
    pub warmup_s: f64,
    pub duration_s: f64,
}

#[derive(Debug, Serialize)]
pub struct ProcReport {
    #[serde(flatten)]
    pub usage: ProcUsage,
    pub rss_before_idle_mb: Option<f64>,
    pub rss_after_idle_mb: Option<f64>,
    pub rss_kb_per_idle_connection: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct RunReport {
    pub config: RunConfig,
    pub sent: u64,
    pub acked: u64,
    pub duplicate_acks: u64,
    pub errors: BTreeMap<String, u64>,
    pub unanswered: u64,
    pub deliveries: u64,
    pub expected_deliveries: u64,
    pub lost: u64,
    pub surplus_deliveries: u64,
    pub unacked_deliveries: u64,
    pub duplicate_deliveries: u64,
    pub order_violations: u64,
    pub disconnects: u64,
    pub foreign_frames: u64,
    pub msgs_per_s: f64,
    pub deliveries_per_s: f64,
    pub ack_latency: LatencySummary,
    pub delivery_latency: LatencySummary,
    pub drain_s: f64,
    pub server: Option<ProcReport>,
    pub loadgen_cpu_percent: f64,
    pub history: Option<HistoryReport>,
    pub idle: Option<IdleOutcome>,
    pub failures: Vec<String>,
    pub ok: bool,
}

impl RunReport {
    pub fn build(
        config: RunConfig,
        st: &Shared,
        drain_s: f64,
        server: Option<ProcReport>,
        loadgen_cpu_percent: f64,
        history: Option<HistoryReport>,
        idle: Option<IdleOutcome>,
    ) -> Self {
        let balance = delivery_balance(st.tracks.values());
        let errors_total: u64 = st.errors.values().sum();
        let mut r = Self {
            sent: st.sent,
            acked: st.acked,
            duplicate_acks: st.duplicate_acks,
            errors: st.errors.clone(),
            unanswered: st.sent.saturating_sub(st.acked + st.duplicate_acks + errors_total),
            deliveries: st.deliveries,
            expected_deliveries: balance.expected,
            lost: balance.lost,
            surplus_deliveries: balance.surplus,
            unacked_deliveries: balance.unacked_received,
            duplicate_deliveries: st.duplicate_deliveries,
            order_violations: st.order_violations,
            disconnects: st.disconnects,
            foreign_frames: st.foreign_frames,
            msgs_per_s: st.acked_in_window as f64 / config.duration_s.max(1e-9),
            deliveries_per_s: st.deliveries_in_window as f64 / config.duration_s.max(1e-9),
            ack_latency: LatencySummary::from_histogram(&st.ack_latency),
            delivery_latency: LatencySummary::from_histogram(&st.delivery_latency),
            drain_s,
            server,
            loadgen_cpu_percent,
            history,
            idle,
            failures: Vec::new(),
            ok: true,
            config,
        };
        r.failures = r.find_failures();
        r.ok = r.failures.is_empty();
        r
    }

    /// Correctness problems: any of these makes the exit code nonzero.
    pub fn find_failures(&self) -> Vec<String> {
        let mut f = Vec::new();
        let mut check = |n: u64, what: &str| {
            if n > 0 {
                f.push(format!("{n} {what}"));
            }
        };
        check(self.lost, "deliveries lost");
        check(self.duplicate_deliveries, "duplicate deliveries");
        check(self.surplus_deliveries, "deliveries to connections that should not get them");
        check(self.duplicate_acks, "duplicate acks");
        check(self.unanswered, "sends never answered (no ack, no error)");
        check(self.order_violations, "ordering violations");
        if let Some(idle) = &self.idle {
            check((idle.failed + idle.skipped) as u64, "idle connections not opened");
        }
        if let Some(h) = &self.history {
            check(h.acked_missing, "acked messages missing from history");
            check(h.duplicate_ids, "duplicate message ids in history");
            check(h.duplicate_client_ids, "duplicate client_ids in history");
        }
        f
    }

    pub fn print_human(&self) {
        let c = &self.config;
        let mode = match (c.window, c.rate) {
            (_, Some(r)) => format!("rate {r} msg/s"),
            (Some(w), None) => format!("window {w}"),
            _ => String::new(),
        };
        println!(
            "== loadgen: {} users, {} groups of {}, {} private chats, {} devices/user, {} idle, {} senders, {mode}",
            c.users, c.groups, c.group_size, c.private_chats, c.devices, c.idle_connections, c.senders
        );
        println!("   warm-up {} s, measured {} s, drain {:.2} s", c.warmup_s, c.duration_s, self.drain_s);
        let row = |name: &str, value: String| println!("{name:<28} {value}");
        row("sent", self.sent.to_string());
        row("acked", self.acked.to_string());
        row("duplicate acks", self.duplicate_acks.to_string());
        row("errors", format!("{:?}", self.errors));
        row("unanswered", self.unanswered.to_string());
        row("deliveries / expected", format!("{} / {}", self.deliveries, self.expected_deliveries));
        row("lost", self.lost.to_string());
        row("duplicate deliveries", self.duplicate_deliveries.to_string());
        row("surplus deliveries", self.surplus_deliveries.to_string());
        row("ordering violations", self.order_violations.to_string());
        row("disconnects", self.disconnects.to_string());
        row("messages/s (acked)", format!("{:.0}", self.msgs_per_s));
        row("deliveries/s", format!("{:.0}", self.deliveries_per_s));
        let lat = |l: &LatencySummary| {
            format!(
                "p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2} ms  (n={})",
                l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms, l.count
            )
        };
        row("send→ack", lat(&self.ack_latency));
        row("send→delivery", lat(&self.delivery_latency));
        if let Some(s) = &self.server {
            row("server CPU", format!("{:.0} % of a core", s.usage.cpu_percent));
            row("server RSS", format!("{:.1} MB (peak {:.1} MB)", s.usage.rss_end_mb, s.usage.rss_peak_mb));
            if let Some(kb) = s.rss_kb_per_idle_connection {
                row("server RSS per idle conn", format!("{kb:.1} kB"));
            }
        }
        if let Some(idle) = &self.idle {
            row(
                "idle connections",
                format!(
                    "{} open, {} failed, {} not tried, in {:.0} s",
                    idle.connected, idle.failed, idle.skipped, idle.open_s
                ),
            );
            if let Some(e) = &idle.first_error {
                row("first idle failure", e.clone());
            }
        }
        row("loadgen CPU", format!("{:.0} % of a core", self.loadgen_cpu_percent));
        if let Some(h) = &self.history {
            row("persisted (history)", format!("{} in {} chats", h.persisted, h.chats));
            row("acked missing / unacked kept", format!("{} / {}", h.acked_missing, h.unacked_persisted));
            row("history dup ids / client_ids", format!("{} / {}", h.duplicate_ids, h.duplicate_client_ids));
        }
        row("result", if self.ok { "OK".to_owned() } else { format!("FAIL: {}", self.failures.join("; ")) });
    }
}
