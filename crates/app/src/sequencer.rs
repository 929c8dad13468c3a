//! Per-chat serialisation of sends inside one process.
//!
//! A send stores the message and publishes it while holding its chat's slot, so that ids, timestamps and
//! the order in which events reach connections all agree: every connection gets a chat's messages in
//! history order even when members send at the same moment. Chats hash onto a fixed set of slots, so
//! memory stays constant and unrelated chats rarely wait for each other.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use domain::ChatId;
use tokio::sync::{Mutex, MutexGuard};

const SLOTS: usize = 1024;

pub(crate) struct ChatSequencer {
    slots: Vec<Mutex<DateTime<Utc>>>,
}

pub(crate) struct ChatTurn<'a> {
    last_timestamp: MutexGuard<'a, DateTime<Utc>>,
}

impl ChatSequencer {
    pub(crate) fn new() -> Self {
        Self { slots: (0..SLOTS).map(|_| Mutex::new(DateTime::<Utc>::MIN_UTC)).collect() }
    }

    /// Waits for the chat's turn; the turn ends when the returned guard is dropped.
    pub(crate) async fn turn(&self, chat: ChatId) -> ChatTurn<'_> {
        let slot = usize::try_from(chat.0.rem_euclid(SLOTS as i64)).unwrap_or(0);
        ChatTurn { last_timestamp: self.slots[slot].lock().await }
    }
}

impl ChatTurn<'_> {
    /// Now, at the microsecond precision the store keeps, and strictly after the previous timestamp
    /// handed out for this slot even if the wall clock stepped back.
    pub(crate) fn next_timestamp(&mut self) -> DateTime<Utc> {
        let micro = TimeDelta::microseconds(1);
        let now = Utc::now().duration_trunc(micro).unwrap_or_else(|_| Utc::now());
        let next = now.max(*self.last_timestamp + micro);
        *self.last_timestamp = next;
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn timestamps_of_a_chat_strictly_increase() {
        let sequencer = ChatSequencer::new();
        let mut previous = DateTime::<Utc>::MIN_UTC;
        for _ in 0..1000 {
            let next = sequencer.turn(ChatId(7)).await.next_timestamp();
            assert!(next > previous);
            assert_eq!(next.timestamp_subsec_nanos() % 1000, 0);
            previous = next;
        }
    }
}
