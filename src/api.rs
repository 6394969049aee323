//! The HTTP API of `shared/API.md`, on actix-web. Handlers are thin: read and check the
//! request, send the store a message, turn the answer into JSON. Every failure answers
//! `{"error": {"code", "message"}}` (see [`ApiError`]), including malformed JSON, bad
//! query strings, unknown routes and wrong methods.
//!
//! The app mounts it with `App::new().configure(api::configure(state.clone()))`.

mod admin;
mod ask;
mod auth;
mod bulk;
mod conversations;
mod error;
mod extract;
mod messages;
mod ndjson;
mod observe;
mod ops;
mod query;
mod stats;
mod transfer;

use std::sync::Arc;

use actix::{Addr, Recipient};
use actix_web::middleware::from_fn;
use actix_web::web::{self, Data, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, Scope};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

pub use error::{ApiError, ErrorBody, ErrorDetail};

use crate::StoreActor;
use crate::metrics::Metrics;
use crate::scheduler::GetSchedule;
use crate::store::requests::OnConflict;

/// Everything the HTTP layer needs.
#[derive(Clone)]
pub struct ApiState {
    /// The store every route talks to.
    pub store: Addr<StoreActor>,
    /// The scheduler, for `GET /admin/schedule` and the job counters of `/metrics`;
    /// `None` when the daemon runs without one.
    pub scheduler: Option<Recipient<GetSchedule>>,
    /// Limits and defaults.
    pub settings: ApiSettings,
    /// The counters `/metrics` shows; shared by every worker.
    pub metrics: Arc<Metrics>,
}

/// Limits and defaults of the HTTP layer; the defaults are the configuration's
/// (`ApiSettings::default()` is `Config::default().api_settings(None)`).
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// The bearer token every route but `/healthz` and `/readyz` requires; `None`: no
    /// authentication.
    pub token: Option<String>,
    /// Largest JSON body, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// Largest NDJSON body of `POST /admin/import`, in bytes; it is read as a stream,
    /// not held in memory.
    pub max_import_bytes: usize,
    /// Largest line of an NDJSON import, in bytes; a longer line is reported as failed.
    pub max_line_bytes: usize,
    /// The age limit of `POST /admin/cleanup` when it names no `days`.
    pub cleanup_days: i64,
}

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
        let guarded = guarded_routes(web::scope(""))
            .default_service(web::to(unmatched))
            .wrap(from_fn(auth::require_token));
        let all = open_routes(web::scope(""))
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

/// Declares the routes once: registration and the OpenAPI document come from the same
/// list, so that no route can be left out of either.
macro_rules! routes {
    (
        open: [$($open_module:ident::$open:ident),* $(,)?],
        guarded: [$($module:ident::$handler:ident),* $(,)?] $(,)?
    ) => {
        /// The routes that need no token.
        fn open_routes(scope: Scope) -> Scope {
            scope$(.service($open_module::$open))*
        }

        /// The routes that need the token, when one is configured.
        fn guarded_routes(scope: Scope) -> Scope {
            scope$(.service($module::$handler))*
        }

        /// The OpenAPI 3 document of every route, served at `/openapi.json`.
        #[derive(utoipa::OpenApi)]
        #[openapi(
            paths($($open_module::$open,)* $($module::$handler),*),
            components(schemas(ErrorBody, OnConflict)),
            modifiers(&BearerAuth),
            security(("bearer" = [])),
        )]
        pub struct ApiDoc;
    };
}

routes! {
    open: [ops::healthz, ops::readyz],
    guarded: [
        // By user before the `{id}` routes: `/v1/conversations/by-user/history` is a
        // user's conversation, not the history of conversation "by-user".
        conversations::by_user,
        conversations::create,
        conversations::list,
        conversations::read,
        conversations::remove,
        conversations::usage,
        conversations::summary,
        conversations::persona,
        messages::save,
        messages::save_batch,
        messages::history,
        messages::clear,
        transfer::export,
        transfer::import,
        stats::stats,
        stats::budget,
        admin::cleanup,
        admin::vacuum,
        admin::schedule,
        bulk::export_all,
        bulk::import_all,
        ops::metrics,
        ops::openapi,
    ],
}

/// Adds the bearer-token scheme that the document's `security` refers to.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
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

/// 201 when the call created the record, 200 when it existed.
fn created_or_ok(created: bool) -> HttpResponseBuilder {
    if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    }
}
