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

/// A server whose documents may be 4 KiB (`limits.max_line_bytes`, in the store and the
/// HTTP layer, as the daemon sets both from it), and JSON bodies 1 KiB.
async fn small_limits() -> Server {
    let db = crate::fixtures::db::TestDb::create(convstore::db::Backend::Sqlite)
        .await
        .expect("SQLite needs no server");
    let store = db
        .store_with(convstore::store::StoreSettings {
            max_document_bytes: 4096,
            ..Default::default()
        })
        .await;
    let settings = ApiSettings {
        max_body_bytes: 1024,
        max_line_bytes: 4096,
        ..ApiSettings::default()
    };
    Server::serve(store, Some(db), settings, None)
}

/// A conversation of `user_key` with `messages` messages of 100 bytes.
async fn conversation_of(server: &Server, user_key: &str, messages: usize) -> i64 {
    let id = server.conversation(user_key).await;
    for i in 0..messages {
        server
            .post(
                &format!("/v1/conversations/{id}/messages"),
                &json!({"role": "user", "content": format!("{i:>100}")}),
            )
            .await
            .expect(StatusCode::CREATED);
    }
    id
}

#[actix_rt::test]
async fn whatever_export_writes_import_reads_back() {
    let source = small_limits().await;
    // About 2.5 KiB: more than a JSON body, less than a document.
    let medium = conversation_of(&source, "medium", 15).await;
    let document = source
        .get(&format!("/v1/conversations/{medium}/export"))
        .await
        .expect(StatusCode::OK);
    assert!(
        (1024..4096).contains(&document.body.len()),
        "{}",
        document.body.len()
    );
    let target = small_limits().await;
    let imported = target
        .post_raw("/v1/import", "application/json", document.body.clone())
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(imported.json()["message_count"], json!(15));
    let lines = source.get("/admin/export").await.expect(StatusCode::OK);
    let report = target
        .post_raw("/admin/import?on_conflict=replace", NDJSON, lines.body)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(report["imported"], json!(1), "{report}");

    // Larger than import reads: refused, by both exports, naming the limit.
    let large = conversation_of(&source, "large", 40).await;
    invalid(
        &source
            .get(&format!("/v1/conversations/{large}/export"))
            .await,
        "limits.max_line_bytes",
    );
    invalid(&source.get("/admin/export").await, "limits.max_line_bytes");
    // After more than a chunk of other documents, the body ends early: a broken
    // transfer, never a line that import would refuse.
    for i in 0..40 {
        conversation_of(&source, &format!("before-{i:02}"), 15).await;
    }
    source
        .delete(&format!("/v1/conversations/{large}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    conversation_of(&source, "large-again", 40).await;
    let answer = raw_get(&source, "/admin/export").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{}", &answer[..200]);
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
    );
    assert!(
        answer.contains("before-00"),
        "the documents before it are sent"
    );
    assert!(
        !answer.ends_with("0\r\n\r\n"),
        "the chunked body has no end: the client sees a broken transfer"
    );
}

/// The whole answer to `GET path`, as the bytes on the connection (read until the
/// server closes it).
async fn raw_get(server: &Server, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = server.base().trim_start_matches("http://");
    let mut connection = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    connection.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    connection.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}
