//! Private chats, groups and their membership rules.

use std::collections::BTreeSet;
use std::sync::Arc;

use domain::chat::{Chat, ChatKind, ChatRepository, ChatSummary, GroupName, Member, MemberPageLimit};
use domain::events::{Event, EventBus};
use domain::message::ReceiptRepository;
use domain::user::UserRepository;
use domain::{ChatId, DomainError, UserId};

use crate::membership::ensure_member;
use crate::receipts::publish_read_by_all;

/// The most members a group may start with (more can be added one by one).
const GROUP_MAX_INITIAL_MEMBERS: usize = 1000;

pub struct ChatService {
    chats: Arc<dyn ChatRepository>,
    users: Arc<dyn UserRepository>,
    receipts: Arc<dyn ReceiptRepository>,
    bus: Arc<dyn EventBus>,
}

impl ChatService {
    pub fn new(
        chats: Arc<dyn ChatRepository>,
        users: Arc<dyn UserRepository>,
        receipts: Arc<dyn ReceiptRepository>,
        bus: Arc<dyn EventBus>,
    ) -> Self {
        Self { chats, users, receipts, bus }
    }

    /// The private chat between `me` and `other`, created on first use; `true` when created now.
    ///
    /// # Errors
    /// `InvalidInput` for a chat with oneself, `NotFound` for an unknown user.
    #[tracing::instrument(skip(self), fields(%me, %other))]
    pub async fn open_private(&self, me: UserId, other: UserId) -> Result<(Chat, bool), DomainError> {
        if me == other {
            return Err(DomainError::invalid("a private chat needs another user"));
        }
        if self.users.find_by_id(other).await?.is_none() {
            return Err(DomainError::NotFound("user"));
        }
        let (chat, created) = self.chats.find_or_create_private(me, other).await?;
        if created {
            self.publish_created(&chat);
        }
        Ok((chat, created))
    }

    /// A new group whose creator is `me`.
    ///
    /// # Errors
    /// `InvalidInput` for a bad name or too many members, `NotFound` when a member does not exist.
    #[tracing::instrument(skip(self, name, member_ids), fields(%me))]
    pub async fn create_group(&self, me: UserId, name: &str, member_ids: &[UserId]) -> Result<Chat, DomainError> {
        let name = GroupName::new(name)?;
        let members: Vec<UserId> =
            member_ids.iter().copied().filter(|id| *id != me).collect::<BTreeSet<_>>().into_iter().collect();
        if members.len() > GROUP_MAX_INITIAL_MEMBERS {
            return Err(DomainError::invalid(format!(
                "a group starts with at most {GROUP_MAX_INITIAL_MEMBERS} members"
            )));
        }
        if self.users.count_existing(&members).await? != members.len() {
            return Err(DomainError::NotFound("user"));
        }
        let chat = self.chats.create_group(&name, me, &members).await?;
        tracing::info!(chat_id = %chat.id, members = chat.members.len(), "group created");
        self.publish_created(&chat);
        Ok(chat)
    }

    /// Adds `user` to a group; only its creator may.
    ///
    /// # Errors
    /// `NotFound` for an unknown chat or user, `Forbidden` unless `me` is the group's creator,
    /// `InvalidInput` for a private chat.
    #[tracing::instrument(skip(self), fields(%me, %chat, %user))]
    pub async fn add_member(&self, me: UserId, chat: ChatId, user: UserId) -> Result<Chat, DomainError> {
        let group = self.group_seen_by(me, chat).await?;
        if group.creator_id != Some(me) {
            return Err(DomainError::Forbidden("only the group's creator can add members"));
        }
        if self.users.find_by_id(user).await?.is_none() {
            return Err(DomainError::NotFound("user"));
        }
        let added = self.chats.add_member(chat, user).await?;
        let updated = self.chats.find(chat).await?.ok_or(DomainError::NotFound("chat"))?;
        if added {
            let member_count = updated.members.len();
            self.bus.publish(Event::MembersChanged {
                chat_id: chat,
                joined: vec![user],
                left: Vec::new(),
                member_count,
            });
        }
        Ok(updated)
    }

    /// Removes `user` from a group: the creator may remove anybody, a member may leave. Messages that only
    /// the leaver had not read become read (and their senders are told).
    ///
    /// # Errors
    /// `NotFound` for an unknown chat or a user who is not a member, `Forbidden` for anybody else,
    /// `InvalidInput` for a private chat.
    #[tracing::instrument(skip(self), fields(%me, %chat, %user))]
    pub async fn remove_member(&self, me: UserId, chat: ChatId, user: UserId) -> Result<(), DomainError> {
        let group = self.group_seen_by(me, chat).await?;
        if me != user && group.creator_id != Some(me) {
            return Err(DomainError::Forbidden("only the group's creator can remove other members"));
        }
        if !self.chats.remove_member(chat, user).await? {
            return Err(DomainError::NotFound("member"));
        }
        let member_count = group.members.len().saturating_sub(1);
        self.bus.publish(Event::MembersChanged { chat_id: chat, joined: Vec::new(), left: vec![user], member_count });
        let flipped = self.receipts.mark_read_by_all(chat, None).await?;
        publish_read_by_all(self.bus.as_ref(), flipped);
        Ok(())
    }

    /// # Errors
    /// `NotFound` for an unknown chat, `Forbidden` for a non-member.
    pub async fn get(&self, me: UserId, chat: ChatId) -> Result<Chat, DomainError> {
        let found = self.chats.find(chat).await?.ok_or(DomainError::NotFound("chat"))?;
        if found.is_member(me) { Ok(found) } else { Err(DomainError::Forbidden("you are not a member of this chat")) }
    }

    /// A page of a chat's members by user id, for its members: how a large group's members are listed.
    ///
    /// # Errors
    /// `NotFound` for an unknown chat, `Forbidden` for a non-member.
    pub async fn members(
        &self,
        me: UserId,
        chat: ChatId,
        after: Option<UserId>,
        limit: MemberPageLimit,
    ) -> Result<Vec<Member>, DomainError> {
        ensure_member(self.chats.as_ref(), chat, me).await?;
        self.chats.members_page(chat, after, limit).await
    }

    /// The chats `user` is a member of.
    ///
    /// # Errors
    /// When storage does not answer.
    pub async fn chat_ids_of(&self, user: UserId) -> Result<Vec<ChatId>, DomainError> {
        self.chats.chat_ids_of(user, None).await
    }

    /// Every chat of `me`, most recent activity first.
    pub async fn list(&self, me: UserId) -> Result<Vec<ChatSummary>, DomainError> {
        self.chats.list_for_user(me).await
    }

    /// Tells the other members that `me` is typing.
    ///
    /// # Errors
    /// `NotFound` for an unknown chat, `Forbidden` for a non-member.
    pub async fn typing(&self, me: UserId, chat: ChatId) -> Result<(), DomainError> {
        ensure_member(self.chats.as_ref(), chat, me).await?;
        self.bus.publish(Event::Typing { chat_id: chat, user_id: me });
        Ok(())
    }

    async fn group_seen_by(&self, me: UserId, chat: ChatId) -> Result<Chat, DomainError> {
        let found = self.get(me, chat).await?;
        if found.kind == ChatKind::Group {
            Ok(found)
        } else {
            Err(DomainError::invalid("private chats have fixed members"))
        }
    }

    /// Tells the members of a new chat that it exists.
    fn publish_created(&self, chat: &Chat) {
        let joined = chat.members.iter().map(|m| m.user_id).collect();
        let member_count = chat.members.len();
        self.bus.publish(Event::MembersChanged { chat_id: chat.id, joined, left: Vec::new(), member_count });
    }
}

#[cfg(test)]
mod tests {
    use domain::MessageId;
    use domain::chat::{Member, MockChatRepository};
    use domain::events::MockEventBus;
    use domain::message::{MockReceiptRepository, ReadByAll};
    use domain::user::{MockUserRepository, User};

    use super::*;

    fn group(creator: i64, members: &[i64]) -> Chat {
        Chat {
            id: ChatId(9),
            kind: ChatKind::Group,
            name: "Team".into(),
            creator_id: Some(UserId(creator)),
            members: members
                .iter()
                .map(|id| Member { user_id: UserId(*id), name: format!("u{id}"), last_read_message_id: None })
                .collect(),
        }
    }

    fn existing_users() -> MockUserRepository {
        let mut users = MockUserRepository::new();
        users.expect_find_by_id().returning(|id| Ok(Some(User { id, name: "u".into(), email: "u@x.io".into() })));
        users
    }

    fn finding(chat: Chat) -> MockChatRepository {
        let mut chats = MockChatRepository::new();
        chats.expect_find().returning(move |_| Ok(Some(chat.clone())));
        chats
    }

    fn quiet_bus() -> MockEventBus {
        let mut bus = MockEventBus::new();
        bus.expect_publish().return_const(());
        bus
    }

    fn service(
        chats: MockChatRepository,
        users: MockUserRepository,
        receipts: MockReceiptRepository,
        bus: MockEventBus,
    ) -> ChatService {
        ChatService::new(Arc::new(chats), Arc::new(users), Arc::new(receipts), Arc::new(bus))
    }

    #[tokio::test]
    async fn a_private_chat_needs_another_existing_user() {
        let chats = service(
            MockChatRepository::new(),
            MockUserRepository::new(),
            MockReceiptRepository::new(),
            MockEventBus::new(),
        );
        assert!(matches!(chats.open_private(UserId(1), UserId(1)).await, Err(DomainError::InvalidInput(_))));
        let mut users = MockUserRepository::new();
        users.expect_find_by_id().returning(|_| Ok(None));
        let chats = service(MockChatRepository::new(), users, MockReceiptRepository::new(), MockEventBus::new());
        assert!(matches!(chats.open_private(UserId(1), UserId(2)).await, Err(DomainError::NotFound("user"))));
    }

    #[tokio::test]
    async fn a_group_is_created_with_distinct_existing_members_without_the_creator() {
        let mut users = MockUserRepository::new();
        users.expect_count_existing().withf(|ids| ids == [UserId(2), UserId(3)]).returning(|ids| Ok(ids.len()));
        let mut repo = MockChatRepository::new();
        repo.expect_create_group()
            .withf(|name, creator, members| {
                name.as_str() == "Team" && *creator == UserId(1) && members == [UserId(2), UserId(3)]
            })
            .returning(|_, _, _| Ok(group(1, &[1, 2, 3])));
        let mut bus = MockEventBus::new();
        bus.expect_publish()
            .withf(|e| matches!(e, Event::MembersChanged { joined, left, .. } if joined.len() == 3 && left.is_empty()))
            .times(1)
            .return_const(());
        let chats = service(repo, users, MockReceiptRepository::new(), bus);
        let created = chats.create_group(UserId(1), " Team ", &[UserId(3), UserId(2), UserId(1), UserId(3)]).await;
        assert_eq!(created.map(|c| c.members.len()).ok(), Some(3));
    }

    #[tokio::test]
    async fn a_group_with_an_unknown_member_or_no_name_is_refused() {
        let mut users = MockUserRepository::new();
        users.expect_count_existing().returning(|_| Ok(0));
        let chats = service(MockChatRepository::new(), users, MockReceiptRepository::new(), MockEventBus::new());
        assert!(matches!(
            chats.create_group(UserId(1), "Team", &[UserId(99)]).await,
            Err(DomainError::NotFound("user"))
        ));
        assert!(matches!(chats.create_group(UserId(1), " ", &[]).await, Err(DomainError::InvalidInput(_))));
    }

    #[tokio::test]
    async fn only_the_creator_adds_members() {
        let chats =
            service(finding(group(1, &[1, 2])), existing_users(), MockReceiptRepository::new(), MockEventBus::new());
        assert!(matches!(chats.add_member(UserId(2), ChatId(9), UserId(3)).await, Err(DomainError::Forbidden(_))));
        assert!(matches!(chats.add_member(UserId(5), ChatId(9), UserId(3)).await, Err(DomainError::Forbidden(_))));

        let mut repo = finding(group(1, &[1, 2]));
        repo.expect_add_member().times(1).returning(|_, _| Ok(true));
        let chats = service(repo, existing_users(), MockReceiptRepository::new(), quiet_bus());
        assert!(chats.add_member(UserId(1), ChatId(9), UserId(3)).await.is_ok());
    }

    #[tokio::test]
    async fn a_member_may_leave_and_what_only_it_had_not_read_becomes_read() {
        let mut repo = finding(group(1, &[1, 2, 3]));
        repo.expect_remove_member().returning(|_, _| Ok(true));
        let mut receipts = MockReceiptRepository::new();
        receipts
            .expect_mark_read_by_all()
            .withf(|_, up| up.is_none())
            .times(1)
            .returning(|chat, _| Ok(vec![ReadByAll { chat_id: chat, sender_id: UserId(1), up_to: MessageId(7) }]));
        let mut bus = MockEventBus::new();
        bus.expect_publish().withf(|e| matches!(e, Event::MembersChanged { .. })).times(1).return_const(());
        bus.expect_publish().withf(|e| matches!(e, Event::ReadByAll(_))).times(1).return_const(());
        let chats = service(repo, existing_users(), receipts, bus);
        assert!(chats.remove_member(UserId(3), ChatId(9), UserId(3)).await.is_ok());
    }

    #[tokio::test]
    async fn members_cannot_remove_others_and_private_chats_have_fixed_members() {
        let chats =
            service(finding(group(1, &[1, 2, 3])), existing_users(), MockReceiptRepository::new(), MockEventBus::new());
        assert!(matches!(chats.remove_member(UserId(2), ChatId(9), UserId(3)).await, Err(DomainError::Forbidden(_))));
        let mut private = group(1, &[1, 2]);
        private.kind = ChatKind::Private;
        let chats = service(finding(private), existing_users(), MockReceiptRepository::new(), MockEventBus::new());
        assert!(matches!(
            chats.remove_member(UserId(1), ChatId(9), UserId(1)).await,
            Err(DomainError::InvalidInput(_))
        ));
    }

    #[tokio::test]
    async fn removing_a_non_member_is_not_found() {
        let mut repo = finding(group(1, &[1, 2]));
        repo.expect_remove_member().returning(|_, _| Ok(false));
        let chats = service(repo, existing_users(), MockReceiptRepository::new(), MockEventBus::new());
        assert!(matches!(
            chats.remove_member(UserId(1), ChatId(9), UserId(5)).await,
            Err(DomainError::NotFound("member"))
        ));
    }

    #[tokio::test]
    async fn typing_reaches_the_bus_for_members_only() {
        let mut repo = MockChatRepository::new();
        repo.expect_member_ids().returning(|_| Ok(Some(vec![UserId(1), UserId(2)])));
        let chats = service(repo, MockUserRepository::new(), MockReceiptRepository::new(), quiet_bus());
        assert!(chats.typing(UserId(1), ChatId(9)).await.is_ok());
        assert!(matches!(chats.typing(UserId(3), ChatId(9)).await, Err(DomainError::Forbidden(_))));
    }

    #[tokio::test]
    async fn a_chat_is_shown_to_members_only() {
        let chats = service(
            finding(group(1, &[1, 2])),
            MockUserRepository::new(),
            MockReceiptRepository::new(),
            MockEventBus::new(),
        );
        assert!(chats.get(UserId(2), ChatId(9)).await.is_ok());
        assert!(matches!(chats.get(UserId(3), ChatId(9)).await, Err(DomainError::Forbidden(_))));
    }
}
