//! Memory bounded by configuration, not data: the daemon's peak RSS (`VmHWM`, reset
//! before each operation through `/proc/<pid>/clear_refs`) while it exports a
//! conversation of 1,000,000 messages, exports the whole store, reads a history window
//! over it, imports a document of 4 MiB, runs VACUUM over the file, and cleans the large
//! conversation up into an archive.

use std::time::{Duration, Instant};

use diesel::{Connection, RunQueryDsl, SqliteConnection, connection::SimpleConnection};
use futures_util::StreamExt;
use serde_json::json;

use crate::fixtures::daemon::Convstore;

/// Messages of the large conversation.
const MESSAGES: u64 = 1_000_000;
/// Most an operation may add to the daemon's RSS, over what it was before the
/// operation: the reader's page cache (16 MB), a page of messages, the chunks in flight.
const MAX_GROWTH_MB: u64 = 96;
/// The line limit of the test's daemon: the large conversation.s document (210 MB) fits.
const MAX_LINE_BYTES: usize = 512 << 20;
/// The size of the imported document, and the most its import may add to the RSS (the
/// line, its parsed form, the rows).
const IMPORTED_BYTES: usize = 4 << 20;
const MAX_IMPORT_GROWTH_MB: u64 = 96;

#[actix_rt::test]
async fn memory_stays_flat_on_a_large_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let archive = dir.path().join("archive");
    let configured = |command: Convstore| {
        command
            .env("CONVERSATION_DATA_DIR", &data)
            .env("CONVSTORE_SCHEDULE__ARCHIVE_DIR", &archive)
            .env("CONVSTORE_SCHEDULE__CLEANUP", "")
            .env("CONVSTORE_SCHEDULE__MAINTENANCE", "")
            .env(
                "CONVSTORE_LIMITS__MAX_LINE_BYTES",
                MAX_LINE_BYTES.to_string(),
            )
            // Exports read 1,000 messages a page (64 MiB / 64 KiB), the most they do.
            .env(
                "CONVSTORE_LIMITS__MAX_CONTENT_BYTES",
                (64 << 10).to_string(),
            )
            .env(
                "CONVSTORE_LIMITS__MAX_IMPORT_BYTES",
                MAX_LINE_BYTES.to_string(),
            )
    };
    let (status, log) = configured(Convstore::new("migrate"))
        .run(Duration::from_secs(60))
        .await;
    assert!(status.success(), "{log}");
    fill(&data.join("conversations.db"));
    let daemon = configured(Convstore::new("serve")).start();
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(600))
        .finish();
    let base = daemon.base.clone();
    let pid = daemon.pid();

    let file_mb = std::fs::metadata(data.join("conversations.db"))
        .unwrap()
        .len()
        >> 20;
    let mut report = vec![format!("SQLite file: {file_mb} MB")];
    let mut measure = async |name: &str, bound_mb: u64, request: Request| {
        let before = rss_kb(pid, "VmRSS");
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset VmHWM");
        let started = Instant::now();
        let Some((status, bytes)) = request.run(&client, &base).await else {
            panic!("{name}: no answer\n{}\n{}", report.join("\n"), daemon.log());
        };
        let peak = rss_kb(pid, "VmHWM");
        let growth_mb = peak.saturating_sub(before) / 1024;
        report.push(format!(
            "{name}: {status}, {bytes} bytes in {:?}, RSS {} MB before, peak {} MB (+{growth_mb} MB, bound {bound_mb})",
            started.elapsed(),
            before / 1024,
            peak / 1024
        ));
        assert!(
            status.is_success(),
            "{name}: {status}\n{}",
            report.join("\n")
        );
        (growth_mb <= bound_mb, bytes)
    };
    let document = large_document();
    let operations: [(&str, u64, Request); 6] = [
        (
            "export of the large conversation",
            MAX_GROWTH_MB,
            Request::get("/v1/conversations/1/export"),
        ),
        (
            "/admin/export",
            MAX_GROWTH_MB,
            Request::get("/admin/export"),
        ),
        (
            "history window without user messages",
            MAX_GROWTH_MB,
            Request::get("/v1/conversations/1/history?max_turns=10"),
        ),
        (
            "import of a 4 MiB document",
            MAX_IMPORT_GROWTH_MB,
            Request::post("/admin/import", document),
        ),
        (
            "VACUUM",
            MAX_GROWTH_MB,
            Request::post("/admin/vacuum", Vec::new()),
        ),
        (
            "archived cleanup",
            MAX_GROWTH_MB,
            Request::post("/admin/cleanup?days=30", Vec::new()),
        ),
    ];
    let mut results = Vec::new();
    for (name, bound_mb, request) in operations {
        results.push(measure(name, bound_mb, request).await);
    }
    let report = report.join("\n");
    eprintln!("{report}");
    assert!(
        results.iter().all(|(within, _)| *within),
        "over the bound:\n{report}"
    );
    for (_, bytes) in &results[..2] {
        assert!(
            *bytes > MESSAGES * 150,
            "the whole conversation is exported:\n{report}"
        );
    }
    let archived = std::fs::read_dir(&archive)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert!(
        archived.metadata().unwrap().len() > MESSAGES * 100,
        "{report}"
    );
    drop(daemon);
}

/// Fills the migrated SQLite file at `path`: conversation 1 of [`MESSAGES`] assistant
/// messages of about 100 bytes, last active in 2020, and 200 small conversations.
fn fill(path: &std::path::Path) {
    let mut conn = SqliteConnection::establish(&path.to_string_lossy()).unwrap();
    conn.batch_execute(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;
         BEGIN;
         INSERT INTO conversations (user_key, platform, created_at, last_activity, message_count)
             VALUES ('large', 'qq', '2020-01-01 00:00:00', '2020-01-01 00:00:00', {MESSAGES});
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {MESSAGES})
         INSERT INTO messages (conversation_id, role, content, timestamp, tokens)
             SELECT 1, 'assistant', printf('message %090d', i), '2020-01-01 00:00:00', 1 FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
         INSERT INTO conversations (user_key, platform, created_at, last_activity, message_count)
             SELECT 'small-' || i, 'qq', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 0 FROM n;
         COMMIT;"
    ))
    .unwrap();
    let count: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT COUNT(*) FROM messages)",
    ))
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(count as u64, MESSAGES);
}

/// One NDJSON line of a document of about [`IMPORTED_BYTES`].
fn large_document() -> Vec<u8> {
    let message = json!({"role": "user", "content": "x".repeat(100), "tokens": 1});
    let per_message = message.to_string().len() + 1;
    let count = IMPORTED_BYTES / per_message;
    let document = json!({
        "conversation": {"user_key": "imported", "platform": "qq"},
        "messages": vec![message; count],
    });
    let mut line = serde_json::to_vec(&document).unwrap();
    line.push(b'\n');
    line
}

/// A request of the test, its body read as a stream and counted.
struct Request {
    post: Option<Vec<u8>>,
    path: &'static str,
}

impl Request {
    fn get(path: &'static str) -> Request {
        Request { post: None, path }
    }

    fn post(path: &'static str, body: Vec<u8>) -> Request {
        Request {
            post: Some(body),
            path,
        }
    }

    /// Sends it; answers the status and the size of the body, `None` without an answer.
    async fn run(self, client: &awc::Client, base: &str) -> Option<(awc::http::StatusCode, u64)> {
        let url = format!("{base}{}", self.path);
        let sent = match self.post {
            None => client.get(url).send().await,
            Some(body) => {
                client
                    .post(url)
                    .insert_header(("content-type", "application/x-ndjson"))
                    .send_body(body)
                    .await
            }
        };
        let mut response = sent.ok()?;
        let mut bytes = 0;
        while let Some(chunk) = response.next().await {
            bytes += chunk.ok()?.len() as u64;
        }
        Some((response.status(), bytes))
    }
}

/// A `/proc/<pid>/status` figure, in kB.
fn rss_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}
