//! Failures answer the contract's JSON error shape, whatever went wrong: malformed JSON,
//! wrong types, wrong content type, oversize bodies, unknown routes, wrong methods.

use actix_web::http::{Method, StatusCode};
use convstore::api::ApiSettings;
use serde_json::json;

use crate::fixtures::http::{Reply, Server, invalid};

#[actix_rt::test]
async fn malformed_json_is_400() {
    let server = Server::start().await;
    for body in [
        "{",
        "{\"user_key\": }",
        "",
        "nul",
        "{\"user_key\": \"u\", \"platform\": \"p\"} trailing",
    ] {
        let reply = server
            .post_raw("/v1/conversations", "application/json", body)
            .await;
        let message = invalid(&reply, "body");
        assert!(message.contains("JSON"), "{body:?}: {message}");
    }
    let id = server.conversation("errors:json").await;
    let reply = server
        .post_raw(
            &format!("/v1/conversations/{id}/messages"),
            "application/json",
            "[1,",
        )
        .await;
    invalid(&reply, "body");
}

#[actix_rt::test]
async fn wrong_types_and_missing_fields_name_the_field() {
    let server = Server::start().await;
    let message = invalid(
        &server
            .post(
                "/v1/conversations",
                &json!({"user_key": "u", "platform": 3}),
            )
            .await,
        "platform",
    );
    assert!(message.starts_with("platform: invalid type"), "{message}");
    let message = invalid(
        &server
            .post("/v1/conversations", &json!({"user_key": "u"}))
            .await,
        "platform",
    );
    assert!(message.contains("missing field `platform`"), "{message}");
    let message = invalid(
        &server
            .post(
                "/v1/conversations",
                &json!({"user_key": "u", "platform": "p", "chat_id": 1}),
            )
            .await,
        "chat_id",
    );
    assert!(message.starts_with("chat_id: "), "{message}");
}

#[actix_rt::test]
async fn json_bodies_need_the_json_content_type() {
    let server = Server::start().await;
    let body = r#"{"user_key": "u", "platform": "p"}"#;
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
    ] {
        let reply = server
            .post_raw("/v1/conversations", content_type, body)
            .await;
        reply.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    }
    let reply = Reply::of(
        server
            .request(Method::POST, "/v1/conversations")
            .send_body(body),
    )
    .await;
    reply.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    server
        .post_raw("/v1/conversations", "application/json; charset=utf-8", body)
        .await
        .expect(StatusCode::CREATED);
}

#[actix_rt::test]
async fn oversize_bodies_are_413() {
    let settings = ApiSettings {
        max_body_bytes: 4 * 1024,
        ..ApiSettings::default()
    };
    let server = Server::start_with(settings, None).await;
    let id = server.conversation("errors:size").await;
    let path = format!("/v1/conversations/{id}/messages");
    let big = json!({"role": "user", "content": "x".repeat(8 * 1024)});
    server
        .post(&path, &big)
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    // Without a declared length (chunked), the limit holds as the body streams in.
    let chunks = futures_util::stream::iter(
        (0..4).map(|_| Ok::<_, std::io::Error>(actix_web::web::Bytes::from(vec![b' '; 2048]))),
    );
    let request = server
        .request(Method::POST, &path)
        .insert_header(("content-type", "application/json"));
    Reply::of(request.send_stream(chunks))
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    let small = json!({"role": "user", "content": "x".repeat(1024)});
    server.post(&path, &small).await.expect(StatusCode::CREATED);
}

#[actix_rt::test]
async fn unknown_routes_are_json_404_and_wrong_methods_json_405() {
    let server = Server::start().await;
    for path in [
        "/",
        "/nope",
        "/v1",
        "/v1/conversations/1/nope",
        "/v2/stats",
        "/admin",
    ] {
        server
            .get(path)
            .await
            .error(StatusCode::NOT_FOUND, "not_found");
    }
    for (method, path) in [
        (Method::PUT, "/v1/conversations"),
        (Method::GET, "/v1/import"),
        (Method::POST, "/v1/stats"),
        (Method::PATCH, "/v1/conversations/1"),
        (Method::GET, "/admin/cleanup"),
        (Method::DELETE, "/healthz"),
    ] {
        let reply = Reply::of(server.request(method.clone(), path).send()).await;
        reply.error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    }
}

#[actix_rt::test]
async fn query_strings_are_checked() {
    let server = Server::start().await;
    invalid(&server.post_empty("/admin/cleanup?days=soon").await, "days");
    invalid(&server.post_empty("/admin/cleanup?days=-1").await, "days");
    invalid(&server.get("/v1/budget/u").await, "budget");
    invalid(&server.get("/v1/budget/u?budget=lots").await, "budget");
    invalid(
        &server.get("/v1/conversations?limit=1&limit=2").await,
        "limit",
    );
}
