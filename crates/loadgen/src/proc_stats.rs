//! CPU time and resident memory of a process, read from `/proc` (Linux only).

use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;

/// Clock ticks per second used by `/proc/*/stat` (`sysconf(_SC_CLK_TCK)`; 100 on every Linux
/// configuration we run on).
const CLK_TCK: f64 = 100.0;

#[derive(Debug, Clone, Copy)]
pub struct ProcSample {
    pub cpu_seconds: f64,
    pub rss_kb: u64,
    pub at: Instant,
}

/// `pid` is a number or `self`.
pub fn sample(pid: &str) -> Result<ProcSample> {
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).with_context(|| format!("reading /proc/{pid}/stat"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    Ok(ProcSample {
        cpu_seconds: cpu_seconds_from_stat(&stat)?,
        rss_kb: rss_kb_from_status(&status)?,
        at: Instant::now(),
    })
}

/// utime + stime (fields 14 and 15) in seconds. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted after the last `)`.
pub fn cpu_seconds_from_stat(stat: &str) -> Result<f64> {
    let after_comm = stat.rsplit_once(')').map(|(_, rest)| rest).context("no ')' in stat")?;
    // after_comm starts at field 3 (state); utime is field 14 => index 11.
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    if fields.len() < 13 {
        bail!("stat has too few fields");
    }
    let utime: u64 = fields[11].parse().context("utime")?;
    let stime: u64 = fields[12].parse().context("stime")?;
    Ok((utime + stime) as f64 / CLK_TCK)
}

pub fn rss_kb_from_status(status: &str) -> Result<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS in status")?;
    let value = line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim();
    value.parse().context("VmRSS value")
}

/// CPU use between two samples, in percent of one core, and the RSS at the end.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ProcUsage {
    pub cpu_percent: f64,
    pub rss_start_mb: f64,
    pub rss_end_mb: f64,
    pub rss_peak_mb: f64,
}

pub fn usage(start: &ProcSample, end: &ProcSample, peak_rss_kb: u64) -> ProcUsage {
    let wall = end.at.duration_since(start.at).as_secs_f64();
    let cpu = if wall > 0.0 { (end.cpu_seconds - start.cpu_seconds) / wall * 100.0 } else { 0.0 };
    ProcUsage {
        cpu_percent: cpu,
        rss_start_mb: kb_to_mb(start.rss_kb),
        rss_end_mb: kb_to_mb(end.rss_kb),
        rss_peak_mb: kb_to_mb(peak_rss_kb.max(end.rss_kb).max(start.rss_kb)),
    }
}

pub fn kb_to_mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_a_command_name_with_spaces() {
        let stat = "1234 (my (odd) prog) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0";
        assert!((cpu_seconds_from_stat(stat).expect("parses") - 3.0).abs() < 1e-9);
    }

    #[test]
    fn rss_is_read_from_status() {
        let status = "Name:\tmessenger\nVmPeak:\t  99999 kB\nVmRSS:\t   20480 kB\nThreads:\t4\n";
        assert_eq!(rss_kb_from_status(status).expect("parses"), 20480);
    }

    #[test]
    fn own_process_can_be_sampled() {
        let s = sample("self").expect("self is readable");
        assert!(s.rss_kb > 0);
    }

    #[test]
    fn usage_is_percent_of_one_core() {
        let start = ProcSample { cpu_seconds: 1.0, rss_kb: 1024, at: Instant::now() };
        let end = ProcSample { cpu_seconds: 2.5, rss_kb: 2048, at: start.at + std::time::Duration::from_secs(2) };
        let u = usage(&start, &end, 4096);
        assert!((u.cpu_percent - 75.0).abs() < 1e-9);
        assert!((u.rss_end_mb - 2.0).abs() < 1e-9);
        assert!((u.rss_peak_mb - 4.0).abs() < 1e-9);
    }
}
