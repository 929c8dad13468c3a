//! What happens to requests no route takes: 405 with `Allow` for a known path, 404 otherwise; and
//! `HEAD` answered wherever `GET` is.
//!
//! The routes and their methods are read from the OpenAPI document (plus the few routes it does not
//! describe), so this table cannot drift from what is served.

use std::sync::OnceLock;

use actix_web::dev::{ResourceDef, Service, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::{Error, HttpRequest};
use futures_util::future::LocalBoxFuture;
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::openapi::ApiDoc;

/// Routes outside the OpenAPI document: the WebSocket, the web client, the documentation.
const UNDOCUMENTED: &[(&str, &[Method])] = &[
    ("/ws", &[Method::GET]),
    ("/", &[Method::GET]),
    ("/static/{file}", &[Method::GET]),
    ("/docs", &[Method::GET]),
    ("/openapi.json", &[Method::GET]),
];

struct Route {
    path: ResourceDef,
    methods: Vec<Method>,
}

fn routes() -> &'static [Route] {
    static ROUTES: OnceLock<Vec<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        let mut routes: Vec<Route> = ApiDoc::openapi()
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    (Method::GET, item.get.is_some()),
                    (Method::POST, item.post.is_some()),
                    (Method::PUT, item.put.is_some()),
                    (Method::PATCH, item.patch.is_some()),
                    (Method::DELETE, item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(method, present)| present.then_some(method))
                .collect();
                Route { path: ResourceDef::new(numeric_ids(path)), methods }
            })
            .collect();
        routes.extend(
            UNDOCUMENTED
                .iter()
                .map(|(path, methods)| Route { path: ResourceDef::new(*path), methods: methods.to_vec() }),
        );
        routes
    })
}

/// Every path parameter of the API is an integer id: `/chats/{chat_id}` becomes `/chats/{chat_id:\d+}`,
/// so that `/chats/private` and `/chats/abc` are not taken for chat ids.
fn numeric_ids(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => format!("{{{name}:\\d+}}"),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The methods `path` takes, `HEAD` included wherever `GET` is; `None` for an unknown path.
pub fn allowed_methods(path: &str) -> Option<Vec<Method>> {
    let matching: Vec<&Route> = routes().iter().filter(|route| route.path.is_match(path)).collect();
    // A static path (`/chats/private`) is its own route, not one value of a pattern (`/chats/{chat_id}`).
    let exact: Vec<&Route> = matching
        .iter()
        .copied()
        .filter(|route| !route.path.is_prefix() && route.path.pattern() == Some(path))
        .collect();
    let chosen = if exact.is_empty() { matching } else { exact };
    let mut methods: Vec<Method> = chosen.into_iter().flat_map(|route| route.methods.clone()).collect();
    if methods.is_empty() {
        return None;
    }
    if methods.contains(&Method::GET) {
        methods.push(Method::HEAD);
    }
    methods.dedup();
    Some(methods)
}

/// The default service: 405 with `Allow` when the path is known, 404 when it is not.
pub async fn unmatched(req: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    match allowed_methods(req.path()) {
        Some(methods) => {
            let allow = methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
            Err(ApiError::MethodNotAllowed { allow })
        }
        None => Err(ApiError::RouteNotFound),
    }
}

/// Routes `HEAD` as `GET`. The HTTP codec remembers the request was `HEAD` and sends the headers only.
pub fn head_as_get<S, B>(
    mut req: ServiceRequest,
    service: &S,
) -> LocalBoxFuture<'static, Result<ServiceResponse<B>, Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
{
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    Box::pin(service.call(req))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_paths_list_their_methods_and_unknown_ones_none() {
        assert_eq!(allowed_methods("/history/5"), Some(vec![Method::GET, Method::HEAD]));
        assert_eq!(allowed_methods("/auth/token"), Some(vec![Method::POST]));
        assert_eq!(allowed_methods("/chats/private"), Some(vec![Method::POST]), "not GET /chats/{{chat_id}}");
        assert!(allowed_methods("/healthz").is_some_and(|m| m.contains(&Method::HEAD)));
        assert_eq!(allowed_methods("/nope"), None);
        assert_eq!(allowed_methods("/chats/abc"), None);
        assert_eq!(allowed_methods("/chats/12"), Some(vec![Method::GET, Method::HEAD]));
    }
}
