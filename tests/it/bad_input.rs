//! Bad requests against the HTTP API, one table row each (method, path, body with its
//! content type, expected answer): every one gets the contract's error shape with the
//! right status and code and a message naming the field, leaves the store exactly as it
//! was (stats and the full NDJSON export compared), and the server keeps serving. An
//! NDJSON import with a bad line among good ones reports that line and imports the
//! rest. Strings that look like SQL injection are plain data, stored verbatim.

use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use futures_util::stream;
use serde_json::{Value, json};

use crate::api::{Reply, Server};

/// A conversation id no test creates.
const MISSING: i64 = 987_654_321;
/// Size of the oversize bodies: far above the 2 MiB JSON limit.
const HUGE_BYTES: usize = 50 * 1024 * 1024;

/// A request body.
enum Body {
    /// No body, no content type.
    Empty,
    /// A JSON value, sent as `application/json`.
    Json(Value),
    /// Bytes sent as they are, with this content type (none if empty).
    Raw(&'static str, Vec<u8>),
    /// A message of [`HUGE_BYTES`] of content, generated while it is sent; with its length
    /// declared (`Content-Length`) or chunked.
    Huge { declared: bool },
}

/// What a row expects.
enum Expect {
    /// The error shape with `status` and `code`; the message names `field`; the store
    /// is unchanged.
    Error {
        status: StatusCode,
        code: &'static str,
        field: &'static str,
    },
    /// An NDJSON import report: `imported` documents, the `failed` line numbers; the
    /// user keys of `present` exist afterwards, those of `absent` do not.
    Report {
        imported: u64,
        failed: &'static [u64],
        present: &'static [&'static str],
        absent: &'static [&'static str],
    },
}

/// One row of the table.
struct Case {
    name: &'static str,
    method: Method,
    path: String,
    body: Body,
    expect: Expect,
}

fn fails(status: u16, code: &'static str, field: &'static str) -> Expect {
    Expect::Error {
        status: StatusCode::from_u16(status).expect("a status"),
        code,
        field,
    }
}

/// A 400 `invalid_input` whose message names `field`.
fn invalid(field: &'static str) -> Expect {
    fails(400, "invalid_input", field)
}

/// A 404 `not_found`.
fn not_found() -> Expect {
    fails(404, "not_found", "")
}

fn row(name: &'static str, method: Method, path: &str, body: Body, expect: Expect) -> Case {
    Case {
        name,
        method,
        path: path.to_string(),
        body,
        expect,
    }
}

fn text(content_type: &'static str, body: &str) -> Body {
    Body::Raw(content_type, body.as_bytes().to_vec())
}

fn json_text(body: &str) -> Body {
    text("application/json", body)
}

/// A message body of `role` and `content` plus `extra` fields.
fn message(extra: Value) -> Body {
    let mut body = json!({"role": "user", "content": "hello"});
    for (key, value) in extra.as_object().expect("an object") {
        body[key] = value.clone();
    }
    Body::Json(body)
}

/// An import document of `user_key` with `messages`.
fn document(user_key: &str, messages: Value) -> Value {
    json!({
        "format": "convstore/1",
        "conversation": {
            "user_key": user_key,
            "platform": "slack",
            "created_at": "2025-01-08T10:00:00.000000Z",
            "last_activity": "2025-01-08T10:05:00.000000Z",
        },
        "messages": messages,
    })
}

fn document_message(id: i64, role: &str, timestamp: &str) -> Value {
    json!({"id": id, "role": role, "content": format!("m{id}"), "timestamp": timestamp, "tokens": 3})
}

const T1: &str = "2025-01-08T10:00:00.000000Z";
const T2: &str = "2025-01-08T10:05:00.000000Z";

/// An NDJSON body of `lines`.
fn ndjson(lines: &[String]) -> Body {
    Body::Raw("application/x-ndjson", lines.join("\n").into_bytes())
}

/// The table: `seeded` is a conversation with messages, user key `bad-input:seeded`.
// One row a line reads as a table; rustfmt would spread each row over seven lines.
#[rustfmt::skip]
fn cases(seeded: i64) -> Vec<Case> {
    const POST: Method = Method::POST;
    const GET: Method = Method::GET;
    const PUT: Method = Method::PUT;
    const DELETE: Method = Method::DELETE;
    let create = "/v1/conversations";
    let save = &format!("/v1/conversations/{seeded}/messages");
    let batch = &format!("/v1/conversations/{seeded}/messages/batch");
    let history = |query: &str| format!("/v1/conversations/{seeded}/history?{query}");
    let usage = &format!("/v1/conversations/{seeded}/usage");
    let summary = &format!("/v1/conversations/{seeded}/summary");
    let persona = &format!("/v1/conversations/{seeded}/persona");
    let missing = &format!("/v1/conversations/{MISSING}");
    let missing_save = &format!("/v1/conversations/{MISSING}/messages");
    let missing_history = &format!("/v1/conversations/{MISSING}/history");
    let import = "/v1/import";
    let bulk = "/admin/import";
    let long = "k".repeat(256);
    let good = json!({"role": "user", "content": "fine"});
    let bad_role = json!({"role": "robot", "content": "x"});
    let bad_tokens = json!({"role": "user", "content": "x", "tokens": -2});
    let user = |user_key: Value| Body::Json(json!({"user_key": user_key, "platform": "p"}));
    let doc = |user_key: &str, messages: Value| Body::Json(document(user_key, messages));
    let mut bad_created = document("bad-input:t2", json!([]));
    bad_created["conversation"]["created_at"] = json!("2025-13-45T99:00:00Z");
    let same_key = json!([
        {"role": "user", "content": "a", "idempotency_key": "k"},
        {"role": "user", "content": "b", "idempotency_key": "k"},
    ]);
    let truncated_lines = ndjson(&[
        document("bad-input:nd1", json!([document_message(1, "user", T1)])).to_string(),
        r#"{"conversation": {"user_key": "bad-input:nd-bad", "#.to_string(),
        document("bad-input:nd2", json!([document_message(1, "user", T1), document_message(2, "assistant", T2)])).to_string(),
    ]);
    let bad_time_line = ndjson(&[
        document("bad-input:nd3", json!([])).to_string(),
        String::new(),
        document("bad-input:nd4", json!([document_message(1, "user", "2025-01-08 25:00:00")])).to_string(),
        document("bad-input:nd5", json!([document_message(1, "tool", T2)])).to_string(),
    ]);
    vec![
        // Creating a conversation: syntax, shape, types, missing fields, bad values.
        row("truncated JSON", POST, create, json_text(r#"{"user_key": "u", "platform": "p""#), invalid("body")),
        row("missing comma", POST, create, json_text(r#"{"user_key": "u" "platform": "p"}"#), invalid("body")),
        row("empty JSON body", POST, create, json_text(""), invalid("body")),
        row("trailing garbage", POST, create, json_text(r#"{"user_key": "u", "platform": "p"} x"#), invalid("body")),
        row("a JSON array", POST, create, json_text(r#"["u", "p"]"#), invalid("body")),
        row("JSON null", POST, create, json_text("null"), invalid("body")),
        row("invalid UTF-8", POST, create, Body::Raw("application/json", b"{\"user_key\": \"\xff\xfe\", \"platform\": \"p\"}".to_vec()), invalid("body")),
        row("text/plain", POST, create, text("text/plain", r#"{"user_key": "u", "platform": "p"}"#), fails(415, "unsupported_media_type", "JSON")),
        row("no content type", POST, create, text("", r#"{"user_key": "u", "platform": "p"}"#), fails(415, "unsupported_media_type", "JSON")),
        row("user_key a number", POST, create, user(json!(5)), invalid("user_key")),
        row("platform a list", POST, create, Body::Json(json!({"user_key": "u", "platform": ["p"]})), invalid("platform")),
        row("chat_id a number", POST, create, Body::Json(json!({"user_key": "u", "platform": "p", "chat_id": 7})), invalid("chat_id")),
        row("missing user_key", POST, create, Body::Json(json!({"platform": "p"})), invalid("user_key")),
        row("missing platform", POST, create, Body::Json(json!({"user_key": "u"})), invalid("platform")),
        row("empty user_key", POST, create, user(json!("")), invalid("user_key")),
        row("user_key of 256 characters", POST, create, user(json!("é".repeat(256))), invalid("user_key")),
        row("user_key with a bell", POST, create, user(json!("ding\u{7}")), invalid("user_key")),
        row("user_key with a newline", POST, create, user(json!("a\nb")), invalid("user_key")),
        row("user_key with NUL", POST, create, user(json!("a\u{0}b")), invalid("user_key")),
        row("user_key with DEL", POST, create, user(json!("a\u{7f}b")), invalid("user_key")),
        row("platform of 51 characters", POST, create, Body::Json(json!({"user_key": "u", "platform": "p".repeat(51)})), invalid("platform")),
        row("chat_id of 256 characters", POST, create, Body::Json(json!({"user_key": "u", "platform": "p", "chat_id": long})), invalid("chat_id")),
        // Saving a message.
        row("unknown role", POST, save, message(json!({"role": "robot"})), invalid("role")),
        row("role in capitals", POST, save, message(json!({"role": "USER"})), invalid("role")),
        row("missing role", POST, save, Body::Json(json!({"content": "x"})), invalid("role")),
        row("missing content", POST, save, Body::Json(json!({"role": "user"})), invalid("content")),
        row("content a number", POST, save, message(json!({"content": 42})), invalid("content")),
        row("content with NUL", POST, save, message(json!({"content": "a\u{0}b"})), invalid("content")),
        row("negative tokens", POST, save, message(json!({"tokens": -1})), invalid("tokens")),
        row("tokens over 2^31-1", POST, save, message(json!({"tokens": 2_147_483_648_i64})), invalid("tokens")),
        row("tokens over i64", POST, save, json_text(r#"{"role": "user", "content": "x", "tokens": 9223372036854775808}"#), invalid("tokens")),
        row("tokens 1e300", POST, save, json_text(r#"{"role": "user", "content": "x", "tokens": 1e300}"#), invalid("tokens")),
        row("tokens a fraction", POST, save, message(json!({"tokens": 1.5})), invalid("tokens")),
        row("tokens a string", POST, save, message(json!({"tokens": "12"})), invalid("tokens")),
        row("metadata a string", POST, save, message(json!({"metadata": "{}"})), invalid("metadata")),
        row("metadata a list", POST, save, message(json!({"metadata": [1, 2]})), invalid("metadata")),
        row("empty idempotency_key", POST, save, message(json!({"idempotency_key": ""})), invalid("idempotency_key")),
        row("idempotency_key of 256 characters", POST, save, message(json!({"idempotency_key": long})), invalid("idempotency_key")),
        row("truncated message", POST, save, json_text(r#"{"role": "user", "content": "hel"#), invalid("body")),
        row("50 MB body, length declared", POST, save, Body::Huge { declared: true }, fails(413, "too_large", "limit")),
        row("50 MB body, chunked", POST, save, Body::Huge { declared: false }, fails(413, "too_large", "limit")),
        row("no such conversation", POST, missing_save, Body::Json(good.clone()), not_found()),
        row("id over i64", POST, "/v1/conversations/9223372036854775808/messages", Body::Json(good.clone()), invalid("id")),
        row("id zero", POST, "/v1/conversations/0/messages", Body::Json(good.clone()), invalid("id")),
        row("id negative", POST, "/v1/conversations/-3/messages", Body::Json(good.clone()), invalid("id")),
        row("id not a number", POST, "/v1/conversations/abc/messages", Body::Json(good.clone()), invalid("id")),
        // A batch is all or nothing: its good first message must not be saved either.
        row("batch with a bad second role", POST, batch, Body::Json(json!({"messages": [good, bad_role]})), invalid("messages[1].role")),
        row("batch with bad second tokens", POST, batch, Body::Json(json!({"messages": [good, bad_tokens]})), invalid("messages[1].tokens")),
        row("empty batch", POST, batch, Body::Json(json!({"messages": []})), invalid("messages")),
        row("batch of 1001", POST, batch, Body::Json(json!({"messages": vec![good.clone(); 1001]})), invalid("messages")),
        row("batch not a list", POST, batch, Body::Json(json!({"messages": good})), invalid("messages")),
        // History windows; ids and keys that do not exist.
        row("max_turns=0", GET, &history("max_turns=0"), Body::Empty, invalid("max_turns")),
        row("max_turns=-1", GET, &history("max_turns=-1"), Body::Empty, invalid("max_turns")),
        row("max_turns=10^12", GET, &history("max_turns=1000000000000"), Body::Empty, invalid("max_turns")),
        row("max_turns=2^64", GET, &history("max_turns=18446744073709551616"), Body::Empty, invalid("max_turns")),
        row("max_turns=ten", GET, &history("max_turns=ten"), Body::Empty, invalid("max_turns")),
        row("max_messages=0", GET, &history("max_messages=0"), Body::Empty, invalid("max_messages")),
        row("max_tokens=-5", GET, &history("max_tokens=-5"), Body::Empty, invalid("max_tokens")),
        row("before_id=0", GET, &history("before_id=0"), Body::Empty, invalid("before_id")),
        row("history of no conversation", GET, missing_history, Body::Empty, not_found()),
        row("read no conversation", GET, missing, Body::Empty, not_found()),
        row("read an id over u64", GET, "/v1/conversations/99999999999999999999", Body::Empty, invalid("id")),
        row("no such user", GET, "/v1/conversations/by-user/bad-input%3Anobody", Body::Empty, not_found()),
        row("delete no conversation", DELETE, missing, Body::Empty, not_found()),
        row("clear no conversation", DELETE, missing_save, Body::Empty, not_found()),
        row("list limit=0", GET, "/v1/conversations?limit=0", Body::Empty, invalid("limit")),
        row("negative budget", GET, "/v1/budget/u?budget=-1", Body::Empty, invalid("budget")),
        row("cleanup days=-1", POST, "/admin/cleanup?days=-1", Body::Empty, invalid("days")),
        // Counters, summary, persona.
        row("negative usage", POST, usage, Body::Json(json!({"tokens_used": -1})), invalid("tokens_used")),
        row("usage of 10^13", POST, usage, Body::Json(json!({"tokens_used": 10_000_000_000_000_i64})), invalid("tokens_used")),
        row("summary key misspelt", PUT, summary, Body::Json(json!({"summry": "typo"})), invalid("summary")),
        row("summary a number", PUT, summary, Body::Json(json!({"summary": 5})), invalid("summary")),
        row("persona of 256 characters", PUT, persona, Body::Json(json!({"persona_id": long})), invalid("persona_id")),
        // Import documents: atomic, so a bad last message writes nothing at all.
        row("import: timestamp not a time", POST, import, doc("bad-input:t1", json!([document_message(1, "user", T1), document_message(2, "user", "yesterday")])), invalid("messages[1].timestamp")),
        row("import: impossible created_at", POST, import, Body::Json(bad_created), invalid("conversation.created_at")),
        row("import: timestamp a number", POST, import, doc("bad-input:t3", json!([{"role": "user", "content": "x", "timestamp": 1736330400}])), invalid("messages[0].timestamp")),
        row("import: duplicate message ids", POST, import, doc("bad-input:dup", json!([document_message(7, "user", T1), document_message(7, "assistant", T2)])), invalid("messages[1].id")),
        row("import: duplicate idempotency keys", POST, import, doc("bad-input:keys", same_key), invalid("messages[1].idempotency_key")),
        row("import: unknown role", POST, import, doc("bad-input:role", json!([document_message(1, "narrator", T1)])), invalid("messages[0].role")),
        row("import: negative tokens", POST, import, doc("bad-input:tok", json!([{"role": "user", "content": "x", "tokens": -4}])), invalid("messages[0].tokens")),
        row("import: no conversation", POST, import, Body::Json(json!({"messages": []})), invalid("conversation")),
        row("import: no user_key", POST, import, Body::Json(json!({"conversation": {"platform": "slack"}})), invalid("conversation.user_key")),
        row("import: messages not a list", POST, import, Body::Json(json!({"conversation": {"user_key": "m", "platform": "p"}, "messages": {}})), invalid("messages")),
        row("import: on_conflict=merge", POST, "/v1/import?on_conflict=merge", doc("bad-input:merge", json!([])), invalid("on_conflict")),
        row("import: malformed JSON", POST, import, json_text(r#"{"conversation": {"user_key": "#), invalid("body")),
        // Replacing is atomic too: the seeded conversation must survive a bad document.
        row("import: replace with a bad document", POST, "/v1/import?on_conflict=replace", doc("bad-input:seeded", json!([document_message(1, "user", T1), document_message(2, "user", "2025-02-30T10:00:00Z")])), invalid("messages[1].timestamp")),
        row("bulk import sent as JSON", POST, bulk, doc("bad-input:bulk", json!([])), fails(415, "unsupported_media_type", "NDJSON")),
        // NDJSON: the bad line is reported, the good ones are imported.
        row("NDJSON with a truncated line", POST, bulk, truncated_lines, Expect::Report { imported: 2, failed: &[2], present: &["bad-input:nd1", "bad-input:nd2"], absent: &["bad-input:nd-bad"] }),
        row("NDJSON with a bad timestamp", POST, bulk, bad_time_line, Expect::Report { imported: 2, failed: &[3], present: &["bad-input:nd3", "bad-input:nd5"], absent: &["bad-input:nd4"] }),
    ]
}

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

/// `text` percent-encoded for a path segment or a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
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

#[actix_rt::test]
async fn sql_looking_strings_are_stored_verbatim() {
    let server = Server::start().await;
    let user_key = "x'; DROP TABLE conversations; --";
    let platform = "p\"; DELETE FROM messages; --";
    let chat_id = "1 OR 1=1";
    let reply = server
        .post(
            "/v1/conversations",
            &json!({"user_key": user_key, "platform": platform, "chat_id": chat_id}),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = reply.json()["id"].as_i64().expect("an id");
    // Another conversation, which a `1=1` leaking into a WHERE would touch.
    let bystander = server.conversation("bystander").await;

    let saves = [
        json!({"role": "user", "content": "' OR 1=1 --", "idempotency_key": "k' OR '1'='1",
               "metadata": {"q": "'; DROP TABLE messages; --"}}),
        json!({"role": "assistant", "content": "Robert'); DROP TABLE messages;--", "tokens": 3}),
        json!({"role": "user", "content": "%_\\%' ESCAPE '\\ \" ; SELECT * FROM sqlite_master"}),
    ];
    let mut ids = Vec::new();
    for save in &saves {
        let path = format!("/v1/conversations/{id}/messages");
        let message = server
            .post(&path, save)
            .await
            .expect(StatusCode::CREATED)
            .json();
        assert_eq!(message["content"], save["content"]);
        ids.push(message["id"].clone());
    }
    let summary = "'; UPDATE conversations SET total_tokens = 0; --";
    server
        .put(
            &format!("/v1/conversations/{id}/summary"),
            &json!({"summary": summary}),
        )
        .await
        .expect(StatusCode::OK);
    let persona = "\\'; --";
    server
        .put(
            &format!("/v1/conversations/{id}/persona"),
            &json!({"persona_id": persona}),
        )
        .await
        .expect(StatusCode::OK);

    // Read back by the key, through the list filter, and in the history.
    let found = server
        .get(&format!("/v1/conversations/by-user/{}", encode(user_key)))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(found["id"], id);
    assert_eq!(found["user_key"], user_key);
    assert_eq!(found["platform"], platform);
    assert_eq!(found["chat_id"], chat_id);
    assert_eq!(found["summary"], summary);
    assert_eq!(found["active_persona_id"], persona);
    assert_eq!(found["message_count"], 3);
    assert_eq!(found["total_tokens"], 3);
    let listed = server
        .get(&format!("/v1/conversations?user_key={}", encode(user_key)))
        .await
        .expect(StatusCode::OK)
        .json();
    let listed: Vec<&Value> = listed["conversations"]
        .as_array()
        .expect("a list")
        .iter()
        .collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], id);
    for pattern in ["%", "x%", "_"] {
        let listed = server
            .get(&format!("/v1/conversations?user_key={}", encode(pattern)))
            .await
            .expect(StatusCode::OK)
            .json();
        assert_eq!(
            listed["conversations"],
            json!([]),
            "{pattern:?} is no pattern"
        );
    }
    let history = server
        .get(&format!("/v1/conversations/{id}/history?max_messages=10"))
        .await
        .expect(StatusCode::OK)
        .json();
    let messages = history["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), saves.len());
    for ((message, save), id) in messages.iter().zip(&saves).zip(&ids) {
        assert_eq!(&message["id"], id);
        assert_eq!(message["content"], save["content"]);
        assert_eq!(message["role"], save["role"]);
    }
    assert_eq!(messages[0]["metadata"], saves[0]["metadata"]);
    // The key is a key, not a condition: the repeat finds exactly the first message.
    let repeat = server
        .post(&format!("/v1/conversations/{id}/messages"), &saves[0])
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(repeat["id"], ids[0]);

    // Nothing else moved, and the tables are all there.
    let other = server
        .get(&format!("/v1/conversations/{bystander}"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        (other["message_count"].as_i64(), other["summary"].as_str()),
        (Some(0), None)
    );
    let stats = server.get("/v1/stats").await.expect(StatusCode::OK).json();
    assert_eq!(stats["total_conversations"], 2, "{stats}");
    assert_eq!(stats["total_messages"], 3, "{stats}");
    assert_eq!(stats["longest_conversation_user"], user_key, "{stats}");
    server.get("/healthz").await.expect(StatusCode::OK);
}

#[actix_rt::test]
async fn values_just_inside_the_limits_are_accepted() {
    let server = Server::start().await;
    // 255 characters of two bytes each: the limit counts characters, not bytes.
    let user_key = "é".repeat(255);
    let reply = server
        .post(
            "/v1/conversations",
            &json!({"user_key": user_key, "platform": "p".repeat(50), "chat_id": "c".repeat(255)}),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = reply.json()["id"].as_i64().expect("an id");
    let key = "k".repeat(255);
    let path = format!("/v1/conversations/{id}/messages");
    let body = json!({"role": "tool", "content": "", "tokens": i32::MAX, "idempotency_key": key});
    let saved = server
        .post(&path, &body)
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(saved["tokens"], i32::MAX);
    server
        .get(&format!("/v1/conversations/{id}/history?max_turns=10000&max_messages=100000&max_tokens=1000000000"))
        .await
        .expect(StatusCode::OK);
    let found = server
        .get(&format!("/v1/conversations/by-user/{}", encode(&user_key)))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(found["user_key"], user_key.as_str());
    assert_eq!(found["total_tokens"], i32::MAX);
}
