//! Crash safety of `convstore serve`, the real binary on every backend: sixteen clients
//! save concurrently over HTTP while the daemon is SIGKILLed at random moments and
//! restarted on the same database, again and again; afterwards every acknowledged save
//! is there exactly once, and each conversation's counters match its rows. A save that
//! got no answer may or may not have been committed: it is sent again with the same
//! idempotency key after the restart, which must store it once either way. A SIGTERM
//! under load exits 0 and keeps every acknowledged save too.
//!
//! SIGKILL tests a process crash, not a power cut: the kernel keeps what was written.

mod daemon;

use std::cell::Cell;
use std::ops::AddAssign;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use awc::error::SendRequestError;
use convstore::db::Backend;
use futures_util::future::{join, join_all};
use serde_json::{Value, json};

use self::daemon::{Daemon, Site};
use crate::helpers::TestDb;

/// Clients saving at once, each to a conversation of its own.
const CLIENTS: usize = 16;
/// The longest a daemon is left running under load before it is stopped, counted from
/// the first acknowledged save after its start.
const MAX_RUN: Duration = Duration::from_millis(200);
/// How long a graceful stop may take.
const EXIT_LIMIT: Duration = Duration::from_secs(40);

/// SIGKILLs per run. SQLite restarts fast, so it gets more in the same time; the
/// servers get fewer to keep the suite short (each start opens a pool of connections).
fn kills(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 60,
        Backend::Postgres | Backend::Mysql => 20,
    }
}

backend_test!(acknowledged_saves_survive_sigkill, async |db: &TestDb| {
    let started = Instant::now();
    let kills = kills(db.backend());
    let mut jitter = Jitter::seeded();
    let mut site = Site::new(db);
    let mut daemon = site.start();
    let mut writers = open_writers(&daemon.base, "kill").await;
    let mut tally = Tally::default();
    for _ in 0..kills {
        tally += run_until(&mut daemon, &mut writers, jitter.below(MAX_RUN), Stop::Kill).await;
        daemon = site.start();
    }
    tally += settle(&daemon.base, &mut writers).await;
    let verified = verify(&daemon.base, &writers).await;
    stop_cleanly(&mut daemon).await;
    assert_eq!(
        db.count_rows("messages").await,
        verified as i64,
        "the table holds exactly the verified rows"
    );
    assert_eq!(tally.acknowledged, verified);
    println!(
        "{}: {kills} SIGKILLs in {:?} (seed {}): {tally}; {verified} acknowledged saves verified",
        db.backend(),
        started.elapsed(),
        jitter.seed,
    );
});

backend_test!(
    sigterm_under_load_exits_0_keeping_every_acknowledged_save,
    async |db: &TestDb| {
        let mut jitter = Jitter::seeded();
        let mut site = Site::new(db);
        let mut daemon = site.start();
        let mut writers = open_writers(&daemon.base, "term").await;
        let mut tally = Tally::default();
        let mut exits = Vec::new();
        for _ in 0..3 {
            let round =
                run_until(&mut daemon, &mut writers, jitter.below(MAX_RUN), Stop::Term).await;
            let signalled = Instant::now();
            let status = daemon.wait_exit(EXIT_LIMIT).await;
            exits.push(signalled.elapsed());
            let log = daemon.log();
            assert!(status.success(), "exit {status:?} after SIGTERM\n{log}");
            assert!(!log.contains("panicked"), "{log}");
            tally += round;
            // Exactly the acknowledged saves: a request the daemon read was answered
            // before it exited. (A request sent just as the daemon closed an idle
            // keep-alive connection gets no answer, and must not have been stored.)
            daemon = site.start();
            verify(&daemon.base, &writers).await;
        }
        tally += settle(&daemon.base, &mut writers).await;
        let verified = verify(&daemon.base, &writers).await;
        stop_cleanly(&mut daemon).await;
        println!(
            "{}: 3 SIGTERMs under load (seed {}), exits after {exits:?}: {tally}; {verified} \
             acknowledged saves verified",
            db.backend(),
            jitter.seed,
        );
    }
);

/// How a run under load ends.
#[derive(Clone, Copy)]
enum Stop {
    /// SIGKILL: requests in flight get no answer.
    Kill,
    /// SIGTERM: the daemon finishes what is in flight; the clients send nothing new.
    Term,
}

/// Runs every writer against `daemon` and stops the daemon `after` the first save of
/// this run is acknowledged; returns once every writer has stopped.
async fn run_until(
    daemon: &mut Daemon,
    writers: &mut [Writer],
    after: Duration,
    how: Stop,
) -> Tally {
    let client = client();
    let stopped = Cell::new(false);
    let acknowledged = Cell::new(0u64);
    let base = daemon.base.clone();
    let writing = join_all(
        writers
            .iter_mut()
            .map(|writer| writer.write_until(&client, &base, &stopped, &acknowledged)),
    );
    let stopping = async {
        let deadline = Instant::now() + Duration::from_secs(30);
        while acknowledged.get() == 0 {
            assert!(
                Instant::now() < deadline,
                "no save was answered\n{}",
                daemon.log()
            );
            actix_rt::time::sleep(Duration::from_millis(1)).await;
        }
        actix_rt::time::sleep(after).await;
        match how {
            Stop::Kill => daemon.kill(),
            Stop::Term => daemon.terminate(),
        }
        stopped.set(true);
    };
    let (tallies, ()) = join(writing, stopping).await;
    tallies.into_iter().fold(Tally::default(), |mut sum, t| {
        sum += t;
        sum
    })
}

/// Sends again every save that got no answer; each must be answered now.
async fn settle(base: &str, writers: &mut [Writer]) -> Tally {
    let client = client();
    let mut tally = Tally::default();
    for writer in writers {
        if let Some(save) = writer.unanswered.take() {
            let answer = post_save(&client, base, writer.conversation, &save)
                .await
                .unwrap_or_else(|| panic!("no answer to {:?} on a running daemon", save.key));
            tally += writer.record(save, answer, true);
        }
    }
    tally
}

/// Checks through the API that each conversation holds exactly its acknowledged saves,
/// in order, with the ids they were acknowledged with, and counters equal to its rows;
/// returns the number of messages checked.
async fn verify(base: &str, writers: &[Writer]) -> u64 {
    let client = client();
    let mut messages = 0;
    let mut tokens = 0;
    for writer in writers {
        let id = writer.conversation;
        let document = get_json(&client, &format!("{base}/v1/conversations/{id}/export")).await;
        let stored: Vec<Row> = document["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| Row {
                id: m["id"].as_i64().expect("an id"),
                content: m["content"].as_str().expect("a content").to_string(),
                tokens: m["tokens"].as_i64().expect("tokens"),
            })
            .collect();
        let acknowledged: Vec<Row> = writer.acknowledged.iter().map(Row::from).collect();
        compare(id, &stored, &acknowledged);
        let conversation = &document["conversation"];
        let sum: i64 = stored.iter().map(|row| row.tokens).sum();
        assert_eq!(
            conversation["message_count"].as_i64(),
            Some(stored.len() as i64),
            "message_count of conversation {id}"
        );
        assert_eq!(
            conversation["total_tokens"].as_i64(),
            Some(sum),
            "total_tokens of conversation {id}"
        );
        messages += stored.len() as u64;
        tokens += sum;
    }
    let stats = get_json(&client, &format!("{base}/v1/stats")).await;
    assert_eq!(stats["total_conversations"], CLIENTS, "{stats}");
    assert_eq!(stats["total_messages"], messages, "{stats}");
    assert_eq!(stats["total_tokens"], tokens, "{stats}");
    messages
}

/// Fails, naming the first differences, unless `stored` is `acknowledged`.
fn compare(conversation: i64, stored: &[Row], acknowledged: &[Row]) {
    if stored == acknowledged {
        return;
    }
    let missing: Vec<&Row> = acknowledged
        .iter()
        .filter(|row| !stored.contains(row))
        .take(5)
        .collect();
    let unexpected: Vec<&Row> = stored
        .iter()
        .filter(|row| !acknowledged.contains(row))
        .take(5)
        .collect();
    let first = stored
        .iter()
        .zip(acknowledged)
        .position(|(a, b)| a != b)
        .unwrap_or(stored.len().min(acknowledged.len()));
    panic!(
        "conversation {conversation}: {} rows stored, {} saves acknowledged; first difference \
         at {first}; acknowledged but missing: {missing:?}; stored but not acknowledged: {unexpected:?}",
        stored.len(),
        acknowledged.len()
    );
}

/// A stored or acknowledged message, as far as the check goes.
#[derive(Debug, PartialEq)]
struct Row {
    id: i64,
    content: String,
    tokens: i64,
}

impl From<&(Save, i64)> for Row {
    fn from((save, id): &(Save, i64)) -> Self {
        Row {
            id: *id,
            content: save.content.clone(),
            tokens: save.tokens,
        }
    }
}

/// Stops the daemon with SIGTERM; it must exit 0 without a panic.
async fn stop_cleanly(daemon: &mut Daemon) {
    daemon.terminate();
    let status = daemon.wait_exit(EXIT_LIMIT).await;
    let log = daemon.log();
    assert!(status.success(), "exit {status:?}\n{log}");
    assert!(!log.contains("panicked"), "{log}");
}

/// One client: saves to its conversation one message after the other.
struct Writer {
    conversation: i64,
    name: String,
    sent: u64,
    /// The saves answered 201 (or 200 on a resend), with the id they were given.
    acknowledged: Vec<(Save, i64)>,
    /// The save that got no answer, to send again.
    unanswered: Option<Save>,
}

/// One message to save, with its own content and idempotency key.
#[derive(Debug, Clone)]
struct Save {
    key: String,
    content: String,
    role: &'static str,
    tokens: i64,
}

impl Writer {
    /// The next new save.
    fn next_save(&mut self) -> Save {
        self.sent += 1;
        let n = self.sent;
        Save {
            key: format!("{}-{n}", self.name),
            content: format!("{} says {n}", self.name),
            role: if n.is_multiple_of(2) {
                "assistant"
            } else {
                "user"
            },
            tokens: ((n * 7 + self.conversation as u64) % 41) as i64,
        }
    }

    /// Saves (first the unanswered save, if any) until `stopped` or the daemon stops
    /// answering; counts each acknowledged save in `acknowledged`.
    async fn write_until(
        &mut self,
        client: &awc::Client,
        base: &str,
        stopped: &Cell<bool>,
        acknowledged: &Cell<u64>,
    ) -> Tally {
        let mut tally = Tally::default();
        while !stopped.get() {
            let (save, resent) = match self.unanswered.take() {
                Some(save) => (save, true),
                None => (self.next_save(), false),
            };
            match post_save(client, base, self.conversation, &save).await {
                Some(answer) => {
                    tally += self.record(save, answer, resent);
                    acknowledged.set(acknowledged.get() + 1);
                }
                None => {
                    self.unanswered = Some(save);
                    tally.unanswered += 1;
                    break;
                }
            }
        }
        tally
    }

    /// Keeps an acknowledged save; a 200 (already stored) is only right for a resend.
    fn record(&mut self, save: Save, (id, created): (i64, bool), resent: bool) -> Tally {
        assert!(
            created || resent,
            "{:?} was sent once, yet answered as already stored",
            save.key
        );
        let tally = Tally {
            acknowledged: 1,
            resent_committed: u64::from(resent && !created),
            resent_new: u64::from(resent && created),
            unanswered: 0,
        };
        self.acknowledged.push((save, id));
        tally
    }
}

/// Creates the writers' conversations.
async fn open_writers(base: &str, label: &str) -> Vec<Writer> {
    let client = client();
    let mut writers = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let name = format!("{label}{i}");
        let mut response = client
            .post(format!("{base}/v1/conversations"))
            .send_json(&json!({"user_key": format!("crash:{name}"), "platform": "slack"}))
            .await
            .expect("the daemon answers");
        assert_eq!(response.status().as_u16(), 201);
        let conversation: Value = response.json().await.expect("a conversation");
        writers.push(Writer {
            conversation: conversation["id"].as_i64().expect("an id"),
            name,
            sent: 0,
            acknowledged: Vec::new(),
            unanswered: None,
        });
    }
    writers
}

/// Posts `save`; `Some((id, created))` when answered, `None` when the daemon went away
/// first. Any answer other than 201 or 200 fails the test.
async fn post_save(
    client: &awc::Client,
    base: &str,
    conversation: i64,
    save: &Save,
) -> Option<(i64, bool)> {
    let sent = client
        .post(format!("{base}/v1/conversations/{conversation}/messages"))
        .send_json(&json!({
            "role": save.role,
            "content": save.content,
            "tokens": save.tokens,
            "idempotency_key": save.key,
        }))
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(SendRequestError::Timeout) => panic!("{:?} hung", save.key),
        Err(_) => return None,
    };
    let status = response.status().as_u16();
    let body = response.body().await.ok()?;
    assert!(
        status == 201 || status == 200,
        "{:?}: {status} {}",
        save.key,
        String::from_utf8_lossy(&body)
    );
    let message: Value = serde_json::from_slice(&body).expect("a message");
    assert_eq!(message["conversation_id"], conversation, "{message}");
    assert_eq!(message["content"], save.content.as_str(), "{message}");
    assert_eq!(message["role"], save.role, "{message}");
    assert_eq!(message["tokens"], save.tokens, "{message}");
    Some((message["id"].as_i64().expect("an id"), status == 201))
}

async fn get_json(client: &awc::Client, url: &str) -> Value {
    let mut response = client.get(url).send().await.expect("the daemon answers");
    let body = response.body().limit(1 << 30).await.expect("a body");
    assert_eq!(
        response.status().as_u16(),
        200,
        "{url}: {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body).expect("JSON")
}

/// A client of its own per run, so that no connection outlives its daemon (idle
/// keep-alive connections would hold a graceful stop back).
fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(20))
        .finish()
}

/// What the clients saw.
#[derive(Debug, Default)]
struct Tally {
    /// Saves answered 201, or 200 on a resend.
    acknowledged: u64,
    /// Saves that got no answer (sent again later).
    unanswered: u64,
    /// Resends answered 200: the unanswered save had been committed.
    resent_committed: u64,
    /// Resends answered 201: the unanswered save had not been committed.
    resent_new: u64,
}

impl AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.acknowledged += other.acknowledged;
        self.unanswered += other.unanswered;
        self.resent_committed += other.resent_committed;
        self.resent_new += other.resent_new;
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} acknowledged, {} unanswered (resent: {} had been committed, {} had not)",
            self.acknowledged, self.unanswered, self.resent_committed, self.resent_new
        )
    }
}

/// Random-ish delays (xorshift), seeded from the clock; the seed is printed.
struct Jitter {
    seed: u64,
    state: u64,
}

impl Jitter {
    fn seeded() -> Jitter {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        Jitter { seed, state: seed }
    }

    /// A duration in `0..max`.
    fn below(&mut self, max: Duration) -> Duration {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let max = max.as_micros().max(1) as u64;
        Duration::from_micros(self.state % max)
    }
}
