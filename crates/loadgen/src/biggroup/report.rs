//! What `loadgen biggroup` reports: the setup's cost, then one entry per offered rate.

use serde::Serialize;

use crate::proc_stats::ProcUsage;
use crate::stats::LatencySummary;

#[derive(Debug, Serialize)]
pub struct SetupReport {
    pub members: usize,
    pub initial_members: usize,
    pub register_s: f64,
    pub group_s: f64,
    pub connect_s: f64,
    /// From the last connection until no presence or membership frame arrived for the quiet period.
    pub settle_s: f64,
    /// Non-message frames the members received while connecting and settling (presence, chat_updated).
    pub other_frames: u64,
    pub connected: usize,
    pub server_rss_before_connect_mb: Option<f64>,
    pub server_rss_connected_mb: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct PhaseReport {
    pub rate: f64,
    pub senders: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub sent: u64,
    pub acked: u64,
    pub send_errors: u64,
    /// Member connections open when the phase ended: every acked message should reach each of them.
    pub member_connections: usize,
    pub expected_deliveries: u64,
    pub deliveries: u64,
    pub lost: u64,
    /// Deliveries of messages whose ack never came.
    pub unacked_deliveries: u64,
    pub duplicate_deliveries: u64,
    pub order_violations: u64,
    pub disconnects: usize,
    pub deliveries_per_s: f64,
    pub ack_latency: LatencySummary,
    /// Intended send time → frame read by a member, over every delivery of the measured sends.
    pub delivery_latency: LatencySummary,
    pub drain_s: f64,
    pub server: Option<ProcUsage>,
    pub loadgen_cpu_percent: f64,
    pub ok: bool,
}

#[derive(Debug, Serialize)]
pub struct BigGroupReport {
    pub setup: SetupReport,
    pub phases: Vec<PhaseReport>,
    pub ok: bool,
}

impl BigGroupReport {
    pub fn print_human(&self) {
        let s = &self.setup;
        println!(
            "== biggroup: {} members ({} at creation); register {:.0} s, group {:.0} s, connect {:.0} s, settle {:.0} s",
            s.members, s.initial_members, s.register_s, s.group_s, s.connect_s, s.settle_s
        );
        println!(
            "   {} connected, {} presence/membership frames while connecting; server RSS {:?} → {:?} MB",
            s.connected, s.other_frames, s.server_rss_before_connect_mb, s.server_rss_connected_mb
        );
        println!(
            "{:>6} {:>6} {:>11} {:>11} {:>6} {:>5} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6}",
            "msg/s",
            "sent",
            "expected",
            "received",
            "lost",
            "dup",
            "deliv/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "srv%",
            "lg%"
        );
        for p in &self.phases {
            let l = &p.delivery_latency;
            println!(
                "{:>6} {:>6} {:>11} {:>11} {:>6} {:>5} {:>9.0} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>6.0} {:>6.0}",
                p.rate,
                p.sent,
                p.expected_deliveries,
                p.deliveries,
                p.lost,
                p.duplicate_deliveries,
                p.deliveries_per_s,
                l.p50_ms,
                l.p90_ms,
                l.p99_ms,
                l.max_ms,
                p.server.map_or(0.0, |u| u.cpu_percent),
                p.loadgen_cpu_percent
            );
        }
        println!("result: {}", if self.ok { "OK" } else { "FAIL (see lost/dup/order/disconnects)" });
    }
}
