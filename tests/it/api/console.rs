//! The operator console's page and files (`GET /console`, `GET /console/{asset}`):
//! open without the token, every file of `console/` served as committed with its
//! content type, strict headers, revalidation by ETag, nothing loaded from elsewhere,
//! and the `[http] console` switch. The page itself is tested in a real browser by
//! `tests/console/`.

use std::path::PathBuf;

use actix_web::http::{Method, StatusCode};
use convstore::api::ApiSettings;

use crate::fixtures::http::{Reply, Server};

const TOKEN: &str = "console-test-token";

async fn server(console: bool) -> Server {
    let settings = ApiSettings {
        token: Some(TOKEN.into()),
        console,
        ..ApiSettings::default()
    };
    Server::start_with(settings, None).await
}

/// `GET path` without the token, with `if_none_match` if given.
async fn anonymous(server: &Server, path: &str, if_none_match: Option<&str>) -> Reply {
    let mut request = server.request(Method::GET, path);
    request.headers_mut().remove("authorization");
    if let Some(tag) = if_none_match {
        request = request.insert_header(("if-none-match", tag));
    }
    Reply::of(request.send()).await
}

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

/// The committed files of the console (`console/` at the workspace's root, beside this
/// test package `cli/`), by name.
fn committed() -> Vec<(String, Vec<u8>)> {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../console");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&folder)
        .expect("the console folder")
        .map(|entry| {
            let path = entry.expect("an entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).expect("a readable file"))
        })
        .collect();
    files.sort();
    files
}

fn content_type_of(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        other => panic!("a console file of unexpected kind {other:?}"),
    }
}

fn check_headers(reply: &Reply) {
    let policy = header(reply, "content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} missing: {policy}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    assert_eq!(header(reply, "x-content-type-options"), "nosniff");
    assert_eq!(header(reply, "cache-control"), "no-cache");
    assert_eq!(header(reply, "referrer-policy"), "no-referrer");
    let tag = header(reply, "etag");
    assert!(
        tag.starts_with('"') && tag.ends_with('"') && tag.len() > 2,
        "{tag}"
    );
}

#[actix_rt::test]
async fn every_console_file_is_served_as_committed_without_the_token() {
    let server = server(true).await;
    let files = committed();
    assert!(files.iter().any(|(name, _)| name == "index.html"));
    let mut tags = Vec::new();
    for (name, bytes) in &files {
        let path = if name == "index.html" {
            "/console".to_string()
        } else {
            format!("/console/{name}")
        };
        let reply = anonymous(&server, &path, None).await.expect(StatusCode::OK);
        assert_eq!(reply.content_type(), content_type_of(name), "{path}");
        assert_eq!(&reply.body[..], &bytes[..], "{path} is served as committed");
        check_headers(&reply);
        tags.push(header(&reply, "etag").to_string());
    }
    tags.sort();
    tags.dedup();
    assert_eq!(tags.len(), files.len(), "each file has its own ETag");

    // The data stays behind the token.
    anonymous(&server, "/v1/stats", None)
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
}

#[actix_rt::test]
async fn the_page_loads_nothing_from_elsewhere_and_builds_no_markup_from_text() {
    for (name, bytes) in committed() {
        let text = String::from_utf8(bytes).expect("UTF-8");
        // Every absolute URL is the SVG namespace, which names no resource to load.
        let outside = text
            .match_indices("://")
            .filter(|(at, _)| {
                !text[..*at].ends_with("http")
                    || !text[*at..].starts_with("://www.w3.org/2000/svg\"")
            })
            .count();
        assert_eq!(outside, 0, "{name} names another origin");
        assert!(!text.contains("url("), "{name} loads a URL from a style");
        if name.ends_with(".js") {
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
            ] {
                assert!(!text.contains(sink), "{name} uses {sink}");
            }
        }
    }
}

#[actix_rt::test]
async fn a_current_etag_is_answered_304() {
    let server = server(true).await;
    let first = anonymous(&server, "/console/app.js", None)
        .await
        .expect(StatusCode::OK);
    let tag = header(&first, "etag").to_string();
    let again = anonymous(&server, "/console/app.js", Some(&tag))
        .await
        .expect(StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(header(&again, "etag"), tag);
    check_headers(&again);
    let listed = format!("\"0000000000000000\", {tag}");
    anonymous(&server, "/console/app.js", Some(&listed))
        .await
        .expect(StatusCode::NOT_MODIFIED);
    let other = anonymous(&server, "/console/app.js", Some("\"0000000000000000\""))
        .await
        .expect(StatusCode::OK);
    assert_eq!(other.body, first.body);
    // Another file's tag is not this one's.
    let page = anonymous(&server, "/console", Some(&tag)).await;
    assert_eq!(page.status, StatusCode::OK);
}

#[actix_rt::test]
async fn unknown_files_are_404() {
    let server = server(true).await;
    for path in [
        "/console/nope.js",
        "/console/index.html",
        "/console/..%2Fconfig.toml",
    ] {
        anonymous(&server, path, None)
            .await
            .error(StatusCode::NOT_FOUND, "not_found");
    }
}

#[actix_rt::test]
async fn the_switch_turns_the_console_off() {
    let server = server(false).await;
    for path in ["/console", "/console/app.js"] {
        let message = anonymous(&server, path, None)
            .await
            .error(StatusCode::NOT_FOUND, "not_found");
        assert!(message.contains("console = false"), "{message}");
    }
}
