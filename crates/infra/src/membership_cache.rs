//! A cache of chat membership in front of the chat repository.
//!
//! Every send and receipt asks who the members of a chat are; membership changes rarely. The cache
//! answers from memory and forgets a chat when its membership changes — here directly, and on other
//! instances through the `MembersChanged` event on the bus. A generation counter keeps a lookup that
//! raced with a change from storing what it read before the change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use domain::chat::{Chat, ChatRepository, ChatSummary, GroupName};
use domain::events::{Event, EventSink};
use domain::{ChatId, DomainError, UserId};

/// Past this many chats the cache starts over rather than growing without bound.
const CAPACITY: usize = 200_000;

pub struct MembershipCache {
    inner: Arc<dyn ChatRepository>,
    members: RwLock<HashMap<ChatId, Arc<[UserId]>>>,
    generation: AtomicU64,
}

impl MembershipCache {
    pub fn new(inner: Arc<dyn ChatRepository>) -> Self {
        Self { inner, members: RwLock::new(HashMap::new()), generation: AtomicU64::new(0) }
    }

    fn forget(&self, chat: ChatId) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.members.write().unwrap_or_else(|p| p.into_inner()).remove(&chat);
    }
}

impl EventSink for MembershipCache {
    fn deliver(&self, event: &Event) {
        if let Event::MembersChanged { chat_id, .. } = event {
            self.forget(*chat_id);
        }
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
}
