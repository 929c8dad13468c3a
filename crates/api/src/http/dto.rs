//! The JSON shapes of the REST API. They live here only; the domain knows nothing of them.

use domain::UserId;
use domain::chat::{Chat, ChatSummary, Member};
use domain::user::{AccessToken, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use crate::wire::MessageDto;

#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    pub id: i64,
    pub name: String,
    pub email: String,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        Self { id: u.id.0, name: u.name, email: u.email }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberDto {
    pub id: i64,
    pub name: String,
    pub last_read_message_id: Option<i64>,
}

impl From<Member> for MemberDto {
    fn from(m: Member) -> Self {
        Self { id: m.user_id.0, name: m.name, last_read_message_id: m.last_read_message_id.map(|id| id.0) }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatDto {
    pub id: i64,
    #[serde(rename = "type")]
    #[schema(example = "group")]
    pub kind: &'static str,
    /// The group's name, or the other member's name for a private chat.
    pub name: String,
    pub creator_id: Option<i64>,
    pub members: Vec<MemberDto>,
}

impl ChatDto {
    pub fn for_viewer(chat: Chat, viewer: UserId) -> Self {
        let name = chat.name_for(viewer).to_owned();
        Self {
            id: chat.id.0,
            kind: chat.kind.as_str(),
            name,
            creator_id: chat.creator_id.map(|id| id.0),
            members: chat.members.into_iter().map(MemberDto::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatSummaryDto {
    #[serde(flatten)]
    pub chat: ChatDto,
    pub last_message: Option<MessageDto>,
    /// Messages from other members above the caller's read pointer.
    pub unread_count: i64,
    /// The seq of the chat's newest message; 0 for an empty chat.
    pub last_seq: i64,
    /// The chat's version: advanced by every change (a message, a read pointer, a member).
    pub version: i64,
}

impl ChatSummaryDto {
    pub fn for_viewer(summary: ChatSummary, viewer: UserId) -> Self {
        Self {
            chat: ChatDto::for_viewer(summary.chat, viewer),
            last_message: summary.last_message.map(MessageDto::from),
            unread_count: summary.unread_count,
            last_seq: summary.last_seq,
            version: summary.version,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenDto {
    pub access_token: String,
    #[schema(example = "bearer")]
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

impl From<AccessToken> for TokenDto {
    fn from(t: AccessToken) -> Self {
        Self { access_token: t.token, token_type: "bearer", expires_in: t.expires_in_seconds }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusDto {
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    pub name: String,
    pub email: String,
    pub password: String,
}

/// OAuth2 password grant (`username` is the email); `grant_type` may be omitted.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenForm {
    pub grant_type: Option<String>,
    pub username: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenJson {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PrivateChatRequest {
    pub user_id: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupRequest {
    pub name: String,
    #[serde(default)]
    pub member_ids: Vec<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MemberRequest {
    pub user_id: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SendRequest {
    pub text: String,
    /// Required deduplication key, a UUID chosen by the client.
    pub client_id: Uuid,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReadRequest {
    pub message_id: i64,
}
