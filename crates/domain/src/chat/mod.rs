//! Private chats, groups, their members and the port that stores them.

mod model;
mod ports;

pub use model::{Chat, ChatKind, ChatSummary, GroupName, Member};
#[cfg(feature = "mocks")]
pub use ports::MockChatRepository;
pub use ports::ChatRepository;
