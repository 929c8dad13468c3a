//! Catching up in one request: everything that changed in the caller's chats since the versions it holds.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use domain::chat::{ChatRepository, ChatSummary};
use domain::message::{Message, MessageRepository};
use domain::{ChatId, DomainError, UserId};

/// Changed messages per chat and answer at most; `more` tells the client to ask again.
pub const SYNC_PAGE: u32 = 200;
/// The newest messages sent for a chat the client did not list (older ones through history).
pub const NEW_CHAT_PAGE: u32 = 50;
/// Chats one request may list.
pub const MAX_LISTED_CHATS: usize = 10_000;

/// One changed chat: its summary as it is now, and its messages changed since the version held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatChanges {
    pub summary: ChatSummary,
    /// Ascending by version; for a chat the client did not list, its newest messages by seq.
    pub messages: Vec<Message>,
    /// More changed messages wait: ask again holding the last message's version.
    pub more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncAnswer {
    /// Chats whose version is above the one held, or that were not listed; most recent activity first.
    pub chats: Vec<ChatChanges>,
    /// Listed chats the caller no longer belongs to (or that no longer exist), ascending.
    pub removed: Vec<ChatId>,
}

pub struct SyncService {
    chats: Arc<dyn ChatRepository>,
    messages: Arc<dyn MessageRepository>,
}

impl SyncService {
    pub fn new(chats: Arc<dyn ChatRepository>, messages: Arc<dyn MessageRepository>) -> Self {
        Self { chats, messages }
    }

    /// What changed in `user`'s chats since the versions in `held` (chat → version the client holds).
    ///
    /// Each summary is read before its messages: a change committed in between then shows up in the
    /// messages (and again at the next sync, harmlessly), never in the summary's version alone, which
    /// would make the client skip it.
    ///
    /// # Errors
    /// `InvalidInput` for a negative version or too many listed chats.
    #[tracing::instrument(skip(self, held), fields(%user, listed = held.len()))]
    pub async fn sync(&self, user: UserId, held: &HashMap<ChatId, i64>) -> Result<SyncAnswer, DomainError> {
        if held.len() > MAX_LISTED_CHATS {
            return Err(DomainError::invalid(format!("list at most {MAX_LISTED_CHATS} chats")));
        }
        if held.values().any(|version| *version < 0) {
            return Err(DomainError::invalid("versions must not be negative"));
        }
        let current = self.chats.versions_for_user(user).await?;
        let mine: BTreeSet<ChatId> = current.iter().map(|(chat, _)| *chat).collect();
        let removed = held.keys().filter(|chat| !mine.contains(chat)).copied().collect::<BTreeSet<_>>();
        let changed: Vec<ChatId> = current
            .iter()
            .filter(|(chat, version)| held.get(chat).is_none_or(|held| held < version))
            .map(|(chat, _)| *chat)
            .collect();
        if changed.is_empty() {
            return Ok(SyncAnswer { chats: Vec::new(), removed: removed.into_iter().collect() });
        }
        let summaries = self.chats.summaries_of(user, changed.clone()).await?;
        let unlisted: Vec<ChatId> = changed.into_iter().filter(|chat| !held.contains_key(chat)).collect();
        let mut newest: HashMap<ChatId, Vec<Message>> = HashMap::new();
        if !unlisted.is_empty() {
            for message in self.messages.newest_of(unlisted, NEW_CHAT_PAGE).await? {
                newest.entry(message.chat_id).or_default().push(message);
            }
        }
        let mut chats = Vec::with_capacity(summaries.len());
        for summary in summaries {
            let chat = summary.chat.id;
            let (messages, more) = match held.get(&chat) {
                Some(version) => {
                    let mut page = self.messages.changed_since(chat, *version, SYNC_PAGE + 1).await?;
                    let more = page.len() > SYNC_PAGE as usize;
                    page.truncate(SYNC_PAGE as usize);
                    (page, more)
                }
                None => (newest.remove(&chat).unwrap_or_default(), false),
            };
            chats.push(ChatChanges { summary, messages, more });
        }
        Ok(SyncAnswer { chats, removed: removed.into_iter().collect() })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use domain::MessageId;
    use domain::chat::{Chat, ChatKind, MockChatRepository};
    use domain::message::MockMessageRepository;

    use super::*;

    fn summary(chat: i64, version: i64) -> ChatSummary {
        ChatSummary {
            chat: Chat { id: ChatId(chat), kind: ChatKind::Group, name: "g".into(), creator_id: None, members: vec![] },
            last_message: None,
            unread_count: 0,
            last_seq: version,
            version,
        }
    }

    fn message(chat: i64, seq: i64) -> Message {
        Message {
            id: MessageId(chat * 1000 + seq),
            chat_id: ChatId(chat),
            sender_id: UserId(1),
            text: "hi".into(),
            seq,
            version: seq,
            timestamp: Utc::now(),
            read: false,
            client_id: None,
            edited_at: None,
            deleted: false,
            reply_to: None,
        }
    }

    /// The user is in chats 1 (version 5), 2 (version 9) and 3 (version 1).
    fn chats() -> MockChatRepository {
        let mut chats = MockChatRepository::new();
        chats.expect_versions_for_user().returning(|_| Ok(vec![(ChatId(1), 5), (ChatId(2), 9), (ChatId(3), 1)]));
        chats.expect_summaries_of().returning(|_, wanted| {
            let versions = HashMap::from([(1, 5), (2, 9), (3, 1)]);
            Ok(wanted.iter().map(|c| summary(c.0, versions[&c.0])).collect())
        });
        chats
    }

    #[tokio::test]
    async fn only_changed_unlisted_and_removed_chats_are_answered() -> Result<(), DomainError> {
        let mut messages = MockMessageRepository::new();
        messages
            .expect_changed_since()
            .withf(|chat, version, limit| *chat == ChatId(2) && *version == 7 && *limit == SYNC_PAGE + 1)
            .returning(|_, _, _| Ok(vec![message(2, 8), message(2, 9)]));
        messages
            .expect_newest_of()
            .withf(|chats, per_chat| chats == &[ChatId(3)] && *per_chat == NEW_CHAT_PAGE)
            .returning(|_, _| Ok(vec![message(3, 1)]));
        let held = HashMap::from([(ChatId(1), 5), (ChatId(2), 7), (ChatId(40), 3)]);
        let answer = SyncService::new(Arc::new(chats()), Arc::new(messages)).sync(UserId(1), &held).await?;
        let got: Vec<_> = answer.chats.iter().map(|c| (c.summary.chat.id.0, c.messages.len(), c.more)).collect();
        assert_eq!(got, [(2, 2, false), (3, 1, false)]);
        assert_eq!(answer.removed, [ChatId(40)]);
        Ok(())
    }

    #[tokio::test]
    async fn a_long_gap_is_paged_with_more() -> Result<(), DomainError> {
        let mut messages = MockMessageRepository::new();
        messages
            .expect_changed_since()
            .returning(|chat, _, limit| Ok((1..=i64::from(limit)).map(|s| message(chat.0, s)).collect()));
        let held = HashMap::from([(ChatId(1), 0), (ChatId(2), 9), (ChatId(3), 1)]);
        let answer = SyncService::new(Arc::new(chats()), Arc::new(messages)).sync(UserId(1), &held).await?;
        assert_eq!(answer.chats.len(), 1);
        assert!(answer.chats[0].more);
        assert_eq!(answer.chats[0].messages.len(), SYNC_PAGE as usize);
        Ok(())
    }

    #[tokio::test]
    async fn nothing_changed_costs_one_statement() -> Result<(), DomainError> {
        let mut chats = MockChatRepository::new();
        chats.expect_versions_for_user().times(1).returning(|_| Ok(vec![(ChatId(1), 5)]));
        let held = HashMap::from([(ChatId(1), 5)]);
        let answer =
            SyncService::new(Arc::new(chats), Arc::new(MockMessageRepository::new())).sync(UserId(1), &held).await?;
        assert_eq!(answer, SyncAnswer::default());
        Ok(())
    }

    #[tokio::test]
    async fn negative_versions_are_invalid() {
        let held = HashMap::from([(ChatId(1), -1)]);
        let answer = SyncService::new(Arc::new(MockChatRepository::new()), Arc::new(MockMessageRepository::new()))
            .sync(UserId(1), &held)
            .await;
        assert!(matches!(answer, Err(DomainError::InvalidInput(_))));
    }
}
