//! Crash safety of `convstore serve`, the real binary on every backend: sixteen clients
//! save concurrently over HTTP while the daemon is SIGKILLed at random moments and
//! restarted on the same database, again and again; afterwards every acknowledged save
//! is there exactly once, and each conversation's counters match its rows. A save that
//! got no answer may or may not have been committed: it is sent again with the same
//! idempotency key after the restart, which must store it once either way. A SIGTERM
//! under load exits 0 and keeps every acknowledged save too.
//!
//! SIGKILL tests a process crash, not a power cut: the kernel keeps what was written.

mod writer;

use std::cell::Cell;
use std::time::{Duration, Instant};

use convstore::db::Backend;
use futures_util::future::{join, join_all};

use self::writer::{Jitter, Save, Tally, Writer, client, get_json, open_writers, post_save};
use crate::fixtures::daemon::{Convstore, Daemon};
use crate::fixtures::db::TestDb;

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
    let mut daemon = start(db);
    let mut writers = open_writers(&daemon.base, "kill").await;
    let mut tally = Tally::default();
    for _ in 0..kills {
        tally += run_until(&mut daemon, &mut writers, jitter.below(MAX_RUN), Stop::Kill).await;
        daemon = start(db);
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
        let mut daemon = start(db);
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
            daemon = start(db);
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

/// `convstore serve` on `db`, ready.
fn start(db: &TestDb) -> Daemon {
    Convstore::new("serve").database(db).start()
}

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
