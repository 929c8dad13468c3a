//! The web client, embedded in the binary: no separate server, no build step.

use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY as CONTENT_SECURITY_POLICY_HEADER, CONTENT_TYPE, X_FRAME_OPTIONS,
};
use actix_web::{HttpResponse, get, web};

use crate::error::ApiError;

macro_rules! asset {
    ($name:literal) => {
        ($name, include_str!(concat!("../../static/", $name)))
    };
}

const ASSETS: &[(&str, &str)] = &[
    asset!("app.css"),
    asset!("app.js"),
    asset!("api.js"),
    asset!("util.js"),
    asset!("state.js"),
    asset!("outbox.js"),
    asset!("socket.js"),
    asset!("sync.js"),
    asset!("toast.js"),
    asset!("auth.js"),
    asset!("chatlist.js"),
    asset!("conversation.js"),
    asset!("dialogs.js"),
    asset!("drafts.js"),
    asset!("notify.js"),
    asset!("timeline.js"),
];

const INDEX: &str = include_str!("../../static/index.html");

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        // Browsers run ES modules only when served with a JavaScript type.
        Some("js") => "text/javascript; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    }
}

/// The page runs only its own modules and talks only to its own origin (HTTP and WebSocket); it may
/// not be framed. Scripts set element styles through the DOM, which `style-src 'self'` allows.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

#[get("/")]
pub async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header((CONTENT_SECURITY_POLICY_HEADER, CONTENT_SECURITY_POLICY))
        .insert_header((X_FRAME_OPTIONS, "DENY"))
        .body(INDEX)
}

#[get("/static/{file}")]
pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (name, body) = ASSETS.iter().find(|(name, _)| *name == file.as_str()).ok_or(ApiError::RouteNotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type(name)))
        .insert_header((CACHE_CONTROL, "public, max-age=300"))
        .body(*body))
}
