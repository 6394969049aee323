//! The operator console: a page and its static assets (`console/` in the repository,
//! embedded in the binary), served at `GET /console` and `GET /console/{asset}`. They
//! need no token because they hold no data: the page asks the operator for the token
//! and calls the API with it. Every answer carries a strict Content-Security-Policy
//! (scripts, styles and connections from this origin only, nothing inline, no
//! framing) and an ETag, so that browsers revalidate instead of keeping a stale copy
//! after an upgrade. `[http] console = false` turns both routes into 404s.

use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, ETAG, HeaderValue, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS,
};
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, get};

use super::error::{ApiError, ErrorBody};
use super::state::ApiState;

/// What the page may load and do: only this origin's scripts, styles, images, API
/// calls and service worker; no inline code, no plugins, no forms posted anywhere, no
/// embedding in another site's frame.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; worker-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    /// Its name under `/console/`.
    name: &'static str,
    /// Its `Content-Type`.
    content_type: &'static str,
    /// Its bytes.
    body: &'static [u8],
    /// A hash of its bytes, for its ETag.
    hash: u64,
}

/// An [`Asset`] from the repository's `console/` folder.
macro_rules! asset {
    ($name:literal, $content_type:literal) => {{
        const BODY: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/", $name));
        Asset {
            name: $name,
            content_type: $content_type,
            body: BODY,
            hash: fnv1a(BODY),
        }
    }};
}

/// The page itself, served at `/console`.
const PAGE: Asset = asset!("index.html", "text/html; charset=utf-8");

/// Everything the page loads, served at `/console/{name}`.
const ASSETS: &[Asset] = &[
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("chart.js", "text/javascript; charset=utf-8"),
    asset!("conversation.js", "text/javascript; charset=utf-8"),
    asset!("conversations.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("operations.js", "text/javascript; charset=utf-8"),
    asset!("overview.js", "text/javascript; charset=utf-8"),
    asset!("download-worker.js", "text/javascript; charset=utf-8"),
];

/// The console page; it asks for the token and calls the API with it. Needs no token.
#[utoipa::path(
    tag = "console",
    security(()),
    responses(
        (status = 200, description = "The console's HTML page", content_type = "text/html", body = String),
        (status = 304, description = "Not modified since the ETag presented"),
        (status = 404, description = "The console is turned off (`[http] console = false`)", body = ErrorBody),
    )
)]
#[get("/console")]
pub async fn page(state: Data<ApiState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&state, &req, &PAGE)
}

/// A file of the console (script, style sheet, icon). Needs no token.
#[utoipa::path(
    tag = "console",
    security(()),
    params(("asset" = String, Path, description = "The file's name, e.g. `app.js`")),
    responses(
        (status = 200, description = "The file", content(
            ("text/javascript"), ("text/css"), ("image/svg+xml")
        )),
        (status = 304, description = "Not modified since the ETag presented"),
        (status = 404, description = "No such file, or the console is turned off", body = ErrorBody),
    )
)]
#[get("/console/{asset}")]
pub async fn file(
    state: Data<ApiState>,
    req: HttpRequest,
    name: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let found = ASSETS.iter().find(|asset| asset.name == name.as_str());
    let asset =
        found.ok_or_else(|| ApiError::NotFound(format!("no console file {:?}", name.as_str())))?;
    serve(&state, &req, asset)
}

/// `asset` with the console's headers, or 304 when the browser's copy is current.
fn serve(state: &ApiState, req: &HttpRequest, asset: &Asset) -> Result<HttpResponse, ApiError> {
    if !state.settings.console {
        return Err(ApiError::NotFound(
            "the console is turned off ([http] console = false)".into(),
        ));
    }
    let tag = format!("\"{:016x}\"", asset.hash);
    let current = req
        .headers()
        .get_all(IF_NONE_MATCH)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|presented| presented.trim() == tag || presented.trim() == "*");
    let mut response = if current {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    with_headers(&mut response, &tag);
    Ok(if current {
        response.finish()
    } else {
        response.content_type(asset.content_type).body(asset.body)
    })
}

/// The headers of every console answer.
fn with_headers(response: &mut HttpResponseBuilder, tag: &str) {
    response
        .insert_header((CONTENT_SECURITY_POLICY, POLICY))
        .insert_header((X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .insert_header((REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        // Revalidate every time: the names carry no version, and a 304 costs nothing.
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .insert_header((ETAG, tag));
}

/// 64-bit FNV-1a of `bytes`, computed at compile time: a strong ETag needs only to
/// change whenever the bytes do.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut index = 0;
    while index < bytes.len() {
        hash ^= bytes[index] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        index += 1;
    }
    hash
}
