//! The REST adapter: one file per area, thin handlers over the use-cases.

pub mod auth;
pub mod body_deadline;
pub mod chats;
pub mod dto;
pub mod edits;
pub mod extract;
pub mod groups;
pub mod health;
mod logging;
pub mod messages;
pub mod routing;
pub mod search;
pub mod sync;
pub mod users;
pub mod web;

use actix_web::web::ServiceConfig;

pub use logging::{RequestId, RequestSpan, answer_request_id, websocket_span};

/// Every REST route of the contract.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.app_data(extract::json_config())
        .app_data(extract::form_config())
        .app_data(extract::query_config())
        .app_data(extract::path_config())
        .service(auth::register)
        .service(auth::token)
        .service(auth::logout)
        .service(users::me)
        .service(users::search)
        .service(users::presence)
        .service(chats::open_private)
        // `/chats/private` with another method is that path's 405, not a chat id that does not parse.
        .service(actix_web::web::resource("/chats/private").default_service(actix_web::web::to(routing::unmatched)))
        .service(chats::list)
        .service(chats::get)
        .service(chats::members)
        .service(groups::create)
        .service(groups::add_member)
        .service(groups::remove_member)
        .service(messages::history)
        .service(messages::send)
        .service(messages::read)
        .service(edits::edit)
        .service(edits::remove)
        .service(search::messages)
        .service(sync::sync)
        .service(health::healthz)
        .service(health::readyz)
        .service(web::index)
        .service(web::asset);
}
