//! The OpenAPI document, served at `/openapi.json` and browsed at `/docs`.

use actix_web::http::StatusCode;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorDetail};
use crate::http::{auth, chats, dto, edits, groups, health, messages, search, sync, users};

#[derive(OpenApi)]
#[openapi(
    info(title = "messenger", description = "A Telegram-like messenger: REST for accounts, chats and history; real time over the WebSocket at GET /ws (see README)."),
    paths(
        auth::register, auth::token, auth::logout, users::me, users::search, users::presence,
        chats::open_private, chats::list, chats::get, chats::members,
        groups::create, groups::add_member, groups::remove_member,
        messages::history, messages::send, messages::read, edits::edit, edits::remove, search::messages,
        sync::sync,
        health::healthz, health::readyz,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, dto::UserDto, dto::UserPresenceDto, dto::MessageDto, dto::MemberDto, dto::ChatDto, dto::ChatSummaryDto,
        dto::TokenDto, dto::StatusDto, dto::RegisterRequest, dto::TokenForm, dto::TokenJson, dto::LogoutRequest,
        dto::PrivateChatRequest, dto::GroupRequest, dto::MemberRequest, dto::SendRequest, dto::EditRequest, dto::ReadRequest,
        sync::SyncRequest, sync::SyncAnswerDto, sync::ChatChangesDto,
    )),
    modifiers(&Security, &ContractResponses),
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

/// The answers every route can give besides its own, so that the document tells the whole truth without
/// each handler repeating them: 400 where there is input, 401 and 429 where a token is needed, 413 where
/// there is a body, 503 where the database is asked; and a description on every response.
struct ContractResponses;

impl Modify for ContractResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                complete(path, operation);
            }
        }
    }
}

fn complete(path: &str, operation: &mut Operation) {
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_input = operation.request_body.is_some() || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let health = path == "/healthz" || path == "/readyz";
    let mut add = |status: StatusCode, description: &str| {
        operation.responses.responses.entry(status.as_u16().to_string()).or_insert_with(|| error_response(description));
    };
    if has_input {
        add(StatusCode::BAD_REQUEST, "Unparsable body, query or path, a missing field or a value of the wrong type");
    }
    if secured {
        add(StatusCode::UNAUTHORIZED, "Missing, malformed, expired or forged token, or a token of an unknown user");
    }
    if secured || path.starts_with("/auth/") {
        add(StatusCode::TOO_MANY_REQUESTS, "Over a rate limit; `Retry-After` says when to try again");
    }
    if operation.request_body.is_some() {
        add(StatusCode::PAYLOAD_TOO_LARGE, "A body over the route's limit (64 KiB for JSON)");
    }
    if !health {
        add(StatusCode::SERVICE_UNAVAILABLE, "The database did not answer in time; `Retry-After` says when to retry");
    }
    for (status, response) in &mut operation.responses.responses {
        if let RefOr::T(response) = response
            && response.description.is_empty()
        {
            response.description = status
                .parse::<u16>()
                .ok()
                .and_then(|code| StatusCode::from_u16(code).ok())
                .and_then(|code| code.canonical_reason())
                .unwrap_or("Answer")
                .to_owned();
        }
    }
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    let body = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
    RefOr::T(ResponseBuilder::new().description(description).content("application/json", body).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_response_is_described_and_every_secured_route_declares_401_and_429() -> anyhow::Result<()> {
        let document = serde_json::to_value(ApiDoc::openapi())?;
        let paths = document["paths"].as_object().ok_or_else(|| anyhow::anyhow!("no paths"))?;
        for (path, item) in paths {
            for (method, operation) in item.as_object().into_iter().flatten() {
                let responses = operation["responses"].as_object().ok_or_else(|| anyhow::anyhow!("no responses"))?;
                for (status, response) in responses {
                    let described = response["description"].as_str().is_some_and(|d| !d.is_empty());
                    assert!(described, "{method} {path} {status} has no description");
                }
                if operation.get("security").is_some() {
                    for status in ["401", "429", "503"] {
                        assert!(responses.contains_key(status), "{method} {path} lacks {status}");
                    }
                }
            }
        }
        Ok(())
    }
}
