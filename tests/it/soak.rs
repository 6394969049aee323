//! A bounded soak of the daemon: `convstore serve` (the real binary, SQLite in a
//! temporary folder) under a mixed HTTP workload for a minute: concurrent saves (single,
//! batches, re-delivered webhooks), clears, history reads, conversation reads, stats, an
//! `/admin/export` every few seconds, and an import of an old conversation plus
//! `/admin/cleanup` every few seconds. It checks that no request fails, that the daemon's
//! memory does not grow after the warm-up, and that in the end every conversation holds
//! exactly what its client saved, counters included.
//!
//! `CONVSTORE_SOAK_SECS` shortens (or lengthens) the soak for a local run; CI runs the
//! default.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The soak's length unless `CONVSTORE_SOAK_SECS` says otherwise.
const DEFAULT_SOAK_SECS: u64 = 60;
/// The workload runs this long before the memory baseline is taken: connections,
/// threads, SQLite page caches and allocator pools have grown to their working size.
const WARM_UP: Duration = Duration::from_secs(5);
/// Clients saving messages at the same time, each into its own conversations.
const WRITERS: usize = 8;
/// Conversations each writer saves into, in turn.
const CONVERSATIONS_PER_WRITER: usize = 2;
/// Clients reading at the same time.
const READERS: usize = 2;
/// A writer clears a conversation once it holds this many messages, as a bot does when a
/// user starts over. This keeps the data at a steady size, so that memory measured at the
/// end is comparable with memory after the warm-up (a store that only grows would fill
/// SQLite's page caches, which is not a leak).
const CLEAR_AFTER: usize = 150;
/// How often the whole store is exported.
const EXPORT_EVERY: Duration = Duration::from_secs(3);
/// How often an old conversation is imported and cleaned up.
const CLEANUP_EVERY: Duration = Duration::from_secs(4);
/// Memory at the end may exceed memory after the warm-up by this factor...
const RSS_GROWTH: f64 = 1.20;
/// ...plus this many KiB: at a few tens of MB, 20% is little more than allocator noise
/// (a malloc arena trimmed or not, a thread stack touched once more).
const RSS_SLACK_KB: u64 = 5 * 1024;
/// Longest any request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

fn soak_duration() -> Duration {
    let secs = match std::env::var("CONVSTORE_SOAK_SECS") {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("CONVSTORE_SOAK_SECS={text:?} is not a number of seconds")),
        Err(_) => DEFAULT_SOAK_SECS,
    };
    Duration::from_secs(secs)
}

/// `convstore serve` on a free loopback port, a fresh SQLite folder and a token; killed
/// if the test ends without stopping it.
struct Daemon {
    child: Child,
    base: String,
    token: String,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl Daemon {
    /// Starts the daemon and waits for its READY=1.
    fn start() -> Daemon {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let socket_path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&socket_path).expect("bind the notify socket");
        socket
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("a read timeout");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let token = format!("soak-token-{}", std::process::id());
        let log = dir.path().join("convstore.log");
        let child = Command::new(env!("CARGO_BIN_EXE_convstore"))
            .arg("serve")
            .current_dir(dir.path())
            .env_remove("CONVERSATION_DB_URL")
            .env_remove("CONVSTORE_CONFIG")
            .env_remove("CONVSTORE_SOAK_SECS")
            .env("CONVERSATION_DATA_DIR", dir.path().join("data"))
            .env("CONVSTORE_BIND", format!("127.0.0.1:{port}"))
            .env("CONVSTORE_TOKEN", &token)
            // No scheduled job may delete or lock anything behind the test's back.
            .env("CONVSTORE_SCHEDULE__CLEANUP", "")
            .env("CONVSTORE_SCHEDULE__MAINTENANCE", "")
            .env("NOTIFY_SOCKET", &socket_path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("the daemon's log file"))
            .spawn()
            .expect("start convstore serve");
        let mut daemon = Daemon {
            child,
            base: format!("http://127.0.0.1:{port}"),
            token,
            log,
            dir,
        };
        let mut buffer = [0u8; 1024];
        loop {
            let n = socket.recv(&mut buffer).unwrap_or_else(|error| {
                panic!("no READY=1 from convstore: {error}\n{}", daemon.log_text())
            });
            if String::from_utf8_lossy(&buffer[..n])
                .lines()
                .any(|l| l == "READY=1")
            {
                break;
            }
        }
        assert!(
            daemon
                .child
                .try_wait()
                .expect("the daemon's state")
                .is_none(),
            "convstore exited after READY=1\n{}",
            daemon.log_text()
        );
        daemon
    }

    /// The daemon's resident memory now (`VmRSS`, KiB), and of it the anonymous part
    /// (`RssAnon`: heap, stacks; the rest is the mapped binary and files), and its
    /// number of threads.
    fn sample(&self) -> Sample {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the daemon's /proc status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc/<pid>/status"))
        };
        Sample {
            rss_kb: field("VmRSS:"),
            anon_kb: field("RssAnon:"),
            threads: field("Threads:"),
        }
    }

    /// The size of the SQLite file and its WAL, in KiB.
    fn database_kb(&self) -> u64 {
        ["conversations.db", "conversations.db-wal"]
            .iter()
            .filter_map(|name| std::fs::metadata(self.dir.path().join("data").join(name)).ok())
            .map(|m| m.len() / 1024)
            .sum()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the daemon with SIGTERM; its exit status and its log.
    fn stop(mut self) -> (ExitStatus, String) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(killed.success(), "kill -TERM failed");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for convstore") {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "convstore did not stop within 30 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        (status, self.log_text())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The daemon's memory and threads at one moment.
#[derive(Debug, Clone, Copy)]
struct Sample {
    rss_kb: u64,
    anon_kb: u64,
    threads: u64,
}

impl std::fmt::Display for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RSS {} KiB ({} KiB anonymous), {} threads",
            self.rss_kb, self.anon_kb, self.threads
        )
    }
}

/// What the clients did, and every way a request went wrong.
#[derive(Default)]
struct Tally {
    requests: RefCell<BTreeMap<&'static str, u64>>,
    errors: RefCell<Vec<String>>,
}

impl Tally {
    fn error(&self, message: String) {
        self.errors.borrow_mut().push(message);
    }

    fn total(&self) -> u64 {
        self.requests.borrow().values().sum()
    }
}

/// An HTTP client of the daemon that counts its requests and notes every failure.
struct Client<'a> {
    http: awc::Client,
    base: String,
    tally: &'a Tally,
}

impl Client<'_> {
    /// Sends `method path` (with `body` as JSON, if any); returns the answer's JSON
    /// (`Null` for an empty body) if its status is `expected`, else notes an error.
    async fn call(
        &self,
        kind: &'static str,
        method: awc::http::Method,
        path: &str,
        body: Option<&Value>,
        expected: u16,
    ) -> Option<Value> {
        *self.tally.requests.borrow_mut().entry(kind).or_default() += 1;
        let request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        let sent = match body {
            Some(body) => request.send_json(body).await,
            None => request.send().await,
        };
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => {
                self.tally.error(format!("{method} {path}: {error}"));
                return None;
            }
        };
        let status = response.status().as_u16();
        let bytes = match response.body().limit(256 * 1024 * 1024).await {
            Ok(bytes) => bytes,
            Err(error) => {
                self.tally
                    .error(format!("{method} {path}: reading the body: {error}"));
                return None;
            }
        };
        if status != expected {
            self.tally.error(format!(
                "{method} {path}: {status} instead of {expected}: {}",
                String::from_utf8_lossy(&bytes)
            ));
            return None;
        }
        if bytes.is_empty() {
            return Some(Value::Null);
        }
        if kind == "export" {
            // NDJSON: one document a line, handed back as an array.
            let lines: Result<Vec<Value>, _> = bytes
                .split(|b| *b == b'\n')
                .filter(|line| !line.is_empty())
                .map(serde_json::from_slice)
                .collect();
            return match lines {
                Ok(lines) => Some(Value::Array(lines)),
                Err(error) => {
                    self.tally
                        .error(format!("{method} {path}: a line is not JSON: {error}"));
                    None
                }
            };
        }
        match serde_json::from_slice(&bytes) {
            Ok(value) => Some(value),
            Err(error) => {
                self.tally
                    .error(format!("{method} {path}: not JSON: {error}"));
                None
            }
        }
    }

    async fn get(&self, kind: &'static str, path: &str) -> Option<Value> {
        self.call(kind, awc::http::Method::GET, path, None, 200)
            .await
    }
}

/// A conversation as its writer knows it: what it saved since the last clear.
#[derive(Debug, Clone)]
struct Tracked {
    id: i64,
    /// (content, tokens) of every message saved since the last clear, in order.
    messages: Vec<(String, i64)>,
}

/// A single save the writer may deliver again, as a chat platform re-delivers a webhook.
struct LastSave {
    conversation: usize,
    body: Value,
    message_id: i64,
}

/// Saves into `conversations` until `stop_at`: mostly single messages, every 10th
/// operation a batch (a tool call and its result), every 7th a re-delivery of the last
/// single save, and a clear once a conversation holds `CLEAR_AFTER` messages.
async fn writer(
    client: &Client<'_>,
    writer: usize,
    mut conversations: Vec<Tracked>,
    stop_at: Instant,
) -> Vec<Tracked> {
    let mut last: Option<LastSave> = None;
    let mut n: u64 = 0;
    while Instant::now() < stop_at {
        n += 1;
        let index = (n as usize) % conversations.len();
        let conversation = &mut conversations[index];
        let id = conversation.id;
        if conversation.messages.len() >= CLEAR_AFTER {
            let path = format!("/v1/conversations/{id}/messages");
            if client
                .call("clear", awc::http::Method::DELETE, &path, None, 204)
                .await
                .is_some()
            {
                conversation.messages.clear();
                if last.as_ref().is_some_and(|l| l.conversation == index) {
                    last = None;
                }
            }
            continue;
        }
        if n.is_multiple_of(10) {
            let tokens = [(n % 13) as i64 + 1, (n % 7) as i64, (n % 17) as i64 + 2];
            let contents = [
                format!("w{writer} n{n}: calling the weather tool"),
                format!("w{writer} n{n}: {{\"temperature\": {}}}", n % 35),
                format!("w{writer} n{n}: it is {} degrees", n % 35),
            ];
            let body = json!({"messages": [
                {"role": "assistant", "content": contents[0], "tokens": tokens[0],
                 "metadata": {"tool_calls": [{"name": "weather"}]}},
                {"role": "tool", "content": contents[1], "tokens": tokens[1]},
                {"role": "assistant", "content": contents[2], "tokens": tokens[2]},
            ]});
            let path = format!("/v1/conversations/{id}/messages/batch");
            if let Some(answer) = client
                .call("batch", awc::http::Method::POST, &path, Some(&body), 201)
                .await
            {
                let saved: Vec<&str> = answer["messages"]
                    .as_array()
                    .map(|m| m.iter().filter_map(|m| m["content"].as_str()).collect())
                    .unwrap_or_default();
                if saved != contents.iter().map(String::as_str).collect::<Vec<_>>() {
                    client
                        .tally
                        .error(format!("batch into {id}: answered {answer}"));
                }
                conversation
                    .messages
                    .extend(contents.into_iter().zip(tokens));
            }
            continue;
        }
        if n.is_multiple_of(7)
            && let Some(repeat) = &last
        {
            let id = conversations[repeat.conversation].id;
            let path = format!("/v1/conversations/{id}/messages");
            if let Some(answer) = client
                .call(
                    "redelivery",
                    awc::http::Method::POST,
                    &path,
                    Some(&repeat.body),
                    200,
                )
                .await
                && answer["id"].as_i64() != Some(repeat.message_id)
            {
                client.tally.error(format!(
                    "re-delivery into {id} answered {answer}, not message {}",
                    repeat.message_id
                ));
            }
            continue;
        }
        let content = format!("w{writer} n{n}: message");
        let tokens = (n % 40) as i64 + 1;
        let role = if n.is_multiple_of(2) {
            "user"
        } else {
            "assistant"
        };
        let body = json!({
            "role": role,
            "content": content,
            "tokens": tokens,
            "idempotency_key": format!("w{writer}-{n}"),
        });
        let path = format!("/v1/conversations/{id}/messages");
        if let Some(answer) = client
            .call("save", awc::http::Method::POST, &path, Some(&body), 201)
            .await
        {
            conversation.messages.push((content, tokens));
            last = answer["id"].as_i64().map(|message_id| LastSave {
                conversation: index,
                body,
                message_id,
            });
        }
    }
    conversations
}

/// Reads until `stop_at`: history windows (checked oldest first, at most the window,
/// all of the asked conversation), conversation records, and the statistics.
async fn reader(client: &Client<'_>, reader: usize, ids: &[i64], stop_at: Instant) {
    let mut n = reader;
    while Instant::now() < stop_at {
        n += 1;
        let id = ids[n % ids.len()];
        if n.is_multiple_of(5) {
            if let Some(stats) = client.get("stats", "/v1/stats").await
                && !stats["total_messages"].is_i64()
            {
                client
                    .tally
                    .error(format!("stats without total_messages: {stats}"));
            }
        } else if n.is_multiple_of(3) {
            if let Some(conversation) = client
                .get("conversation", &format!("/v1/conversations/{id}"))
                .await
                && conversation["id"].as_i64() != Some(id)
            {
                client
                    .tally
                    .error(format!("conversation {id} answered {conversation}"));
            }
        } else if let Some(answer) = client
            .get(
                "history",
                &format!("/v1/conversations/{id}/history?max_messages=50"),
            )
            .await
        {
            let messages = answer["messages"].as_array().cloned().unwrap_or_default();
            let ids: Vec<i64> = messages.iter().filter_map(|m| m["id"].as_i64()).collect();
            let in_order = ids.windows(2).all(|w| w[0] < w[1]);
            let all_ours = messages
                .iter()
                .all(|m| m["conversation_id"].as_i64() == Some(id));
            if messages.len() > 50 || ids.len() != messages.len() || !in_order || !all_ours {
                client
                    .tally
                    .error(format!("history of {id} is not a window of it: {answer}"));
            }
        }
    }
}

/// Exports the whole store every `every` until `stop_at`. Every line must be a document
/// of the store, its messages oldest first, and every conversation of `ids` must be in
/// it once. With `snapshots`, each document's counters must also match its messages.
async fn exporter(
    client: &Client<'_>,
    ids: &[i64],
    every: Duration,
    snapshots: bool,
    stop_at: Instant,
) -> u64 {
    let mut exports = 0;
    while Instant::now() + every < stop_at {
        actix_rt::time::sleep(every).await;
        let Some(Value::Array(documents)) = client.get("export", "/admin/export").await else {
            continue;
        };
        exports += 1;
        let exported: Vec<i64> = documents
            .iter()
            .filter_map(|d| d["conversation"]["id"].as_i64())
            .collect();
        if exported.len() != documents.len() || !exported.windows(2).all(|w| w[0] < w[1]) {
            client
                .tally
                .error(format!("export {exports}: conversation ids {exported:?}"));
        }
        if let Some(missing) = ids.iter().find(|id| !exported.contains(id)) {
            client
                .tally
                .error(format!("export {exports} lacks conversation {missing}"));
        }
        for document in &documents {
            let message_ids: Option<Vec<i64>> = document["messages"]
                .as_array()
                .map(|m| m.iter().filter_map(|m| m["id"].as_i64()).collect());
            if !message_ids.is_some_and(|ids| ids.windows(2).all(|w| w[0] < w[1])) {
                client.tally.error(format!(
                    "export {exports}: a malformed document: {document}"
                ));
            }
            if snapshots && let Err(problem) = consistent(document) {
                client
                    .tally
                    .error(format!("export {exports} under load: {problem}"));
            }
        }
    }
    exports
}

/// Every [`CLEANUP_EVERY`] until `stop_at`: imports a conversation last active in 2000
/// and runs a cleanup of everything idle for ten years, which must delete exactly it.
async fn cleaner(client: &Client<'_>, stop_at: Instant) -> u64 {
    let mut cycles = 0;
    while Instant::now() + CLEANUP_EVERY < stop_at {
        actix_rt::time::sleep(CLEANUP_EVERY).await;
        cycles += 1;
        let old = "2000-01-08T10:00:00.123456Z";
        let document = json!({
            "conversation": {"user_key": format!("soak:old:{cycles}"), "platform": "qq",
                             "created_at": old, "last_activity": old},
            "messages": [
                {"role": "user", "content": "an old question", "timestamp": old, "tokens": 4},
                {"role": "assistant", "content": "an old answer", "timestamp": old, "tokens": 6},
            ],
        });
        if client
            .call(
                "import",
                awc::http::Method::POST,
                "/v1/import",
                Some(&document),
                201,
            )
            .await
            .is_none()
        {
            continue;
        }
        if let Some(report) = client
            .call(
                "cleanup",
                awc::http::Method::POST,
                "/admin/cleanup?days=3650",
                None,
                200,
            )
            .await
            && report["deleted"].as_u64() != Some(1)
        {
            client.tally.error(format!(
                "cleanup {cycles} deleted {report}, not the 1 old one"
            ));
        }
    }
    cycles
}

/// Whether an export document's counters match its messages (the soak records no usage
/// outside messages, so the tokens add up exactly).
fn consistent(document: &Value) -> Result<(), String> {
    let conversation = &document["conversation"];
    let messages = document["messages"]
        .as_array()
        .ok_or_else(|| format!("a document without messages: {document}"))?;
    let count = messages.len() as i64;
    let tokens: i64 = messages.iter().filter_map(|m| m["tokens"].as_i64()).sum();
    let stated = (
        conversation["message_count"].as_i64(),
        conversation["total_tokens"].as_i64(),
    );
    if stated != (Some(count), Some(tokens)) {
        return Err(format!(
            "conversation {} states {stated:?} but holds {count} messages of {tokens} tokens",
            conversation["id"]
        ));
    }
    Ok(())
}

/// Samples the daemon's memory every few seconds until `stop_at`; returns the sample
/// taken at the end of the warm-up.
async fn monitor(daemon: &Daemon, warm_up_ends: Instant, stop_at: Instant) -> Sample {
    actix_rt::time::sleep_until(warm_up_ends.into()).await;
    let warm = daemon.sample();
    println!("soak: after the {WARM_UP:?} warm-up: {warm}");
    let every = Duration::from_secs(10);
    while Instant::now() + every < stop_at {
        actix_rt::time::sleep(every).await;
        println!(
            "soak: {}, database {} KiB",
            daemon.sample(),
            daemon.database_kb()
        );
    }
    warm
}

/// Creates the conversations of every writer, `CONVERSATIONS_PER_WRITER` each.
async fn create_conversations(client: &Client<'_>) -> Vec<Vec<Tracked>> {
    let mut plans = Vec::new();
    for w in 0..WRITERS {
        let mut tracked = Vec::new();
        for c in 0..CONVERSATIONS_PER_WRITER {
            let body = json!({"user_key": format!("soak:w{w}:c{c}"), "platform": "slack",
                              "chat_id": format!("chat-{w}")});
            let created = client
                .call(
                    "create",
                    awc::http::Method::POST,
                    "/v1/conversations",
                    Some(&body),
                    201,
                )
                .await
                .expect("create a conversation");
            let id = created["id"].as_i64().expect("a conversation id");
            tracked.push(Tracked {
                id,
                messages: Vec::new(),
            });
        }
        plans.push(tracked);
    }
    plans
}

#[actix_rt::test]
async fn the_daemon_stays_correct_and_flat_under_a_minute_of_mixed_load() {
    let soak = soak_duration();
    let daemon = Daemon::start();
    let tally = Tally::default();
    let client = Client {
        http: awc::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .bearer_auth(&daemon.token)
            .finish(),
        base: daemon.base.clone(),
        tally: &tally,
    };

    let plans = create_conversations(&client).await;
    let ids: Vec<i64> = plans.iter().flatten().map(|t| t.id).collect();

    let started = Instant::now();
    let warm_up_ends = started + WARM_UP;
    let stop_at = warm_up_ends + soak;
    let writers = futures_util::future::join_all(
        plans
            .into_iter()
            .enumerate()
            .map(|(w, tracked)| writer(&client, w, tracked, stop_at)),
    );
    let readers =
        futures_util::future::join_all((0..READERS).map(|r| reader(&client, r, &ids, stop_at)));
    let (tracked, _, exports, cleanups, warm) = futures_util::join!(
        writers,
        readers,
        exporter(&client, &ids, EXPORT_EVERY, false, stop_at),
        cleaner(&client, stop_at),
        monitor(&daemon, warm_up_ends, stop_at),
    );
    let ran = started.elapsed();
    let end = daemon.sample();
    let requests = tally.total();
    println!(
        "soak: {requests} requests in {ran:.1?} ({:.0}/s), {exports} exports, {cleanups} cleanups: {:?}",
        requests as f64 / ran.as_secs_f64(),
        tally.requests.borrow()
    );
    println!("soak: after the warm-up: {warm}; at the end: {end}");

    let errors = tally.errors.borrow().clone();
    assert!(
        errors.is_empty(),
        "{} requests went wrong; the first: {:#?}",
        errors.len(),
        &errors[..errors.len().min(10)]
    );
    assert!(
        exports >= 1 && cleanups >= 1,
        "the soak was too short to export ({exports}) and clean up ({cleanups})"
    );
    let limit = (warm.rss_kb as f64 * RSS_GROWTH) as u64 + RSS_SLACK_KB;
    assert!(
        end.rss_kb <= limit,
        "the daemon grew from {warm} after the warm-up to {end} (limit {limit} KiB)"
    );

    // Quiet now: every conversation holds exactly what its writer saved since its last
    // clear, in order, and its counters say so, in the record, the export and the stats.
    let exported = client
        .get("export", "/admin/export")
        .await
        .expect("the final export");
    let documents: BTreeMap<i64, &Value> = exported
        .as_array()
        .expect("export lines")
        .iter()
        .map(|d| (d["conversation"]["id"].as_i64().expect("an id"), d))
        .collect();
    let tracked: Vec<Tracked> = tracked.into_iter().flatten().collect();
    assert_eq!(
        documents.keys().copied().collect::<Vec<_>>(),
        ids,
        "the export holds exactly the soak's conversations (the old ones were cleaned up)"
    );
    let mut total_messages = 0;
    let mut total_tokens = 0;
    for conversation in &tracked {
        let document = documents[&conversation.id];
        consistent(document).unwrap_or_else(|problem| panic!("final export: {problem}"));
        let stored: Vec<(String, i64)> = document["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| {
                (
                    m["content"].as_str().expect("content").to_string(),
                    m["tokens"].as_i64().expect("tokens"),
                )
            })
            .collect();
        assert_eq!(
            stored, conversation.messages,
            "conversation {} holds what its writer saved",
            conversation.id
        );
        let record = client
            .get(
                "conversation",
                &format!("/v1/conversations/{}", conversation.id),
            )
            .await
            .expect("the conversation record");
        let count = conversation.messages.len() as i64;
        let tokens: i64 = conversation.messages.iter().map(|(_, t)| t).sum();
        assert_eq!(
            (
                record["message_count"].as_i64(),
                record["total_tokens"].as_i64()
            ),
            (Some(count), Some(tokens)),
            "the counters of conversation {}",
            conversation.id
        );
        total_messages += count;
        total_tokens += tokens;
    }
    let stats = client.get("stats", "/v1/stats").await.expect("the stats");
    assert_eq!(
        (
            stats["total_conversations"].as_i64(),
            stats["total_messages"].as_i64(),
            stats["total_tokens"].as_i64()
        ),
        (
            Some(ids.len() as i64),
            Some(total_messages),
            Some(total_tokens)
        ),
        "the stats add up: {stats}"
    );
    assert!(
        tally.errors.borrow().is_empty(),
        "{:#?}",
        tally.errors.borrow()
    );

    let (status, log) = daemon.stop();
    assert!(status.success(), "convstore exited with {status:?}\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(!log.contains("ERROR"), "the daemon logged errors:\n{log}");
}

// An export is meant to be a backup: each document a consistent picture of one
// conversation, so that importing it restores the same counters, however many saves
// and clears land while it is read (the store reads each page on one snapshot).
#[actix_rt::test]
async fn every_exported_document_is_consistent_under_concurrent_writes() {
    let daemon = Daemon::start();
    let tally = Tally::default();
    let client = Client {
        http: awc::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .bearer_auth(&daemon.token)
            .finish(),
        base: daemon.base.clone(),
        tally: &tally,
    };
    let plans = create_conversations(&client).await;
    let ids: Vec<i64> = plans.iter().flatten().map(|t| t.id).collect();
    let stop_at = Instant::now() + Duration::from_secs(10);
    let writers = futures_util::future::join_all(
        plans
            .into_iter()
            .enumerate()
            .map(|(w, tracked)| writer(&client, w, tracked, stop_at)),
    );
    let (_, exports) = futures_util::join!(
        writers,
        exporter(&client, &ids, Duration::from_millis(200), true, stop_at),
    );
    let errors = tally.errors.borrow().clone();
    assert!(exports >= 10, "only {exports} exports ran");
    assert!(
        errors.is_empty(),
        "{} problems in {exports} exports; the first: {:#?}",
        errors.len(),
        &errors[..errors.len().min(10)]
    );
    let (status, log) = daemon.stop();
    assert!(status.success(), "convstore exited with {status:?}\n{log}");
}
