//! The OpenAPI document, served at `/openapi.json` and browsed at `/docs`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorDetail};
use crate::http::{auth, chats, dto, groups, health, messages, sync, users};

#[derive(OpenApi)]
#[openapi(
    info(title = "messenger", description = "A Telegram-like messenger: REST for accounts, chats and history; real time over the WebSocket at GET /ws (see README)."),
    paths(
        auth::register, auth::token, users::me, users::search,
        chats::open_private, chats::list, chats::get,
        groups::create, groups::add_member, groups::remove_member,
        messages::history, messages::send, messages::read, sync::sync,
        health::healthz, health::readyz,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, dto::UserDto, dto::MessageDto, dto::MemberDto, dto::ChatDto, dto::ChatSummaryDto,
        dto::TokenDto, dto::StatusDto, dto::RegisterRequest, dto::TokenForm, dto::TokenJson,
        dto::PrivateChatRequest, dto::GroupRequest, dto::MemberRequest, dto::SendRequest, dto::ReadRequest,
        sync::SyncRequest, sync::SyncAnswerDto, sync::ChatChangesDto,
    )),
    modifiers(&Security),
)]
pub struct ApiDoc;

/// Swagger UI's "Authorize" button takes the `access_token` from `POST /auth/token`.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}
