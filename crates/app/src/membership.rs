//! The membership check every chat action starts with.

use domain::chat::ChatRepository;
use domain::{ChatId, DomainError, UserId};

/// Whether `user` may act in `chat`.
///
/// # Errors
/// `NotFound` for an unknown chat, `Forbidden` for a non-member.
pub(crate) async fn ensure_member(chats: &dyn ChatRepository, chat: ChatId, user: UserId) -> Result<(), DomainError> {
    let members = chats.member_ids(chat).await?.ok_or(DomainError::NotFound("chat"))?;
    if members.contains(&user) { Ok(()) } else { Err(DomainError::Forbidden("you are not a member of this chat")) }
}
