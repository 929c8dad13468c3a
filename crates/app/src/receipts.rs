//! Read pointers and "read by everybody" notifications.

use std::sync::Arc;

use domain::chat::ChatRepository;
use domain::events::{Event, EventBus};
use domain::message::{MessageRepository, ReadByAll, ReceiptRepository};
use domain::{ChatId, ConnectionId, DomainError, MessageId, UserId};

use crate::membership::ensure_member;

pub struct ReceiptService {
    chats: Arc<dyn ChatRepository>,
    messages: Arc<dyn MessageRepository>,
    receipts: Arc<dyn ReceiptRepository>,
    bus: Arc<dyn EventBus>,
}

impl ReceiptService {
    pub fn new(
        chats: Arc<dyn ChatRepository>,
        messages: Arc<dyn MessageRepository>,
        receipts: Arc<dyn ReceiptRepository>,
        bus: Arc<dyn EventBus>,
    ) -> Self {
        Self { chats, messages, receipts, bus }
    }

    /// `reader` has read every message of `chat` up to `up_to`. Moves its pointer forward (never back),
    /// tells the other members and devices, and tells each sender whose messages became read by all.
    /// Returns whether the pointer moved.
    ///
    /// # Errors
    /// `NotFound` for an unknown chat or a message not in this chat, `Forbidden` for a non-member.
    #[tracing::instrument(skip(self), fields(%reader, %chat, %up_to))]
    pub async fn mark_read(
        &self,
        reader: UserId,
        chat: ChatId,
        up_to: MessageId,
        origin: Option<ConnectionId>,
    ) -> Result<bool, DomainError> {
        ensure_member(self.chats.as_ref(), chat, reader).await?;
        if self.messages.chat_of(up_to).await? != Some(chat) {
            return Err(DomainError::NotFound("message"));
        }
        if !self.receipts.advance_read_pointer(chat, reader, up_to).await? {
            return Ok(false);
        }
        let advanced = Event::ReadAdvanced { chat_id: chat, reader_id: reader, message_id: up_to, origin };
        self.bus.publish(advanced);
        let flipped = self.receipts.mark_read_by_all(chat, Some(up_to)).await?;
        publish_read_by_all(self.bus.as_ref(), flipped);
        Ok(true)
    }
}

/// One `ReadByAll` event per affected sender.
pub(crate) fn publish_read_by_all(bus: &dyn EventBus, flipped: Vec<ReadByAll>) {
    for read in flipped {
        bus.publish(Event::ReadByAll(read));
    }
}

#[cfg(test)]
mod tests {
    use domain::chat::MockChatRepository;
    use domain::events::MockEventBus;
    use domain::message::{MockMessageRepository, MockReceiptRepository};

    use super::*;

    fn chats() -> MockChatRepository {
        let mut chats = MockChatRepository::new();
        chats.expect_member_ids().returning(|_| Ok(Some(vec![UserId(1), UserId(2), UserId(3)])));
        chats
    }

    fn messages_in(chat: i64) -> MockMessageRepository {
        let mut messages = MockMessageRepository::new();
        messages.expect_chat_of().returning(move |_| Ok(Some(ChatId(chat))));
        messages
    }

    fn service(messages: MockMessageRepository, receipts: MockReceiptRepository, bus: MockEventBus) -> ReceiptService {
        ReceiptService::new(Arc::new(chats()), Arc::new(messages), Arc::new(receipts), Arc::new(bus))
    }

    #[tokio::test]
    async fn advancing_the_pointer_tells_members_and_each_sender_whose_messages_became_read() {
        let mut receipts = MockReceiptRepository::new();
        receipts.expect_advance_read_pointer().returning(|_, _, _| Ok(true));
        receipts.expect_mark_read_by_all().withf(|c, up| *c == ChatId(9) && *up == Some(MessageId(42))).returning(
            |c, _| {
                Ok(vec![
                    ReadByAll { chat_id: c, sender_id: UserId(1), up_to: MessageId(42) },
                    ReadByAll { chat_id: c, sender_id: UserId(3), up_to: MessageId(40) },
                ])
            },
        );
        let mut bus = MockEventBus::new();
        bus.expect_publish()
            .withf(|e| matches!(e, Event::ReadAdvanced { reader_id: UserId(2), .. }))
            .times(1)
            .return_const(());
        bus.expect_publish().withf(|e| matches!(e, Event::ReadByAll(_))).times(2).return_const(());
        let moved = service(messages_in(9), receipts, bus).mark_read(UserId(2), ChatId(9), MessageId(42), None).await;
        assert_eq!(moved.ok(), Some(true));
    }

    #[tokio::test]
    async fn a_pointer_that_does_not_move_publishes_nothing() {
        let mut receipts = MockReceiptRepository::new();
        receipts.expect_advance_read_pointer().returning(|_, _, _| Ok(false));
        let moved = service(messages_in(9), receipts, MockEventBus::new())
            .mark_read(UserId(2), ChatId(9), MessageId(42), None)
            .await;
        assert_eq!(moved.ok(), Some(false));
    }

    #[tokio::test]
    async fn a_message_of_another_chat_is_not_found() {
        let moved = service(messages_in(8), MockReceiptRepository::new(), MockEventBus::new())
            .mark_read(UserId(2), ChatId(9), MessageId(42), None)
            .await;
        assert!(matches!(moved, Err(DomainError::NotFound("message"))));
    }

    #[tokio::test]
    async fn a_non_member_cannot_mark_read() {
        let moved = service(MockMessageRepository::new(), MockReceiptRepository::new(), MockEventBus::new())
            .mark_read(UserId(4), ChatId(9), MessageId(42), None)
            .await;
        assert!(matches!(moved, Err(DomainError::Forbidden(_))));
    }
}
