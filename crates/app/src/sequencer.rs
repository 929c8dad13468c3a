//! Per-chat turns of sends inside one process, where each turn stores every send waiting for it.
//!
//! A chat's sends are stored and handed to the bus one group at a time, so that the order in which this
//! instance's connections get a chat's messages is the chat's seq order even when members send at the
//! same moment. (The seq itself comes from the database, which orders concurrent inserts of one chat
//! across instances.) Whoever finds its chat's lane idle leads it: it takes everything queued there —
//! one statement for all of them — and goes on until the lane is empty, so a busy chat pays one round
//! trip per group of sends instead of one per send. Chats hash onto a fixed set of lanes, so memory stays
//! constant; chats that share a lane share its statements too.

use std::sync::{Mutex, MutexGuard, PoisonError};

use domain::ChatId;

const LANES: usize = 1024;

pub(crate) struct ChatLanes<T> {
    lanes: Vec<Mutex<Lane<T>>>,
}

struct Lane<T> {
    waiting: Vec<T>,
    led: bool,
}

/// The lane its holder leads: it must take batches with [`ChatLanes::next_batch`] until there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Leading(usize);

impl<T> ChatLanes<T> {
    pub(crate) fn new() -> Self {
        Self { lanes: (0..LANES).map(|_| Mutex::new(Lane { waiting: Vec::new(), led: false })).collect() }
    }

    /// Queues `item` in its chat's lane; `Some` when the lane had no leader and the caller now leads it.
    pub(crate) fn enqueue(&self, chat: ChatId, item: T) -> Option<Leading> {
        let index = usize::try_from(chat.0.rem_euclid(LANES as i64)).unwrap_or(0);
        let mut lane = self.lane(index);
        lane.waiting.push(item);
        if lane.led {
            None
        } else {
            lane.led = true;
            Some(Leading(index))
        }
    }

    /// Up to `max` of the items waiting in the led lane, oldest first; `None` (and the lane is free
    /// again) when nothing waits.
    pub(crate) fn next_batch(&self, leading: Leading, max: usize) -> Option<Vec<T>> {
        let mut lane = self.lane(leading.0);
        if lane.waiting.is_empty() {
            lane.led = false;
            return None;
        }
        let take = lane.waiting.len().min(max.max(1));
        Some(lane.waiting.drain(..take).collect())
    }

    /// How many items wait in the led lane (for tests that need sends queued before they go on).
    #[cfg(test)]
    pub(crate) fn waiting(&self, leading: Leading) -> usize {
        self.lane(leading.0).waiting.len()
    }

    fn lane(&self, index: usize) -> MutexGuard<'_, Lane<T>> {
        self.lanes[index].lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_to_queue_leads_and_takes_what_others_queued_meanwhile() {
        let lanes = ChatLanes::new();
        let leading = lanes.enqueue(ChatId(7), "a").expect("an idle lane is led by the first");
        assert_eq!(lanes.enqueue(ChatId(7), "b"), None, "a led lane is not led twice");
        assert_eq!(lanes.enqueue(ChatId(7), "c"), None);
        assert!(lanes.enqueue(ChatId(8), "x").is_some(), "another chat has its own lane");
        assert_eq!(lanes.next_batch(leading, 2), Some(vec!["a", "b"]));
        assert_eq!(lanes.next_batch(leading, 2), Some(vec!["c"]));
        assert_eq!(lanes.next_batch(leading, 2), None);
        assert!(lanes.enqueue(ChatId(7), "d").is_some(), "a drained lane is free again");
    }
}
