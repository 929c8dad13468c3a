use std::sync::{Arc, RwLock};

use domain::events::{Event, EventBus, EventSink};

/// Hands each event to every sink on the publisher's task, so events published one after another
/// arrive in that order and nothing is buffered here.
#[derive(Default)]
pub struct InProcessBus {
    sinks: RwLock<Vec<Arc<dyn EventSink>>>,
}

impl InProcessBus {
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn deliver_locally(&self, event: &Event) {
        self.each_sink(|sink| sink.deliver(event));
    }

    /// Tells every sink whether events from other instances are reaching this one.
    pub(crate) fn announce_link(&self, up: bool) {
        self.each_sink(|sink| if up { sink.link_restored() } else { sink.link_lost() });
    }

    /// Tells every sink that events from other instances were lost although the link is up.
    pub(crate) fn announce_missed(&self) {
        self.each_sink(|sink| sink.events_missed());
    }

    fn each_sink(&self, f: impl Fn(&dyn EventSink)) {
        let sinks = self.sinks.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        sinks.iter().for_each(|sink| f(sink.as_ref()));
    }
}

impl EventBus for InProcessBus {
    fn publish(&self, event: Event) {
        self.deliver_locally(&event);
    }

    fn subscribe(&self, sink: Arc<dyn EventSink>) {
        match self.sinks.write() {
            Ok(mut sinks) => sinks.push(sink),
            Err(poisoned) => poisoned.into_inner().push(sink),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use domain::ChatId;

    use super::*;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Event>>);

    impl EventSink for Recorder {
        fn deliver(&self, event: &Event) {
            if let Ok(mut events) = self.0.lock() {
                events.push(event.clone());
            }
        }
    }

    #[tokio::test]
    async fn every_sink_gets_every_event_in_order() {
        let bus = InProcessBus::new();
        let (a, b) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
        bus.subscribe(a.clone());
        bus.subscribe(b.clone());
        for chat in 1..=3 {
            bus.publish(Event::MembersChanged {
                chat_id: ChatId(chat),
                joined: Vec::new(),
                left: Vec::new(),
                member_count: 0,
            });
        }
        for recorder in [a, b] {
            let events = recorder.0.lock().map(|e| e.clone()).unwrap_or_default();
            let chats: Vec<_> = events
                .iter()
                .filter_map(|e| match e {
                    Event::MembersChanged { chat_id, .. } => Some(chat_id.0),
                    _ => None,
                })
                .collect();
            assert_eq!(chats, [1, 2, 3]);
        }
    }
}
