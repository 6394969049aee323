//! The table of bad requests: each row a method, a path, a body with its content type,
//! and the answer it must get.

use actix_web::http::{Method, StatusCode};
use serde_json::{Value, json};

/// A conversation id no test creates.
pub const MISSING: i64 = 987_654_321;
/// Size of the oversize bodies: far above the 2 MiB JSON limit.
pub const HUGE_BYTES: usize = 50 * 1024 * 1024;

/// A request body.
pub enum Body {
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
pub enum Expect {
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
pub struct Case {
    pub name: &'static str,
    pub method: Method,
    pub path: String,
    pub body: Body,
    pub expect: Expect,
}

pub fn fails(status: u16, code: &'static str, field: &'static str) -> Expect {
    Expect::Error {
        status: StatusCode::from_u16(status).expect("a status"),
        code,
        field,
    }
}

/// A 400 `invalid_input` whose message names `field`.
pub fn invalid(field: &'static str) -> Expect {
    fails(400, "invalid_input", field)
}

/// A 404 `not_found`.
pub fn not_found() -> Expect {
    fails(404, "not_found", "")
}

pub fn row(name: &'static str, method: Method, path: &str, body: Body, expect: Expect) -> Case {
    Case {
        name,
        method,
        path: path.to_string(),
        body,
        expect,
    }
}

pub fn text(content_type: &'static str, body: &str) -> Body {
    Body::Raw(content_type, body.as_bytes().to_vec())
}

pub fn json_text(body: &str) -> Body {
    text("application/json", body)
}

/// A message body of `role` and `content` plus `extra` fields.
pub fn message(extra: Value) -> Body {
    let mut body = json!({"role": "user", "content": "hello"});
    for (key, value) in extra.as_object().expect("an object") {
        body[key] = value.clone();
    }
    Body::Json(body)
}

/// An import document of `user_key` with `messages`.
pub fn document(user_key: &str, messages: Value) -> Value {
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

pub fn document_message(id: i64, role: &str, timestamp: &str) -> Value {
    json!({"id": id, "role": role, "content": format!("m{id}"), "timestamp": timestamp, "tokens": 3})
}

pub const T1: &str = "2025-01-08T10:00:00.000000Z";
pub const T2: &str = "2025-01-08T10:05:00.000000Z";

/// An NDJSON body of `lines`.
pub fn ndjson(lines: &[String]) -> Body {
    Body::Raw("application/x-ndjson", lines.join("\n").into_bytes())
}

/// The table: `seeded` is a conversation with messages, user key `bad-input:seeded`.
// One row a line reads as a table; rustfmt would spread each row over seven lines.
#[rustfmt::skip]
pub fn cases(seeded: i64) -> Vec<Case> {
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
    let truncate = &format!("/v1/conversations/{seeded}/truncate");
    let fork = &format!("/v1/conversations/{seeded}/fork");
    let context = |query: &str| format!("/v1/conversations/{seeded}/context?{query}");
    let one_message = |id: &str| format!("/v1/conversations/{seeded}/messages/{id}");
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
        // Editing and context: ids that are not the conversation's, limits out of range.
        row("truncate: neither after_id nor last", POST, truncate, Body::Json(json!({})), invalid("after_id")),
        row("truncate: both after_id and last", POST, truncate, Body::Json(json!({"after_id": 1, "last": 1})), invalid("after_id")),
        row("truncate: last 0", POST, truncate, Body::Json(json!({"last": 0})), invalid("last")),
        row("truncate: last absurd", POST, truncate, Body::Json(json!({"last": 100_000_000})), invalid("last")),
        row("truncate: after_id 0", POST, truncate, Body::Json(json!({"after_id": 0})), invalid("after_id")),
        row("truncate: after_id of no message here", POST, truncate, Body::Json(json!({"after_id": MISSING})), invalid("after_id")),
        row("truncate: after_id a string", POST, truncate, Body::Json(json!({"after_id": "1"})), invalid("after_id")),
        row("truncate: no such conversation", POST, &format!("{missing}/truncate"), Body::Json(json!({"last": 1})), not_found()),
        row("delete message: not an id", DELETE, &one_message("x"), Body::Empty, invalid("message_id")),
        row("delete message: 0", DELETE, &one_message("0"), Body::Empty, invalid("message_id")),
        row("delete message: no such message", DELETE, &one_message(&MISSING.to_string()), Body::Empty, not_found()),
        row("fork: user_key in use", POST, fork, Body::Json(json!({"user_key": "bad-input:seeded"})), fails(409, "conflict", "user_key")),
        row("fork: no user_key", POST, fork, Body::Json(json!({"platform": "p"})), invalid("user_key")),
        row("fork: empty user_key", POST, fork, Body::Json(json!({"user_key": ""})), invalid("user_key")),
        row("fork: through_id of no message here", POST, fork, Body::Json(json!({"user_key": "bad-input:fork", "through_id": MISSING})), invalid("through_id")),
        row("fork: platform too long", POST, fork, Body::Json(json!({"user_key": "bad-input:fork", "platform": "p".repeat(51)})), invalid("platform")),
        row("fork: no such conversation", POST, &format!("{missing}/fork"), Body::Json(json!({"user_key": "bad-input:fork"})), not_found()),
        row("summary: checkpoint on no message here", PUT, summary, Body::Json(json!({"summary": "s", "covers_through_id": MISSING})), invalid("covers_through_id")),
        row("summary: checkpoint without a summary", PUT, summary, Body::Json(json!({"summary": null, "covers_through_id": 1})), invalid("covers_through_id")),
        row("summary: negative tokens", PUT, summary, Body::Json(json!({"summary": "s", "covers_through_id": 1, "tokens": -1})), invalid("tokens")),
        row("summary: huge tokens", PUT, summary, Body::Json(json!({"summary": "s", "covers_through_id": 1, "tokens": 1_i64 << 40})), invalid("tokens")),
        row("summary: tokens without a checkpoint", PUT, summary, Body::Json(json!({"summary": "s", "tokens": 3})), invalid("tokens")),
        row("context: max_tokens 0", GET, &context("max_tokens=0"), Body::Empty, invalid("max_tokens")),
        row("context: max_tokens absurd", GET, &context("max_tokens=1000000000000"), Body::Empty, invalid("max_tokens")),
        row("context: max_turns 0", GET, &context("max_turns=0"), Body::Empty, invalid("max_turns")),
        row("context: max_turns not a number", GET, &context("max_turns=many"), Body::Empty, invalid("max_turns")),
        row("context: no such conversation", GET, &format!("{missing}/context"), Body::Empty, not_found()),
        row("bulk import sent as JSON", POST, bulk, doc("bad-input:bulk", json!([])), fails(415, "unsupported_media_type", "NDJSON")),
        // NDJSON: the bad line is reported, the good ones are imported.
        row("NDJSON with a truncated line", POST, bulk, truncated_lines, Expect::Report { imported: 2, failed: &[2], present: &["bad-input:nd1", "bad-input:nd2"], absent: &["bad-input:nd-bad"] }),
        row("NDJSON with a bad timestamp", POST, bulk, bad_time_line, Expect::Report { imported: 2, failed: &[3], present: &["bad-input:nd3", "bad-input:nd5"], absent: &["bad-input:nd4"] }),
    ]
}
