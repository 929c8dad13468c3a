//! Changing what was sent: editing a message's text and deleting a message (it stays in history as a
//! tombstone, so that seqs keep no gap). Both advance the chat's version, so `POST /sync` carries them.

use std::sync::Arc;

use domain::chat::{ChatKind, ChatRepository};
use domain::events::{Event, EventBus};
use domain::message::{Message, MessageRepository, MessageText};
use domain::rate_limit::{RateKind, RateLimiter};
use domain::{ChatId, ConnectionId, DomainError, MessageId, UserId};

use crate::membership::ensure_member;

pub struct EditService {
    chats: Arc<dyn ChatRepository>,
    messages: Arc<dyn MessageRepository>,
    bus: Arc<dyn EventBus>,
    limiter: Arc<dyn RateLimiter>,
}

impl EditService {
    pub fn new(
        chats: Arc<dyn ChatRepository>,
        messages: Arc<dyn MessageRepository>,
        bus: Arc<dyn EventBus>,
        limiter: Arc<dyn RateLimiter>,
    ) -> Self {
        Self { chats, messages, bus, limiter }
    }

    /// Replaces the text of one of `editor`'s own messages and tells every member's connections but
    /// `origin` (which gets an `edit_ack` through the same channel).
    ///
    /// # Errors
    /// `InvalidInput` for bad text, `NotFound` for an unknown chat or a message that is not in it (or is
    /// deleted), `Forbidden` for a non-member or someone else's message, `RateLimited` over the send
    /// budget (an edit costs what a send does).
    #[tracing::instrument(skip(self, text), fields(%editor, %chat, %id))]
    pub async fn edit(
        &self,
        editor: UserId,
        chat: ChatId,
        id: MessageId,
        text: &str,
        origin: Option<ConnectionId>,
    ) -> Result<Message, DomainError> {
        let text = MessageText::new(text)?;
        ensure_member(self.chats.as_ref(), chat, editor).await?;
        let original = self.live_message(chat, id).await?;
        if original.sender_id != editor {
            return Err(DomainError::Forbidden("only its sender may edit a message"));
        }
        self.limiter.acquire(editor, RateKind::Send)?;
        // A deletion may have won the race since the look-up: then there is nothing left to edit.
        let edited = self.messages.edit(chat, id, text).await?.ok_or(DomainError::NotFound("message"))?;
        self.bus.publish(Event::MessageEdited { message: edited.clone(), origin });
        Ok(edited)
    }

    /// Deletes a message: its sender may, and so may a group's creator for any message of the group.
    /// Deleting a deleted message changes nothing and tells nobody.
    ///
    /// # Errors
    /// `NotFound` for an unknown chat or a message that is not in it, `Forbidden` for a non-member or
    /// another member's message. (Like other requests, it draws from the request budget at the edge.)
    #[tracing::instrument(skip(self), fields(%deleter, %chat, %id))]
    pub async fn delete(&self, deleter: UserId, chat: ChatId, id: MessageId) -> Result<(), DomainError> {
        ensure_member(self.chats.as_ref(), chat, deleter).await?;
        let message = self.messages.find(chat, id).await?.ok_or(DomainError::NotFound("message"))?;
        if message.deleted {
            return Ok(());
        }
        if message.sender_id != deleter && !self.is_group_creator(chat, deleter).await? {
            return Err(DomainError::Forbidden("only its sender or the group's creator may delete a message"));
        }
        if let Some(tombstone) = self.messages.delete(chat, id).await? {
            self.bus.publish(Event::MessageDeleted { message: tombstone });
        }
        Ok(())
    }

    async fn live_message(&self, chat: ChatId, id: MessageId) -> Result<Message, DomainError> {
        match self.messages.find(chat, id).await? {
            Some(message) if !message.deleted => Ok(message),
            _ => Err(DomainError::NotFound("message")),
        }
    }

    async fn is_group_creator(&self, chat: ChatId, user: UserId) -> Result<bool, DomainError> {
        let chat = self.chats.find(chat).await?.ok_or(DomainError::NotFound("chat"))?;
        Ok(chat.kind == ChatKind::Group && chat.creator_id == Some(user))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use domain::chat::{Chat, MockChatRepository};
    use domain::events::MockEventBus;
    use domain::message::MockMessageRepository;
    use domain::rate_limit::MockRateLimiter;

    use super::*;

    fn message(sender: i64, deleted: bool) -> Message {
        Message {
            id: MessageId(10),
            chat_id: ChatId(5),
            sender_id: UserId(sender),
            text: if deleted { String::new() } else { "hi".into() },
            seq: 3,
            version: 7,
            timestamp: Utc::now(),
            read: false,
            client_id: None,
            edited_at: None,
            deleted,
            reply_to: None,
        }
    }

    fn members(ids: Vec<i64>) -> MockChatRepository {
        let mut chats = MockChatRepository::new();
        chats.expect_member_ids().returning(move |_| Ok(Some(ids.iter().copied().map(UserId).collect())));
        chats
    }

    fn group_created_by(creator: i64) -> MockChatRepository {
        let mut chats = members(vec![1, 2, 3]);
        chats.expect_find().returning(move |id| {
            Ok(Some(Chat {
                id,
                kind: ChatKind::Group,
                name: "g".into(),
                creator_id: Some(UserId(creator)),
                members: Vec::new(),
            }))
        });
        chats
    }

    fn open_limiter() -> MockRateLimiter {
        let mut limiter = MockRateLimiter::new();
        limiter.expect_acquire().returning(|_, _| Ok(()));
        limiter
    }

    fn service(chats: MockChatRepository, messages: MockMessageRepository, bus: MockEventBus) -> EditService {
        EditService::new(Arc::new(chats), Arc::new(messages), Arc::new(bus), Arc::new(open_limiter()))
    }

    #[tokio::test]
    async fn the_sender_edits_and_every_member_hears_of_it() {
        let mut messages = MockMessageRepository::new();
        messages.expect_find().returning(|_, _| Ok(Some(message(1, false))));
        messages.expect_edit().withf(|_, _, text| text.as_str() == "fixed").times(1).returning(|_, _, _| {
            Ok(Some(Message { text: "fixed".into(), edited_at: Some(Utc::now()), version: 8, ..message(1, false) }))
        });
        let mut bus = MockEventBus::new();
        bus.expect_publish()
            .withf(|e| matches!(e, Event::MessageEdited { message, .. } if message.version == 8))
            .times(1)
            .return_const(());
        let edited =
            service(members(vec![1, 2]), messages, bus).edit(UserId(1), ChatId(5), MessageId(10), "fixed", None).await;
        assert_eq!(edited.map(|m| m.text).ok().as_deref(), Some("fixed"));
    }

    #[tokio::test]
    async fn nobody_edits_another_members_message_or_a_deleted_one() {
        let edit = |found: Message| async move {
            let mut messages = MockMessageRepository::new();
            messages.expect_find().returning(move |_, _| Ok(Some(found.clone())));
            service(members(vec![1, 2]), messages, MockEventBus::new())
                .edit(UserId(1), ChatId(5), MessageId(10), "fixed", None)
                .await
        };
        assert!(matches!(edit(message(2, false)).await, Err(DomainError::Forbidden(_))));
        assert!(matches!(edit(message(1, true)).await, Err(DomainError::NotFound("message"))));
    }

    #[tokio::test]
    async fn a_groups_creator_deletes_any_message_and_a_second_delete_tells_nobody() {
        let mut messages = MockMessageRepository::new();
        messages.expect_find().times(1).returning(|_, _| Ok(Some(message(2, false))));
        messages.expect_delete().times(1).returning(|_, _| Ok(Some(message(2, true))));
        let mut bus = MockEventBus::new();
        bus.expect_publish().withf(|e| matches!(e, Event::MessageDeleted { .. })).times(1).return_const(());
        let deleted = service(group_created_by(1), messages, bus).delete(UserId(1), ChatId(5), MessageId(10)).await;
        assert!(deleted.is_ok(), "{deleted:?}");

        let mut again = MockMessageRepository::new();
        again.expect_find().returning(|_, _| Ok(Some(message(2, true))));
        let repeated =
            service(group_created_by(1), again, MockEventBus::new()).delete(UserId(1), ChatId(5), MessageId(10)).await;
        assert!(repeated.is_ok(), "{repeated:?}");
    }

    #[tokio::test]
    async fn another_member_cannot_delete_and_a_lost_race_tells_nobody() {
        let mut messages = MockMessageRepository::new();
        messages.expect_find().returning(|_, _| Ok(Some(message(2, false))));
        let refused = service(group_created_by(2), messages, MockEventBus::new())
            .delete(UserId(3), ChatId(5), MessageId(10))
            .await;
        assert!(matches!(refused, Err(DomainError::Forbidden(_))), "{refused:?}");

        let mut raced = MockMessageRepository::new();
        raced.expect_find().returning(|_, _| Ok(Some(message(3, false))));
        raced.expect_delete().returning(|_, _| Ok(None));
        let outcome =
            service(members(vec![1, 3]), raced, MockEventBus::new()).delete(UserId(3), ChatId(5), MessageId(10)).await;
        assert!(outcome.is_ok(), "{outcome:?}");
    }
}
