//! Bad requests against the HTTP API, one table row each (method, path, body with its
//! content type, expected answer): every one gets the contract's error shape with the
//! right status and code and a message naming the field, leaves the store exactly as it
//! was (stats and the full NDJSON export compared), and the server keeps serving. An
//! NDJSON import with a bad line among good ones reports that line and imports the
//! rest.

mod cases;

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use futures_util::stream;
use serde_json::{Value, json};

use self::cases::{Body, Case, Expect, HUGE_BYTES, cases};
use crate::fixtures::http::{Reply, Server, encode};

/// Sends the request of `case`.
async fn send(server: &Server, case: &Case) -> Reply {
    let request = server.request(case.method.clone(), &case.path);
    let sent = match &case.body {
        Body::Empty => request.send().await,
        Body::Json(value) => request.send_json(value).await,
        Body::Raw("", bytes) => request.send_body(bytes.clone()).await,
        Body::Raw(content_type, bytes) => {
            request
                .insert_header(("content-type", *content_type))
                .send_body(bytes.clone())
                .await
        }
        Body::Huge { declared } => {
            // One megabyte, sent fifty times: no copy of the whole body exists.
            let head = Bytes::from_static(br#"{"role": "user", "content": ""#);
            let tail = Bytes::from_static(br#""}"#);
            let chunk = Bytes::from(vec![b'x'; 1024 * 1024]);
            let chunks = std::iter::once(head.clone())
                .chain(std::iter::repeat_n(chunk, HUGE_BYTES / (1024 * 1024)))
                .chain(std::iter::once(tail.clone()));
            let body = stream::iter(chunks.map(Ok::<_, std::io::Error>));
            let request = request.insert_header(("content-type", "application/json"));
            if *declared {
                let length = (head.len() + HUGE_BYTES + tail.len()) as u64;
                request
                    .send_body(actix_web::body::SizedStream::new(length, body))
                    .await
            } else {
                request.send_stream(body).await
            }
        }
    };
    let mut response = sent.unwrap_or_else(|e| panic!("{}: no answer: {e}", case.name));
    let body = response
        .body()
        .limit(64 * 1024 * 1024)
        .await
        .unwrap_or_else(|e| panic!("{}: unreadable body: {e}", case.name));
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        body,
    }
}

/// Checks that `reply` is the contract's error answer `expected` by `case`.
fn check_error(case: &Case, reply: &Reply, status: StatusCode, code: &str, field: &str) {
    let name = case.name;
    assert_eq!(reply.status, status, "{name}: {}", reply.text());
    assert_eq!(reply.content_type(), "application/json", "{name}");
    let body: Value = serde_json::from_slice(&reply.body)
        .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {}", reply.text()));
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("{name}: no error object: {body}"));
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{name}: {body}");
    assert_eq!(error.len(), 2, "{name}: only code and message: {body}");
    assert_eq!(error["code"], code, "{name}: {body}");
    let message = error["message"].as_str().expect("a message");
    assert!(
        message.contains(field),
        "{name}: {message:?} does not name {field:?}"
    );
}

/// Everything the store holds, as the API shows it.
#[derive(Debug, PartialEq)]
struct Snapshot {
    stats: Value,
    export: String,
}

async fn snapshot(server: &Server) -> Snapshot {
    Snapshot {
        stats: server.get("/v1/stats").await.expect(StatusCode::OK).json(),
        export: server
            .get("/admin/export")
            .await
            .expect(StatusCode::OK)
            .text(),
    }
}

/// Whether `user_key` has a conversation.
async fn exists(server: &Server, user_key: &str) -> bool {
    let reply = server
        .get(&format!("/v1/conversations/by-user/{}", encode(user_key)))
        .await;
    match reply.status {
        StatusCode::OK => true,
        StatusCode::NOT_FOUND => false,
        other => panic!("by-user {user_key:?}: {other} {}", reply.text()),
    }
}

#[actix_rt::test]
async fn each_bad_request_gets_the_error_shape_and_changes_nothing() {
    let server = Server::start().await;
    let seeded = server.conversation("bad-input:seeded").await;
    server
        .post(
            &format!("/v1/conversations/{seeded}/messages/batch"),
            &json!({"messages": [
                {"role": "user", "content": "q", "tokens": 4, "idempotency_key": "q1"},
                {"role": "assistant", "content": "a", "tokens": 6, "metadata": {"model": "m"}},
            ]}),
        )
        .await
        .expect(StatusCode::CREATED);
    server
        .put(
            &format!("/v1/conversations/{seeded}/summary"),
            &json!({"summary": "kept"}),
        )
        .await
        .expect(StatusCode::OK);

    let cases = cases(seeded);
    assert!(cases.len() >= 40, "{} rows", cases.len());
    let mut before = snapshot(&server).await;
    for case in &cases {
        let reply = send(&server, case).await;
        match case.expect {
            Expect::Error {
                status,
                code,
                field,
            } => {
                check_error(case, &reply, status, code, field);
                let after = snapshot(&server).await;
                assert!(after.stats == before.stats, "{}: stats changed", case.name);
                assert!(after.export == before.export, "{}: data changed", case.name);
            }
            Expect::Report {
                imported,
                failed,
                present,
                absent,
            } => {
                let name = case.name;
                assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.text());
                let report = reply.json();
                assert_eq!(report["imported"], imported, "{name}: {report}");
                assert_eq!(report["skipped"], 0, "{name}: {report}");
                let lines: Vec<u64> = report["failed"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{name}: {report}"))
                    .iter()
                    .map(|f| {
                        assert!(f["error"].as_str().is_some_and(|e| !e.is_empty()), "{f}");
                        f["line"].as_u64().expect("a line number")
                    })
                    .collect();
                assert_eq!(lines, failed, "{name}: {report}");
                for user_key in present {
                    assert!(
                        exists(&server, user_key).await,
                        "{name}: {user_key} missing"
                    );
                }
                for user_key in absent {
                    assert!(
                        !exists(&server, user_key).await,
                        "{name}: {user_key} stored"
                    );
                }
                let after = snapshot(&server).await;
                assert_eq!(
                    after.stats["total_conversations"].as_u64(),
                    before.stats["total_conversations"]
                        .as_u64()
                        .map(|n| n + imported),
                    "{name}"
                );
                before = after;
            }
        }
    }
    server.get("/healthz").await.expect(StatusCode::OK);
}
