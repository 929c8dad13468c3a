//! A cache of chat membership in front of the chat repository.
//!
//! Every send and receipt asks who the members of a chat are; membership changes rarely. The cache
//! answers from memory and forgets a chat when its membership changes — here directly, and on other
//! instances through the `MembersChanged` event on the bus. A generation counter keeps a lookup that
//! raced with a change from storing what it read before the change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use domain::chat::{Chat, ChatRepository, ChatSummary, GroupName, Member, MemberPageLimit};
use domain::events::{Event, EventSink};
use domain::{ChatId, DomainError, UserId};

/// Past this many chats the cache starts over rather than growing without bound.
const CAPACITY: usize = 200_000;

pub struct MembershipCache {
    inner: Arc<dyn ChatRepository>,
    members: RwLock<HashMap<ChatId, Arc<[UserId]>>>,
    generation: AtomicU64,
    /// Off while changes made by other instances may not reach this one (the bus lost its link).
    enabled: AtomicBool,
}

impl MembershipCache {
    pub fn new(inner: Arc<dyn ChatRepository>) -> Self {
        Self {
            inner,
            members: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            enabled: AtomicBool::new(true),
        }
    }

    fn forget(&self, chat: ChatId) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.members.write().unwrap_or_else(|p| p.into_inner()).remove(&chat);
    }

    fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.members.write().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

impl EventSink for MembershipCache {
    fn deliver(&self, event: &Event) {
        if let Event::MembersChanged { chat_id, .. } = event {
            self.forget(*chat_id);
        }
    }

    fn link_lost(&self) {
        self.enabled.store(false, Ordering::SeqCst);
        self.forget_all();
    }

    fn link_restored(&self) {
        // Anything read while the link was down may have changed since without a word reaching us.
        self.forget_all();
        self.enabled.store(true, Ordering::SeqCst);
    }

    fn events_missed(&self) {
        // A membership change may have been among the lost events.
        self.forget_all();
    }
}

#[async_trait]
impl ChatRepository for MembershipCache {
    async fn find_or_create_private(&self, a: UserId, b: UserId) -> Result<(Chat, bool), DomainError> {
        self.inner.find_or_create_private(a, b).await
    }

    async fn create_group(&self, name: &GroupName, creator: UserId, members: &[UserId]) -> Result<Chat, DomainError> {
        self.inner.create_group(name, creator, members).await
    }

    async fn find(&self, chat: ChatId) -> Result<Option<Chat>, DomainError> {
        self.inner.find(chat).await
    }

    async fn member_ids(&self, chat: ChatId) -> Result<Option<Vec<UserId>>, DomainError> {
        if !self.enabled.load(Ordering::SeqCst) {
            return self.inner.member_ids(chat).await;
        }
        if let Some(members) = self.members.read().unwrap_or_else(|p| p.into_inner()).get(&chat) {
            return Ok(Some(members.to_vec()));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let found = self.inner.member_ids(chat).await?;
        if let Some(members) = &found {
            let mut cache = self.members.write().unwrap_or_else(|p| p.into_inner());
            if self.generation.load(Ordering::SeqCst) == generation {
                if cache.len() >= CAPACITY {
                    cache.clear();
                }
                cache.insert(chat, Arc::from(members.as_slice()));
            }
        }
        Ok(found)
    }

    async fn add_member(&self, chat: ChatId, user: UserId) -> Result<bool, DomainError> {
        let added = self.inner.add_member(chat, user).await;
        self.forget(chat);
        added
    }

    async fn remove_member(&self, chat: ChatId, user: UserId) -> Result<bool, DomainError> {
        let removed = self.inner.remove_member(chat, user).await;
        self.forget(chat);
        removed
    }

    async fn list_for_user(&self, user: UserId) -> Result<Vec<ChatSummary>, DomainError> {
        self.inner.list_for_user(user).await
    }

    async fn summaries_of(&self, user: UserId, chats: Vec<ChatId>) -> Result<Vec<ChatSummary>, DomainError> {
        self.inner.summaries_of(user, chats).await
    }

    async fn members_page(
        &self,
        chat: ChatId,
        after: Option<UserId>,
        limit: MemberPageLimit,
    ) -> Result<Vec<Member>, DomainError> {
        self.inner.members_page(chat, after, limit).await
    }

    async fn chat_ids_of(&self, user: UserId, max_members: Option<usize>) -> Result<Vec<ChatId>, DomainError> {
        self.inner.chat_ids_of(user, max_members).await
    }

    async fn share_a_chat(&self, a: UserId, b: UserId) -> Result<bool, DomainError> {
        self.inner.share_a_chat(a, b).await
    }

    async fn versions_for_user(&self, user: UserId) -> Result<Vec<(ChatId, i64)>, DomainError> {
        self.inner.versions_for_user(user).await
    }
}

#[cfg(test)]
mod tests {
    use domain::chat::MockChatRepository;

    use super::*;

    /// A repository whose membership answers count how often they were asked for.
    fn counting_repository(lookups: usize) -> MockChatRepository {
        let mut inner = MockChatRepository::new();
        inner.expect_member_ids().times(lookups).returning(|_| Ok(Some(vec![UserId(1), UserId(2)])));
        inner
    }

    #[tokio::test]
    async fn answers_from_memory_until_the_membership_changes() -> Result<(), DomainError> {
        let cache = MembershipCache::new(Arc::new(counting_repository(2)));
        for _ in 0..3 {
            assert_eq!(cache.member_ids(ChatId(7)).await?, Some(vec![UserId(1), UserId(2)]));
        }
        cache.deliver(&Event::MembersChanged {
            chat_id: ChatId(7),
            joined: vec![UserId(2)],
            left: vec![],
            member_count: 2,
        });
        cache.member_ids(ChatId(7)).await?;
        cache.member_ids(ChatId(7)).await?;
        Ok(())
    }

    #[tokio::test]
    async fn asks_the_store_every_time_while_the_bus_link_is_down() -> Result<(), DomainError> {
        let cache = MembershipCache::new(Arc::new(counting_repository(4)));
        cache.member_ids(ChatId(7)).await?;
        cache.link_lost();
        cache.member_ids(ChatId(7)).await?;
        cache.member_ids(ChatId(7)).await?;
        cache.link_restored();
        cache.member_ids(ChatId(7)).await?;
        cache.member_ids(ChatId(7)).await?;
        Ok(())
    }
}
