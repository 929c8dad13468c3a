use async_trait::async_trait;

use super::model::{Chat, ChatSummary, GroupName, Member, MemberPageLimit};
use crate::error::DomainError;
use crate::ids::{ChatId, UserId};

/// Where chats and memberships live.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ChatRepository: Send + Sync {
    /// The one private chat of the pair, created if it does not exist; `true` when created now.
    /// MUST be safe when both users open it at the same moment (one chat, both get it).
    async fn find_or_create_private(&self, a: UserId, b: UserId) -> Result<(Chat, bool), DomainError>;

    /// A new group with `creator` as creator and first member, then `members` (already checked to exist,
    /// without the creator, without repeats).
    async fn create_group(&self, name: &GroupName, creator: UserId, members: &[UserId]) -> Result<Chat, DomainError>;

    async fn find(&self, chat: ChatId) -> Result<Option<Chat>, DomainError>;

    /// The members of a chat, or `None` when there is no such chat. This is the hot path of every send,
    /// so implementations may cache it (and MUST then invalidate on membership changes).
    async fn member_ids(&self, chat: ChatId) -> Result<Option<Vec<UserId>>, DomainError>;

    /// Adds a member whose read pointer starts at the chat's latest message, advancing the chat's version;
    /// `false` if already a member.
    ///
    /// # Errors
    /// MUST refuse with `InvalidInput` when the chat has [`super::GROUP_MAX_MEMBERS`] members already,
    /// whatever the concurrency.
    async fn add_member(&self, chat: ChatId, user: UserId) -> Result<bool, DomainError>;

    /// Removes a member, advancing the chat's version; when it was the creator, the longest-standing remaining member becomes creator.
    /// `false` if it was not a member.
    async fn remove_member(&self, chat: ChatId, user: UserId) -> Result<bool, DomainError>;

    /// Every chat of `user` with its last message and unread count, most recent activity first.
    /// MUST use a constant number of statements, whatever the number of chats.
    async fn list_for_user(&self, user: UserId) -> Result<Vec<ChatSummary>, DomainError>;

    /// The summaries of those of `chats` that `user` belongs to, as [`ChatRepository::list_for_user`]
    /// makes them, in a constant number of statements.
    async fn summaries_of(&self, user: UserId, chats: Vec<ChatId>) -> Result<Vec<ChatSummary>, DomainError>;

    /// Every chat of `user` with its version, in one statement: what a sync compares with what the
    /// client holds.
    async fn versions_for_user(&self, user: UserId) -> Result<Vec<(ChatId, i64)>, DomainError>;

    /// Members of `chat` in the order of their ids, those above `after` (all when `None`), at most `limit`.
    async fn members_page(
        &self,
        chat: ChatId,
        after: Option<UserId>,
        limit: MemberPageLimit,
    ) -> Result<Vec<Member>, DomainError>;

    /// The chats `user` is a member of; only those of at most `max_members` members when given.
    async fn chat_ids_of(&self, user: UserId, max_members: Option<usize>) -> Result<Vec<ChatId>, DomainError>;

    /// Whether `a` and `b` are members of a common chat.
    async fn share_a_chat(&self, a: UserId, b: UserId) -> Result<bool, DomainError>;
}
