//! The HTTP API of `docs/API.md`, on actix-web. Handlers are thin: read and check the
//! request, send the store a request, turn the answer into JSON. Every failure answers
//! `{"error": {"code", "message"}}` (see `error.rs`), including malformed JSON, bad
//! query strings, unknown routes and wrong methods.
//!
//! The app mounts it with `App::new().configure(api::configure(state.clone()))`; the
//! routes are listed once, in `routes.rs`.

mod admin;
mod ask;
mod auth;
mod bulk;
mod console;
mod conversations;
mod editing;
mod error;
mod extract;
mod messages;
mod ndjson;
mod observe;
mod ops;
mod query;
mod reply;
mod routes;
mod state;
mod stats;
mod transfer;

use actix_web::middleware::from_fn;
use actix_web::web::{self, Data, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};

pub use bulk::MAX_REPORTED_FAILURES;
use error::ApiError;
pub use state::{ApiSettings, ApiState};

/// Mounts every route of the API on an app. It answers every path (unknown ones with a
/// JSON 404, known ones with a wrong method with a JSON 405), so mount nothing after it.
pub fn configure(state: ApiState) -> impl Fn(&mut ServiceConfig) + Clone + Send + 'static {
    move |config: &mut ServiceConfig| {
        let json = web::JsonConfig::default()
            .limit(state.settings.max_body_bytes)
            .error_handler(|error, _| ApiError::from(error).into());
        // Ids and query strings are read by `extract`, which names the field; these keep
        // plain `web::Path` (user keys) and `web::Query` extractors to the JSON shape too.
        let path =
            web::PathConfig::default().error_handler(|error, _| ApiError::from(error).into());
        let query = web::QueryConfig::default()
            .error_handler(|error, _| ApiError::invalid("query", error.to_string()).into());
        let guarded = routes::guarded(web::scope(""))
            .default_service(web::to(unmatched))
            .wrap(from_fn(auth::require_token));
        let all = routes::open(web::scope(""))
            .service(guarded)
            .wrap(from_fn(observe::observe));
        config
            .app_data(Data::new(state.clone()))
            .app_data(json)
            .app_data(path)
            .app_data(query)
            .service(all);
    }
}

/// Answers requests no route took: 405 when the path exists with other methods, else
/// 404.
async fn unmatched(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if req.resource_map().has_resource(req.path()) {
        Err(ApiError::MethodNotAllowed(format!(
            "{} is not allowed on {}",
            req.method(),
            req.path()
        )))
    } else {
        Err(ApiError::NotFound(format!("no route {}", req.path())))
    }
}
