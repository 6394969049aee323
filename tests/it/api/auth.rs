//! Bearer-token authentication: every route but /healthz and /readyz needs the token
//! when one is configured.

use actix_web::http::{Method, StatusCode};
use convstore::api::ApiSettings;
use serde_json::json;

use crate::fixtures::http::{Reply, Server};

const TOKEN: &str = "s3cret-token";

async fn guarded_server() -> Server {
    let settings = ApiSettings {
        token: Some(TOKEN.into()),
        ..ApiSettings::default()
    };
    Server::start_with(settings, None).await
}

/// The request without the server's token, with `authorization` if given.
async fn without_token(
    server: &Server,
    method: Method,
    path: &str,
    authorization: Option<&str>,
) -> Reply {
    let mut request = server.request(method, path);
    request.headers_mut().remove("authorization");
    if let Some(value) = authorization {
        request = request.insert_header(("authorization", value));
    }
    Reply::of(request.send()).await
}

#[actix_rt::test]
async fn a_missing_or_wrong_token_is_401() {
    let server = guarded_server().await;
    let paths = [
        (Method::GET, "/v1/stats"),
        (Method::GET, "/v1/conversations/1"),
        (Method::POST, "/v1/conversations"),
        (Method::GET, "/metrics"),
        (Method::GET, "/openapi.json"),
        (Method::GET, "/admin/export"),
        (Method::GET, "/admin/schedule"),
        (Method::GET, "/no/such/route"),
    ];
    for (method, path) in paths {
        for authorization in [
            None,
            Some("Bearer wrong"),
            Some("Bearer s3cret-toke"),
            Some("Bearer s3cret-token2"),
            Some("Basic czNjcmV0LXRva2Vu"),
            Some(TOKEN),
            Some("Bearer"),
        ] {
            let reply = without_token(&server, method.clone(), path, authorization).await;
            reply.error(StatusCode::UNAUTHORIZED, "unauthorized");
            assert_eq!(reply.headers.get("www-authenticate").unwrap(), "Bearer");
            assert!(
                !reply.text().contains(TOKEN),
                "the token leaked: {}",
                reply.text()
            );
        }
    }
}

#[actix_rt::test]
async fn the_right_token_passes() {
    let server = guarded_server().await;
    server.get("/v1/stats").await.expect(StatusCode::OK);
    server
        .post(
            "/v1/conversations",
            &json!({"user_key": "auth:u", "platform": "qq"}),
        )
        .await
        .expect(StatusCode::CREATED);
    // The scheme name is case-insensitive.
    let reply = without_token(
        &server,
        Method::GET,
        "/v1/stats",
        Some(&format!("bearer {TOKEN}")),
    )
    .await;
    reply.expect(StatusCode::OK);
    server
        .get("/no/such/route")
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
}

#[actix_rt::test]
async fn health_routes_are_open() {
    let server = guarded_server().await;
    let health = without_token(&server, Method::GET, "/healthz", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(health.json(), json!({"status": "ok"}));
    let ready = without_token(&server, Method::GET, "/readyz", Some("Bearer wrong"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(ready.json(), json!({"status": "ready"}));
}
