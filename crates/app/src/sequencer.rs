//! Per-chat serialisation of sends inside one process.
//!
//! A send stores the message and hands it to the bus while holding its chat's turn, so that the order
//! in which this instance's connections get a chat's messages is the chat's seq order even when members
//! send at the same moment. (The seq itself comes from the database, which orders concurrent inserts of
//! one chat across instances.) Chats hash onto a fixed set of slots, so memory stays constant and
//! unrelated chats rarely wait for each other.

use std::sync::Arc;

use domain::ChatId;
use tokio::sync::{Mutex, OwnedMutexGuard};

const SLOTS: usize = 1024;

pub(crate) struct ChatSequencer {
    slots: Vec<Arc<Mutex<()>>>,
}

/// A chat's turn; it ends when dropped. Owned, so that a send that outlives its caller's patience keeps it.
pub(crate) type ChatTurn = OwnedMutexGuard<()>;

impl ChatSequencer {
    pub(crate) fn new() -> Self {
        Self { slots: (0..SLOTS).map(|_| Arc::new(Mutex::new(()))).collect() }
    }

    /// Waits for the chat's turn.
    pub(crate) async fn turn(&self, chat: ChatId) -> ChatTurn {
        let slot = usize::try_from(chat.0.rem_euclid(SLOTS as i64)).unwrap_or(0);
        self.slots[slot].clone().lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_chat_has_one_turn_at_a_time_and_other_chats_do_not_wait() {
        let sequencer = ChatSequencer::new();
        let held = sequencer.turn(ChatId(7)).await;
        let same = tokio::time::timeout(Duration::from_millis(20), sequencer.turn(ChatId(7))).await;
        assert!(same.is_err(), "a second turn of chat 7 waits");
        let other = tokio::time::timeout(Duration::from_millis(20), sequencer.turn(ChatId(8))).await;
        assert!(other.is_ok(), "chat 8 does not wait for chat 7");
        drop(held);
        assert!(tokio::time::timeout(Duration::from_millis(20), sequencer.turn(ChatId(7))).await.is_ok());
    }
}
