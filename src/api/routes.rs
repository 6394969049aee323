//! Every route, listed once: registration (which routes need the token, and in which
//! order they match) and the OpenAPI document come from the same list, so that no route
//! can be left out of either. The document itself is served here too.

use std::sync::LazyLock;

use actix_web::{HttpResponse, Scope, get};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::error::ErrorBody;
use super::{admin, bulk, console, conversations, editing, messages, ops, stats, transfer};
use crate::store::requests::OnConflict;

/// Declares the routes once: registration and the OpenAPI document come from the same
/// list, so that no route can be left out of either.
macro_rules! routes {
    (
        open: [$($($open:ident)::+),* $(,)?],
        guarded: [$($($guarded:ident)::+),* $(,)?] $(,)?
    ) => {
        /// The routes that need no token.
        pub fn open(scope: Scope) -> Scope {
            scope$(.service($($open)::+))*
        }

        /// The routes that need the token, when one is configured.
        pub fn guarded(scope: Scope) -> Scope {
            scope$(.service($($guarded)::+))*
        }

        /// The OpenAPI 3 document of every route, served at `/openapi.json`.
        #[derive(utoipa::OpenApi)]
        #[openapi(
            paths($($($open)::+,)* $($($guarded)::+),*),
            components(schemas(ErrorBody, OnConflict)),
            modifiers(&BearerAuth),
            security(("bearer" = [])),
        )]
        pub struct ApiDoc;
    };
}

routes! {
    open: [ops::healthz, ops::readyz, console::page, console::file],
    guarded: [
        // By user before the `{id}` routes: `/v1/conversations/by-user/history` is a
        // user's conversation, not the history of conversation "by-user".
        conversations::by_user,
        // Then the calls a bot makes every turn: the router tries each pattern in turn
        // (a regular expression for each `{id}` route), and matching its way down to
        // these was a fifth of the daemon's instructions per history read.
        messages::save,
        messages::history,
        editing::context,
        conversations::create,
        conversations::list,
        conversations::read,
        conversations::remove,
        conversations::usage,
        conversations::summary,
        conversations::persona,
        messages::save_batch,
        messages::clear,
        editing::truncate,
        editing::delete_message,
        editing::fork,
        transfer::export,
        transfer::import,
        stats::stats,
        stats::daily,
        stats::budget,
        admin::cleanup,
        admin::vacuum,
        admin::schedule,
        bulk::export_all,
        bulk::import_all,
        ops::metrics,
        document,
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

/// The OpenAPI 3 document of every route.
#[utoipa::path(
    tag = "operations",
    operation_id = "openapi",
    responses(
        (status = 200, description = "OpenAPI 3 document", body = Object),
        (status = 401, description = "A token is configured and was not presented", body = ErrorBody),
    )
)]
#[get("/openapi.json")]
pub async fn document() -> HttpResponse {
    static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);
    HttpResponse::Ok().json(&*DOCUMENT)
}
