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

mod client;
mod workload;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use self::client::{Client, Tally};
use self::workload::{
    Tracked, cleaner, consistent, create_conversations, exporter, reader, writer,
};
use crate::fixtures::daemon::{Convstore, Daemon};

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
/// The daemon's token.
const TOKEN: &str = "soak-token";

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

impl Sample {
    /// The resident memory (`VmRSS`, KiB) of process `pid` now, of it the anonymous part
    /// (`RssAnon`: heap, stacks; the rest is the mapped binary and files), and its
    /// number of threads.
    fn of(pid: u32) -> Sample {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
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
}

/// The size of the daemon's SQLite file and its WAL, in KiB.
fn database_kb(daemon: &Daemon) -> u64 {
    ["conversations.db", "conversations.db-wal"]
        .iter()
        .filter_map(|name| std::fs::metadata(daemon.dir().join("data").join(name)).ok())
        .map(|m| m.len() / 1024)
        .sum()
}

/// `convstore serve` on a fresh SQLite folder with a token, and no scheduled job that
/// could delete or lock anything behind the test's back.
fn start() -> Daemon {
    Convstore::new("serve")
        .env("CONVSTORE_TOKEN", TOKEN)
        .env("CONVSTORE_SCHEDULE__CLEANUP", "")
        .env("CONVSTORE_SCHEDULE__MAINTENANCE", "")
        // Warnings only, but the line the port is read from.
        .env("RUST_LOG", "warn,convstore::app=info")
        .start()
}

/// A client of `daemon` that counts into `tally`.
fn client<'a>(daemon: &Daemon, tally: &'a Tally) -> Client<'a> {
    Client {
        http: awc::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .bearer_auth(TOKEN)
            .finish(),
        base: daemon.base.clone(),
        tally,
    }
}

/// Samples the daemon's memory every few seconds until `stop_at`; returns the sample
/// taken at the end of the warm-up.
async fn monitor(daemon: &Daemon, warm_up_ends: Instant, stop_at: Instant) -> Sample {
    actix_rt::time::sleep_until(warm_up_ends.into()).await;
    let warm = Sample::of(daemon.pid());
    println!("soak: after the {WARM_UP:?} warm-up: {warm}");
    let every = Duration::from_secs(10);
    while Instant::now() + every < stop_at {
        actix_rt::time::sleep(every).await;
        println!(
            "soak: {}, database {} KiB",
            Sample::of(daemon.pid()),
            database_kb(daemon)
        );
    }
    warm
}

#[actix_rt::test]
async fn the_daemon_stays_correct_and_flat_under_a_minute_of_mixed_load() {
    let soak = soak_duration();
    let daemon = start();
    let tally = Tally::default();
    let client = client(&daemon, &tally);

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
    let end = Sample::of(daemon.pid());
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

    let (status, log) = daemon.stop().await;
    assert!(status.success(), "convstore exited with {status:?}\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(!log.contains("ERROR"), "the daemon logged errors:\n{log}");
}

// An export is meant to be a backup: each document a consistent picture of one
// conversation, so that importing it restores the same counters, however many saves
// and clears land while it is read (the store reads each page on one snapshot).
#[actix_rt::test]
async fn every_exported_document_is_consistent_under_concurrent_writes() {
    let daemon = start();
    let tally = Tally::default();
    let client = client(&daemon, &tally);
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
    let (status, log) = daemon.stop().await;
    assert!(status.success(), "convstore exited with {status:?}\n{log}");
}
