use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::{ChatId, MessageId, UserId};
use crate::message::Message;
use crate::text::{check_name_like, nfc};

const GROUP_NAME_MAX_CHARS: usize = 128;

/// The most members a group may have; members past the first 1,000 are added one by one.
pub const GROUP_MAX_MEMBERS: usize = 10_000;

/// A chat with more members than this names only the viewer among its members when it is shown (the chat
/// list, a sync, a chat): the others page through [`MemberPageLimit`]-sized pages of their own. A chat
/// list stays small whatever the groups in it.
pub const INLINE_MEMBERS_MAX: usize = 100;

/// Members per page of a chat's member list: 1..=1000, 200 unless asked.
pub type MemberPageLimit = crate::limit::Limit<1000, 200>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    Private,
    Group,
}

impl ChatKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::Group => "group",
        }
    }
}

/// A member of a chat with its read pointer: every message up to it has been read by this member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: UserId,
    pub name: String,
    pub last_read_message_id: Option<MessageId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    pub id: ChatId,
    pub kind: ChatKind,
    /// The group's name; empty for a private chat, whose name depends on who looks at it.
    pub name: String,
    pub creator_id: Option<UserId>,
    /// Members in the order they joined.
    pub members: Vec<Member>,
}

impl Chat {
    /// The members as `viewer` is shown them: all of them, or only the viewer past
    /// [`INLINE_MEMBERS_MAX`].
    pub fn members_shown_to(&self, viewer: UserId) -> impl Iterator<Item = &Member> {
        let all = self.members.len() <= INLINE_MEMBERS_MAX;
        self.members.iter().filter(move |m| all || m.user_id == viewer)
    }

    pub fn is_member(&self, user: UserId) -> bool {
        self.members.iter().any(|m| m.user_id == user)
    }

    /// The name `viewer` sees: the group's name, or the other member's name for a private chat.
    pub fn name_for(&self, viewer: UserId) -> &str {
        match self.kind {
            ChatKind::Group => &self.name,
            ChatKind::Private => self
                .members
                .iter()
                .find(|m| m.user_id != viewer)
                .or_else(|| self.members.first())
                .map_or("", |m| m.name.as_str()),
        }
    }
}

/// A chat as the chat list shows it to one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSummary {
    pub chat: Chat,
    pub last_message: Option<Message>,
    /// Messages from other members above the viewer's read pointer.
    pub unread_count: i64,
    /// The seq of the chat's newest message; 0 for an empty chat.
    pub last_seq: i64,
    /// Advanced by every change to the chat (a message, a read pointer, a member).
    pub version: i64,
}

/// A group's name: trimmed, 1 to 128 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupName(String);

impl GroupName {
    /// Trimmed and in NFC, like a user's name.
    ///
    /// # Errors
    /// `InvalidInput` when empty after trimming, longer than 128 characters, holding a control,
    /// invisible or text-direction character, or mixing look-alike scripts in one word.
    pub fn new(raw: &str) -> Result<Self, DomainError> {
        let name = nfc(raw.trim());
        if name.is_empty() {
            return Err(DomainError::invalid("group name must not be empty"));
        }
        if name.chars().count() > GROUP_NAME_MAX_CHARS {
            return Err(DomainError::invalid(format!("group name must be at most {GROUP_NAME_MAX_CHARS} characters")));
        }
        check_name_like("group name", &name)?;
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: i64, name: &str) -> Member {
        Member { user_id: UserId(id), name: name.into(), last_read_message_id: None }
    }

    #[test]
    fn a_private_chat_is_named_after_the_other_member() {
        let chat = Chat {
            id: ChatId(1),
            kind: ChatKind::Private,
            name: String::new(),
            creator_id: None,
            members: vec![member(1, "alice"), member(2, "bob")],
        };
        assert_eq!(chat.name_for(UserId(1)), "bob");
        assert_eq!(chat.name_for(UserId(2)), "alice");
    }

    #[test]
    fn group_names_are_trimmed_and_bounded() {
        assert_eq!(GroupName::new(" Team ").map(|n| n.0).ok(), Some("Team".into()));
        assert!(GroupName::new("").is_err());
        assert!(GroupName::new(&"x".repeat(129)).is_err());
    }

    #[test]
    fn group_names_are_composed_and_refuse_controls_and_invisible_characters() {
        assert_eq!(GroupName::new("Cafe\u{301}").map(|n| n.0).ok(), Some("Caf\u{e9}".into()));
        for bad in ["Te\u{0}am", "Te\ram", "Te\u{200B}am", "\u{202E}maeT", "Te\u{2067}am", "T\u{435}am"] {
            assert!(matches!(GroupName::new(bad), Err(DomainError::InvalidInput(_))), "{bad:?}");
        }
        assert!(GroupName::new("Команда 🚀 Team").is_ok());
    }
}
