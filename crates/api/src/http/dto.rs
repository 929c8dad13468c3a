//! The JSON shapes of the REST API. They live here only; the domain knows nothing of them.

use app::users::UserView;
use domain::UserId;
use domain::chat::{Chat, ChatSummary, Member};
use domain::session::SessionTokens;
use domain::user::User;
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

pub use crate::wire::MessageDto;

/// A user. `email` is present for the caller itself, and for another user only in a search whose `q`
/// was exactly that email.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    pub id: i64,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// The caller itself (registration, `GET /users/me`): with its email.
impl From<User> for UserDto {
    fn from(u: User) -> Self {
        Self { id: u.id.0, name: u.name, email: Some(u.email) }
    }
}

impl From<UserView> for UserDto {
    fn from(u: UserView) -> Self {
        Self { id: u.id.0, name: u.name, email: u.email }
    }
}

/// A user with its presence (`GET /users/{user_id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPresenceDto {
    pub id: i64,
    pub name: String,
    /// Only for the caller itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A device of the user is connected (or left less than the grace period ago).
    pub online: bool,
    /// When the user went offline (RFC 3339, UTC); null while online or if never seen.
    pub last_seen: Option<String>,
}

impl UserPresenceDto {
    pub fn new(viewer: domain::UserId, user: User, presence: domain::presence::Presence) -> Self {
        Self {
            id: user.id.0,
            name: user.name,
            email: (viewer == user.id).then_some(user.email),
            online: presence.online,
            last_seen: presence.last_seen.map(crate::wire::timestamp),
        }
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
    /// Every member with its read pointer; in a chat of more than 100 members only the caller (the
    /// others through `GET /chats/{chat_id}/members`).
    pub members: Vec<MemberDto>,
    pub member_count: usize,
}

impl ChatDto {
    pub fn for_viewer(chat: Chat, viewer: UserId) -> Self {
        let name = chat.name_for(viewer).to_owned();
        Self {
            id: chat.id.0,
            kind: chat.kind.as_str(),
            name,
            creator_id: chat.creator_id.map(|id| id.0),
            members: chat.members_shown_to(viewer).cloned().map(MemberDto::from).collect(),
            member_count: chat.members.len(),
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
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Single use: `grant_type=refresh_token` at `POST /auth/token` exchanges it for a new pair. Using it
    /// a second time ends the session.
    pub refresh_token: String,
    /// Seconds until the refresh token expires (each refresh starts it again).
    pub refresh_expires_in: u64,
}

impl From<SessionTokens> for TokenDto {
    fn from(t: SessionTokens) -> Self {
        Self {
            access_token: t.access.token,
            token_type: "bearer",
            expires_in: t.access.expires_in_seconds,
            refresh_token: t.refresh.token.expose().to_owned(),
            refresh_expires_in: t.refresh.expires_in.as_secs(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusDto {
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// 1 to 64 characters after trimming; one line, no invisible or direction-control characters.
    #[schema(min_length = 1, max_length = 64, pattern = r"^[^\x00-\x1F\x7F-\x9F]*\S[^\x00-\x1F\x7F-\x9F]*$")]
    pub name: String,
    /// An email address, at most 254 characters.
    #[schema(min_length = 3, max_length = 254, pattern = r"^[^\s@\x00-\x1F\x7F-\x9F]+@[^\s@\x00-\x1F\x7F-\x9F]+$")]
    pub email: String,
    /// At least 8 characters and at most 72 bytes (bcrypt uses no more); no control characters but
    /// newline and tab.
    #[schema(min_length = 8, max_length = 72, pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$")]
    pub password: String,
}

/// An OAuth2 token request. The password grant: `grant_type=password` (or omitted), `username` (the
/// email) and `password`. The refresh grant: `grant_type=refresh_token` and `refresh_token`.
/// Read leniently (every field optional, the handler says which is missing); documented as the two
/// grants it really takes (see [`grant_schema`]).
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    pub grant_type: Option<String>,
    /// The email; required by the password grant.
    pub username: Option<String>,
    /// Required by the password grant.
    pub password: Option<String>,
    /// Required by the refresh grant.
    pub refresh_token: Option<String>,
}

/// The token request as JSON: `{"email", "password"}`, or `{"grant_type": "refresh_token",
/// "refresh_token"}`.
#[derive(Debug, Deserialize)]
pub struct TokenJson {
    pub grant_type: Option<String>,
    /// Required by the password grant.
    pub email: Option<String>,
    /// Required by the password grant.
    pub password: Option<String>,
    /// Required by the refresh grant.
    pub refresh_token: Option<String>,
}

/// One of the two grants, as the token route takes them; `login` names the password grant's email field
/// (`username` in the OAuth2 form, `email` in JSON).
fn grant_schema(login: &str) -> RefOr<Schema> {
    let text = || ObjectBuilder::new().schema_type(Type::String);
    let password = ObjectBuilder::new()
        .title(Some("Password grant"))
        .property("grant_type", text().enum_values(Some(["password"])))
        .property(login, text().description(Some("The email")))
        .property("password", text())
        .required(login)
        .required("password");
    let refresh = ObjectBuilder::new()
        .title(Some("Refresh grant"))
        .property("grant_type", text().enum_values(Some(["refresh_token"])))
        .property("refresh_token", text())
        .required("grant_type")
        .required("refresh_token");
    RefOr::T(Schema::OneOf(OneOfBuilder::new().item(password).item(refresh).build()))
}

impl PartialSchema for TokenForm {
    fn schema() -> RefOr<Schema> {
        grant_schema("username")
    }
}

impl ToSchema for TokenForm {}

impl PartialSchema for TokenJson {
    fn schema() -> RefOr<Schema> {
        grant_schema("email")
    }
}

impl ToSchema for TokenJson {}

/// Ends the session of this refresh token.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LogoutRequest {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PrivateChatRequest {
    pub user_id: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupRequest {
    /// 1 to 128 characters after trimming; one line.
    #[schema(min_length = 1, max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*\S[^\x00-\x1F\x7F-\x9F]*$")]
    pub name: String,
    /// Up to 1,000 other users (the caller is added anyway).
    #[schema(max_items = 1000)]
    #[serde(default)]
    pub member_ids: Vec<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MemberRequest {
    pub user_id: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SendRequest {
    /// 1 to 4096 characters, not only white space; no control characters but newline and tab.
    #[schema(
        min_length = 1,
        max_length = 4096,
        pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*\S[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"
    )]
    pub text: String,
    /// Required deduplication key, a UUID chosen by the client.
    pub client_id: Uuid,
    /// The message of the same chat this one answers.
    #[schema(minimum = 1)]
    pub reply_to: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EditRequest {
    /// The new text: 1 to 4096 characters, not only white space; no control characters but newline and tab.
    #[schema(
        min_length = 1,
        max_length = 4096,
        pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*\S[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"
    )]
    pub text: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReadRequest {
    pub message_id: i64,
}
