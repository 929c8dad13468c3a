//! What the real-time path counts: sends and their outcomes, frames delivered and dropped, slow
//! consumers, and how long a send takes to be acknowledged and fanned out.
//!
//! Every series is resolved once, when the server starts: recording is one atomic add (a counter) or a
//! few (a histogram), with no lookup, lock or allocation per frame.

use std::time::Instant;

use app::SendOutcome;
use chrono::{DateTime, Utc};
use domain::DomainError;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

/// Seconds, from half a millisecond to the send timeout and past it.
pub const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// `messenger_sends_total{transport, outcome}`: the family both transports record into.
pub fn sends_family() -> IntCounterVec {
    IntCounterVec::new(
        Opts::new("messenger_sends_total", "Sends by transport (ws, rest) and outcome"),
        &["transport", "outcome"],
    )
    .expect("a constant, valid metric name")
}

/// The outcomes of one transport's sends.
pub struct SendOutcomes {
    stored: IntCounter,
    duplicate: IntCounter,
    rate_limited: IntCounter,
    unavailable: IntCounter,
    /// Refused for what the client sent: invalid, forbidden, unknown chat, a reused client id.
    rejected: IntCounter,
    /// A bug or an unexpected failure (answered 500 / `internal`).
    failed: IntCounter,
}

impl SendOutcomes {
    pub fn of(family: &IntCounterVec, transport: &str) -> Self {
        let outcome = |name: &str| family.with_label_values(&[transport, name]);
        Self {
            stored: outcome("stored"),
            duplicate: outcome("duplicate"),
            rate_limited: outcome("rate_limited"),
            unavailable: outcome("unavailable"),
            rejected: outcome("rejected"),
            failed: outcome("failed"),
        }
    }

    pub fn record(&self, result: &Result<SendOutcome, DomainError>) {
        let counter = match result {
            Ok(outcome) if outcome.duplicate => &self.duplicate,
            Ok(_) => &self.stored,
            Err(DomainError::RateLimited { .. }) => &self.rate_limited,
            Err(DomainError::Unavailable { .. }) => &self.unavailable,
            Err(DomainError::Unexpected(_)) => &self.failed,
            Err(_) => &self.rejected,
        };
        counter.inc();
    }
}

fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::new(name, help).expect("a constant, valid metric name")
}

fn histogram(name: &str, help: &str) -> Histogram {
    Histogram::with_opts(HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()))
        .expect("a constant, valid metric name and increasing buckets")
}

pub struct WsMetrics {
    pub sends: SendOutcomes,
    frames_delivered: IntCounter,
    /// `{kind="optional"}` (typing, simply lost) and `{kind="required"}` (its connection is closed).
    frames_dropped: IntCounterVec,
    optional_frames_dropped: IntCounter,
    required_frames_dropped: IntCounter,
    slow_consumers_closed: IntCounter,
    send_ack: Histogram,
    fanout: Histogram,
}

impl WsMetrics {
    /// Series of their own, registered nowhere (a hub in a unit test).
    pub fn detached() -> Self {
        Self::new(&sends_family())
    }

    pub fn new(sends: &IntCounterVec) -> Self {
        let frames_dropped = IntCounterVec::new(
            Opts::new(
                "messenger_ws_frames_dropped_total",
                "Frames dropped because a connection's queue was full: kind=optional (typing, simply lost) or \
                 required (the connection is closed with 1013 and resyncs)",
            ),
            &["kind"],
        )
        .expect("a constant, valid metric name");
        Self {
            sends: SendOutcomes::of(sends, "ws"),
            frames_delivered: counter("messenger_ws_frames_delivered_total", "Frames written to WebSocket connections"),
            optional_frames_dropped: frames_dropped.with_label_values(&["optional"]),
            required_frames_dropped: frames_dropped.with_label_values(&["required"]),
            frames_dropped,
            slow_consumers_closed: counter(
                "messenger_ws_slow_consumers_closed_total",
                "Connections closed with 1013 because they did not read their frames",
            ),
            send_ack: histogram(
                "messenger_ws_send_ack_seconds",
                "From reading a send frame to queueing its ack (the message stored), in seconds",
            ),
            fanout: histogram(
                "messenger_delivery_fanout_seconds",
                "From a message's stored timestamp to its frames queued for this instance's connections, in seconds",
            ),
        }
    }

    /// # Errors
    /// When a series of the same name is registered already.
    pub fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.frames_delivered.clone()))?;
        registry.register(Box::new(self.frames_dropped.clone()))?;
        registry.register(Box::new(self.slow_consumers_closed.clone()))?;
        registry.register(Box::new(self.send_ack.clone()))?;
        registry.register(Box::new(self.fanout.clone()))
    }

    pub fn frame_delivered(&self) {
        self.frames_delivered.inc();
    }

    pub fn optional_frame_dropped(&self) {
        self.optional_frames_dropped.inc();
    }

    pub fn required_frame_dropped(&self) {
        self.required_frames_dropped.inc();
    }

    pub fn slow_consumer_closed(&self) {
        self.slow_consumers_closed.inc();
    }

    /// A send frame read at `started` was answered with `result`; a stored or repeated message has had
    /// its ack queued by now.
    pub fn send_answered(&self, started: Instant, result: &Result<SendOutcome, DomainError>) {
        if result.is_ok() {
            self.send_ack.observe(started.elapsed().as_secs_f64());
        }
        self.sends.record(result);
    }

    /// A message stamped at `stamped` (the database's clock) has just been queued for every connection
    /// of this instance that gets it. A clock behind the database's counts as no delay.
    pub fn fanned_out(&self, stamped: DateTime<Utc>) {
        let delay = (Utc::now() - stamped).to_std().unwrap_or_default();
        self.fanout.observe(delay.as_secs_f64());
    }
}
