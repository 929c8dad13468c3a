//! The membership check every chat action starts with.

use domain::chat::ChatRepository;
use domain::{ChatId, DomainError, UserId};

/// The chat's members, when `user` is one of them.
///
/// # Errors
/// `NotFound` for an unknown chat, `Forbidden` for a non-member.
pub(crate) async fn members_if_member(
    chats: &dyn ChatRepository,
    chat: ChatId,
    user: UserId,
) -> Result<Vec<UserId>, DomainError> {
    let members = chats.member_ids(chat).await?.ok_or(DomainError::NotFound("chat"))?;
    if members.contains(&user) { Ok(members) } else { Err(DomainError::Forbidden("you are not a member of this chat")) }
}
