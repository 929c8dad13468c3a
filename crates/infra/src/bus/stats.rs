//! What an operator watches of the bus: whether it hears the other instances, what it failed to hand
//! them, and what waits to be sent. Counted with relaxed atomic adds on the failure paths only, read at
//! each scrape of the metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

type Depth = Arc<dyn Fn() -> usize + Send + Sync>;

#[derive(Clone)]
pub struct BusStats {
    publish_failures: Arc<AtomicU64>,
    events_dropped: Arc<AtomicU64>,
    link_up: Arc<AtomicBool>,
    queued: Option<Depth>,
}

impl BusStats {
    /// One instance, no link to lose: always up, nothing queued, nothing lost.
    pub fn in_process() -> Self {
        Self {
            publish_failures: Arc::default(),
            events_dropped: Arc::default(),
            link_up: Arc::new(AtomicBool::new(true)),
            queued: None,
        }
    }

    /// A bus whose link is `link_up` and whose queue towards the other instances holds `queued()` events.
    pub(crate) fn linked(link_up: Arc<AtomicBool>, queued: impl Fn() -> usize + Send + Sync + 'static) -> Self {
        Self { link_up, queued: Some(Arc::new(queued)), ..Self::in_process() }
    }

    /// Round trips to Redis that failed or timed out (their events were dropped).
    pub fn publish_failures(&self) -> u64 {
        self.publish_failures.load(Ordering::Relaxed)
    }

    /// Events other instances never got from this one (they were told to resync instead).
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped.load(Ordering::Relaxed)
    }

    /// Whether this instance hears the other instances (subscribed to the channel).
    pub fn link_up(&self) -> bool {
        self.link_up.load(Ordering::Relaxed)
    }

    /// Events waiting to be forwarded to Redis.
    pub fn queued(&self) -> usize {
        self.queued.as_ref().map_or(0, |depth| depth())
    }

    pub(crate) fn publish_failed(&self, events: usize) {
        self.publish_failures.fetch_add(1, Ordering::Relaxed);
        self.dropped(events);
    }

    pub(crate) fn dropped(&self, events: usize) {
        self.events_dropped.fetch_add(u64::try_from(events).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}
