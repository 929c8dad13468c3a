//! Private chats, groups, their members and the port that stores them.

mod model;
mod ports;

pub use model::{
    Chat, ChatKind, ChatSummary, GROUP_MAX_MEMBERS, GroupName, INLINE_MEMBERS_MAX, Member, MemberPageLimit,
};
pub use ports::ChatRepository;
#[cfg(feature = "mocks")]
pub use ports::MockChatRepository;
