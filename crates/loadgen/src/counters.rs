//! The counters and histograms every connection task updates, behind one mutex.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use hdrhistogram::Histogram;

use crate::stats::{Track, new_histogram, record_nanos};

/// Wall-clock schedule of a run (unix nanos): only events inside `[measure_start, measure_end)`
/// count towards rates and latency percentiles; everything counts towards correctness.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub measure_start: i64,
    pub measure_end: i64,
}

impl Schedule {
    pub fn in_window(&self, nanos: i64) -> bool {
        nanos >= self.measure_start && nanos < self.measure_end
    }
}

/// Everything the connection tasks report, behind one mutex (uncontended on a 1-thread runtime).
pub struct Shared {
    pub schedule: Schedule,
    pub sent: u64,
    pub acked: u64,
    pub acked_in_window: u64,
    pub duplicate_acks: u64,
    pub errors: BTreeMap<String, u64>,
    pub outstanding: u64,
    pub deliveries: u64,
    pub deliveries_in_window: u64,
    pub duplicate_deliveries: u64,
    pub order_violations: u64,
    pub foreign_frames: u64,
    pub disconnects: u64,
    pub ack_latency: Histogram<u64>,
    pub delivery_latency: Histogram<u64>,
    pub tracks: HashMap<i64, Track>,
    /// Sum of `expected` over acked messages and of their matching receptions, for the drain.
    pub expected_total: u64,
    pub received_total: u64,
}

pub type SharedStats = Arc<Mutex<Shared>>;

impl Shared {
    pub fn new(schedule: Schedule) -> SharedStats {
        Arc::new(Mutex::new(Self {
            schedule,
            sent: 0,
            acked: 0,
            acked_in_window: 0,
            duplicate_acks: 0,
            errors: BTreeMap::new(),
            outstanding: 0,
            deliveries: 0,
            deliveries_in_window: 0,
            duplicate_deliveries: 0,
            order_violations: 0,
            foreign_frames: 0,
            disconnects: 0,
            ack_latency: new_histogram(),
            delivery_latency: new_histogram(),
            tracks: HashMap::new(),
            expected_total: 0,
            received_total: 0,
        }))
    }

    pub fn error(&mut self, code: &str) {
        *self.errors.entry(code.to_owned()).or_default() += 1;
    }

    /// An ack for a message sent at `sent_nanos`, received at `now`.
    pub fn on_ack(&mut self, message_id: i64, expected: u64, sent_nanos: i64, now: i64) {
        self.acked += 1;
        self.outstanding = self.outstanding.saturating_sub(1);
        if self.schedule.in_window(now) {
            self.acked_in_window += 1;
        }
        if self.schedule.in_window(sent_nanos) {
            record_nanos(&mut self.ack_latency, now - sent_nanos);
        }
        let track = self.tracks.entry(message_id).or_default();
        if track.expected.is_none() {
            track.expected = Some(expected);
            self.expected_total += expected;
            self.received_total += track.received.min(expected);
        }
    }

    /// A first-time `message` frame on one connection.
    pub fn on_delivery(&mut self, message_id: i64, sent_nanos: Option<i64>, now: i64) {
        self.deliveries += 1;
        if self.schedule.in_window(now) {
            self.deliveries_in_window += 1;
        }
        if let Some(sent) = sent_nanos.filter(|s| self.schedule.in_window(*s)) {
            record_nanos(&mut self.delivery_latency, now - sent);
        }
        let track = self.tracks.entry(message_id).or_default();
        track.received += 1;
        if track.expected.is_some_and(|e| track.received <= e) {
            self.received_total += 1;
        }
    }

    /// True once nothing more is owed: no send awaits its ack, no acked message awaits a delivery.
    pub fn drained(&self) -> bool {
        self.outstanding == 0 && self.received_total >= self.expected_total
    }
}

pub fn lock(stats: &SharedStats) -> MutexGuard<'_, Shared> {
    // A poisoned lock only means another task panicked mid-update; the counters are still usable.
    stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::delivery_balance;

    fn schedule() -> Schedule {
        Schedule { measure_start: 1_000, measure_end: 1_000_000_000_000 }
    }

    #[test]
    fn drain_completes_when_deliveries_arrive_before_or_after_the_ack() {
        let stats = Shared::new(schedule());
        let mut s = lock(&stats);
        s.outstanding = 2;
        s.on_delivery(7, Some(2_000), 3_000); // before its ack
        s.on_ack(7, 2, 2_000, 4_000);
        assert!(!s.drained());
        s.on_ack(8, 1, 2_000, 4_000);
        s.on_delivery(7, Some(2_000), 5_000);
        assert!(!s.drained());
        s.on_delivery(8, Some(2_000), 5_000);
        assert!(s.drained());
        assert_eq!(delivery_balance(s.tracks.values()).lost, 0);
    }

    #[test]
    fn only_events_inside_the_window_count_towards_rates_and_latency() {
        let stats = Shared::new(Schedule { measure_start: 100, measure_end: 200 });
        let mut s = lock(&stats);
        s.on_ack(1, 0, 50, 150); // sent during warm-up, acked in window
        s.on_ack(2, 0, 150, 160);
        s.on_ack(3, 0, 190, 250); // acked after the window
        assert_eq!(s.acked, 3);
        assert_eq!(s.acked_in_window, 2);
        assert_eq!(s.ack_latency.len(), 2);
    }
}
