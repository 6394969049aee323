//! Export and import: one conversation as a JSON document, the whole store as NDJSON.

use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use convstore::Role;
use convstore::api::ApiSettings;
use convstore::store::requests::{GetOrCreate, NewMessage, SaveMessages, SetSummary};
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::fixtures::http::{Reply, Server, invalid};

const NDJSON: &str = "application/x-ndjson";

/// A document the way the Python original writes it: no `format`, naive timestamps,
/// `conversation_id` in each message, metadata null.
fn python_document(user_key: &str) -> Value {
    json!({
        "conversation": {
            "id": 7, "user_key": user_key, "platform": "feishu", "chat_id": "c9",
            "created_at": "2025-01-08T10:00:00.123456", "last_activity": "2025-01-08T10:05:00",
            "summary": "greetings", "total_tokens": 50, "message_count": 2
        },
        "messages": [
            {"id": 1, "conversation_id": 7, "role": "user", "content": "hi", "timestamp": "2025-01-08T10:00:00.123456", "tokens": 10, "metadata": null},
            {"id": 2, "conversation_id": 7, "role": "assistant", "content": "hello", "timestamp": "2025-01-08T10:05:00", "tokens": 20, "metadata": {"model": "m"}}
        ]
    })
}

/// `document` without the ids a store assigns, for comparing two stores' exports.
fn without_ids(mut document: Value) -> Value {
    document["conversation"]
        .as_object_mut()
        .unwrap()
        .remove("id");
    for message in document["messages"].as_array_mut().unwrap() {
        message.as_object_mut().unwrap().remove("id");
    }
    document
}

/// The export's lines, parsed and keyed by user, ids removed.
fn exported(reply: &Reply) -> Vec<Value> {
    assert_eq!(reply.content_type(), NDJSON);
    let text = reply.text();
    assert!(text.is_empty() || text.ends_with('\n'));
    let mut documents: Vec<Value> = text
        .lines()
        .map(|line| without_ids(serde_json::from_str(line).expect("each line is a JSON document")))
        .collect();
    documents.sort_by(|a, b| {
        a["conversation"]["user_key"]
            .as_str()
            .cmp(&b["conversation"]["user_key"].as_str())
    });
    documents
}

#[actix_rt::test]
async fn one_conversation_exports_and_imports() {
    let server = Server::start().await;
    let imported = server
        .post("/v1/import", &python_document("py:1"))
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(
        (
            imported["message_count"].as_i64(),
            imported["total_tokens"].as_i64()
        ),
        (Some(2), Some(50))
    );
    assert_eq!(imported["created_at"], "2025-01-08T10:00:00.123456Z");
    let id = imported["id"].as_i64().unwrap();

    let document = server
        .get(&format!("/v1/conversations/{id}/export"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(document["format"], "convstore/1");
    assert_eq!(document["conversation"], imported);
    assert_eq!(
        document["messages"][0]["timestamp"],
        "2025-01-08T10:00:00.123456Z"
    );
    assert_eq!(document["messages"][0]["metadata"], json!({}));
    assert_eq!(document["messages"][1]["metadata"], json!({"model": "m"}));

    // The user key exists: skip (the default) returns it with 200; replace is 201.
    let skipped = server
        .post("/v1/import", &document)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(skipped["id"], id);
    server
        .post("/v1/import?on_conflict=skip", &document)
        .await
        .expect(StatusCode::OK);
    let replaced = server
        .post("/v1/import?on_conflict=replace", &document)
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(
        without_ids(json!({"conversation": replaced, "messages": []})),
        without_ids(json!({"conversation": imported, "messages": []}))
    );
    invalid(
        &server.post("/v1/import?on_conflict=merge", &document).await,
        "on_conflict",
    );
    invalid(
        &server.post("/v1/import?on_conflict=", &document).await,
        "on_conflict",
    );
}

#[actix_rt::test]
async fn invalid_documents_name_the_field_and_write_nothing() {
    let server = Server::start().await;
    let mut document = python_document("py:bad");
    document["messages"][1]["role"] = json!("wizard");
    invalid(
        &server.post("/v1/import", &document).await,
        "messages[1].role",
    );
    let mut document = python_document("py:bad");
    document["conversation"]
        .as_object_mut()
        .unwrap()
        .remove("user_key");
    invalid(
        &server.post("/v1/import", &document).await,
        "conversation.user_key",
    );
    invalid(&server.post("/v1/import", &json!([])).await, "document");
    server
        .get("/v1/conversations/by-user/py%3Abad")
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        server.get("/v1/stats").await.json()["total_conversations"],
        0
    );
}

#[actix_rt::test]
async fn the_whole_store_round_trips_through_ndjson() {
    let source = Server::start().await;
    let store = source.store.clone();
    let seeds = (0..300).map(|n| {
        let store = store.clone();
        async move {
            let created = store
                .send(GetOrCreate {
                    user_key: format!("bulk:{n:03}"),
                    platform: "qq".into(),
                    chat_id: Some(format!("chat{n}")),
                })
                .await
                .unwrap()
                .unwrap();
            let id = created.conversation.id;
            let messages = (0..n % 4)
                .map(|m| {
                    NewMessage::new(
                        if m % 2 == 0 {
                            Role::User
                        } else {
                            Role::Assistant
                        },
                        format!("m{m} of {n} \u{1F600}\n\"quoted\""),
                    )
                    .tokens(m)
                    .metadata(json!({"n": n}))
                })
                .collect();
            if n % 4 != 0 {
                store
                    .send(SaveMessages {
                        conversation_id: id,
                        messages,
                    })
                    .await
                    .unwrap()
                    .unwrap();
            }
            if n % 3 == 0 {
                store
                    .send(SetSummary {
                        conversation_id: id,
                        summary: Some(format!("summary {n}")),
                        covers_through_id: None,
                        tokens: None,
                    })
                    .await
                    .unwrap()
                    .unwrap();
            }
        }
    });
    join_all(seeds).await;

    let export = source.get("/admin/export").await.expect(StatusCode::OK);
    let documents = exported(&export);
    assert_eq!(documents.len(), 300);

    // Import into an empty store, the body streamed in chunks that split lines anywhere.
    let target = Server::start().await;
    let chunks: Vec<Result<Bytes, std::io::Error>> = export
        .body
        .chunks(777)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let request = target
        .request(Method::POST, "/admin/import")
        .insert_header(("content-type", NDJSON));
    let report = Reply::of(request.send_stream(futures_util::stream::iter(chunks)))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        report,
        json!({"imported": 300, "skipped": 0, "failed": [], "failed_count": 0})
    );
    assert_eq!(
        exported(&target.get("/admin/export").await.expect(StatusCode::OK)),
        documents
    );
    assert_eq!(
        target.get("/v1/stats").await.json(),
        source.get("/v1/stats").await.json()
    );

    // Again: every line is skipped; with replace, every line is imported again.
    let again = target
        .post_raw("/admin/import", NDJSON, export.body.clone())
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        again,
        json!({"imported": 0, "skipped": 300, "failed": [], "failed_count": 0})
    );
    let replaced = target
        .post_raw(
            "/admin/import?on_conflict=replace",
            NDJSON,
            export.body.clone(),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(replaced["imported"], 300);
    assert_eq!(exported(&target.get("/admin/export").await), documents);
}

#[actix_rt::test]
async fn an_empty_store_exports_nothing() {
    let server = Server::start().await;
    let export = server.get("/admin/export").await.expect(StatusCode::OK);
    assert_eq!(export.content_type(), NDJSON);
    assert!(export.body.is_empty());
    let report = server
        .post_raw("/admin/import", NDJSON, "")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        report,
        json!({"imported": 0, "skipped": 0, "failed": [], "failed_count": 0})
    );
}

#[actix_rt::test]
async fn an_import_report_lists_the_first_failures_and_counts_the_rest() {
    let server = Server::start().await;
    const BAD: usize = 3 * convstore::api::MAX_REPORTED_FAILURES;
    let mut body: String = (0..BAD).map(|n| format!("{{bad line {n}\n")).collect();
    body.push_str(&python_document("good:after").to_string());
    let report = server
        .post_raw("/admin/import", NDJSON, body)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(report["imported"], 1);
    assert_eq!(report["failed_count"], BAD);
    let failed = report["failed"].as_array().unwrap();
    assert_eq!(failed.len(), convstore::api::MAX_REPORTED_FAILURES);
    assert_eq!(failed[0]["line"], 1);
    assert_eq!(
        failed.last().unwrap()["line"],
        convstore::api::MAX_REPORTED_FAILURES
    );
}

#[actix_rt::test]
async fn bad_lines_are_reported_and_the_rest_imported() {
    let settings = ApiSettings {
        max_line_bytes: 2048,
        ..ApiSettings::default()
    };
    let server = Server::start_with(settings, None).await;
    let mut missing_key = python_document("x");
    missing_key["conversation"]
        .as_object_mut()
        .unwrap()
        .remove("user_key");
    let mut too_long = python_document("long");
    too_long["messages"][0]["content"] = json!("x".repeat(4096));
    let lines = [
        python_document("good:1").to_string(),
        "{not json".to_string(),
        python_document("good:2").to_string(),
        String::new(),
        missing_key.to_string(),
        too_long.to_string(),
        python_document("good:1").to_string(),
        python_document("good:3").to_string() + "\r",
        python_document("good:4").to_string(),
    ];
    // The last line has no newline.
    let body = lines.join("\n");
    let report = server
        .post_raw("/admin/import", NDJSON, body)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(report["imported"], 4, "{report}");
    assert_eq!(report["skipped"], 1, "{report}");
    let failed = report["failed"].as_array().unwrap();
    let numbers: Vec<i64> = failed.iter().map(|f| f["line"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [2, 5, 6], "{report}");
    assert!(
        failed[0]["error"].as_str().unwrap().contains("JSON"),
        "{report}"
    );
    assert!(
        failed[1]["error"]
            .as_str()
            .unwrap()
            .contains("conversation.user_key"),
        "{report}"
    );
    assert!(
        failed[2]["error"].as_str().unwrap().contains("2048"),
        "{report}"
    );
    for user in ["good%3A1", "good%3A2", "good%3A3", "good%3A4"] {
        server
            .get(&format!("/v1/conversations/by-user/{user}"))
            .await
            .expect(StatusCode::OK);
    }
    server
        .get("/v1/conversations/by-user/long")
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
}

#[actix_rt::test]
async fn bulk_import_checks_type_size_and_query() {
    let settings = ApiSettings {
        max_import_bytes: 1024,
        ..ApiSettings::default()
    };
    let server = Server::start_with(settings, None).await;
    let line = python_document("size:1").to_string() + "\n";
    server
        .post_raw("/admin/import", "text/plain", line.clone())
        .await
        .error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    server
        .post_raw("/admin/import", "application/json", line.clone())
        .await
        .error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    invalid(
        &server
            .post_raw("/admin/import?on_conflict=overwrite", NDJSON, line.clone())
            .await,
        "on_conflict",
    );
    let big = line.repeat(4);
    server
        .post_raw("/admin/import", NDJSON, big.clone())
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    // Streamed without a declared length, the limit stops the read.
    let chunks = big
        .into_bytes()
        .chunks(100)
        .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
        .collect::<Vec<_>>();
    let request = server
        .request(Method::POST, "/admin/import")
        .insert_header(("content-type", NDJSON));
    let message = Reply::of(request.send_stream(futures_util::stream::iter(chunks)))
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    assert!(message.contains("lines were processed"), "{message}");
    server
        .post_raw("/admin/import", "application/x-ndjson; charset=utf-8", line)
        .await
        .expect(StatusCode::OK);
}
