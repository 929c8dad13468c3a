//! Pure measurement helpers: latency histograms and their summaries, the expected fan-out,
//! send-timestamp texts, and the delivery balance.

use std::time::{SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies are recorded in microseconds, from 1 µs to 10 minutes, 3 significant digits.
const HIST_MAX_US: u64 = 600_000_000;

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("static histogram bounds are valid")
}

/// Records a latency given in nanoseconds (negative values, from clock noise, count as 1 µs).
pub fn record_nanos(hist: &mut Histogram<u64>, nanos: i64) {
    let micros = u64::try_from(nanos / 1_000).unwrap_or(0).max(1);
    hist.saturating_record(micros);
}

pub fn now_nanos() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// The text of every generated message: `lg <intended unix nanos> <sender seq>`.
pub fn message_text(sent_nanos: i64, seq: u64) -> String {
    format!("lg {sent_nanos} {seq}")
}

/// Extracts the intended send time from a generated message text; `None` for foreign texts.
pub fn parse_sent_nanos(text: &str) -> Option<i64> {
    let rest = text.strip_prefix("lg ")?;
    let stamp = rest.split(' ').next()?;
    stamp.parse().ok()
}

/// How many `message` frames one acked message must produce: every device of every other
/// member, plus the sender's own other devices (the sending connection gets only the ack).
pub fn expected_deliveries(members: usize, devices: usize) -> u64 {
    let others = members.saturating_sub(1) * devices;
    let own_other_devices = devices.saturating_sub(1);
    (others + own_other_devices) as u64
}

/// Percentiles of a histogram in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl LatencySummary {
    pub fn from_histogram(hist: &Histogram<u64>) -> Self {
        if hist.is_empty() {
            return Self::default();
        }
        let ms = |us: u64| us as f64 / 1_000.0;
        Self {
            count: hist.len(),
            p50_ms: ms(hist.value_at_quantile(0.50)),
            p90_ms: ms(hist.value_at_quantile(0.90)),
            p95_ms: ms(hist.value_at_quantile(0.95)),
            p99_ms: ms(hist.value_at_quantile(0.99)),
            max_ms: ms(hist.max()),
            mean_ms: hist.mean() / 1_000.0,
        }
    }
}

/// Expected and observed deliveries of one message id.
#[derive(Debug, Default, Clone, Copy)]
pub struct Track {
    /// `None` until the sender's ack arrives (a delivery may beat the ack).
    pub expected: Option<u64>,
    pub received: u64,
}

/// Losses (expected but never received) and surplus (received more often than expected, on
/// distinct connections) over all tracked messages, plus deliveries of never-acked messages.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeliveryBalance {
    pub expected: u64,
    pub received: u64,
    pub lost: u64,
    pub surplus: u64,
    pub unacked_received: u64,
}

pub fn delivery_balance<'a>(tracks: impl IntoIterator<Item = &'a Track>) -> DeliveryBalance {
    let mut b = DeliveryBalance::default();
    for t in tracks {
        match t.expected {
            Some(e) => {
                b.expected += e;
                b.received += t.received;
                b.lost += e.saturating_sub(t.received);
                b.surplus += t.received.saturating_sub(e);
            }
            None => b.unacked_received += t.received,
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_deliveries_counts_other_members_devices_and_own_other_devices() {
        assert_eq!(expected_deliveries(4, 1), 3);
        assert_eq!(expected_deliveries(4, 2), 7);
        assert_eq!(expected_deliveries(2, 3), 5);
        assert_eq!(expected_deliveries(1, 1), 0);
        assert_eq!(expected_deliveries(0, 0), 0);
    }

    #[test]
    fn message_text_round_trips_its_timestamp() {
        let text = message_text(1_700_000_000_123_456_789, 42);
        assert_eq!(text, "lg 1700000000123456789 42");
        assert_eq!(parse_sent_nanos(&text), Some(1_700_000_000_123_456_789));
    }

    #[test]
    fn foreign_texts_have_no_timestamp() {
        assert_eq!(parse_sent_nanos("hello"), None);
        assert_eq!(parse_sent_nanos("lg notanumber 1"), None);
        assert_eq!(parse_sent_nanos("lg "), None);
    }

    #[test]
    fn summary_reports_percentiles_in_milliseconds() {
        let mut h = new_histogram();
        for ms in 1..=100_i64 {
            record_nanos(&mut h, ms * 1_000_000);
        }
        let s = LatencySummary::from_histogram(&h);
        assert_eq!(s.count, 100);
        assert!((s.p50_ms - 50.0).abs() < 0.1, "{s:?}");
        assert!((s.p99_ms - 99.0).abs() < 0.1, "{s:?}");
        assert!((s.max_ms - 100.0).abs() < 0.1, "{s:?}");
    }

    #[test]
    fn empty_histogram_summarises_to_zeros() {
        assert_eq!(LatencySummary::from_histogram(&new_histogram()), LatencySummary::default());
    }

    #[test]
    fn negative_latency_is_clamped_to_one_microsecond() {
        let mut h = new_histogram();
        record_nanos(&mut h, -5_000);
        assert_eq!(h.min(), 1);
    }

    #[test]
    fn balance_counts_losses_surplus_and_unacked() {
        let tracks = [
            Track { expected: Some(3), received: 3 },
            Track { expected: Some(3), received: 1 },
            Track { expected: Some(2), received: 4 },
            Track { expected: None, received: 5 },
        ];
        let b = delivery_balance(&tracks);
        assert_eq!(b, DeliveryBalance { expected: 8, received: 8, lost: 2, surplus: 2, unacked_received: 5 });
    }
}
