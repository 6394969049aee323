//! The in-process workload: saves (one sender, then many), history reads on short and
//! long conversations, statistics, cleanup under load, export and import.

use std::time::{Duration, Instant};

use actix::Addr;
use futures_util::future::join_all;

use convstore::config::Config;
use convstore::db::{Db, DbTarget};
use convstore::store::requests::*;
use convstore::{Role, StoreActor};

use super::args::BenchArgs;
use super::fresh::{FreshDb, RunDir};
use super::report::BenchReport;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Message content of `bytes` bytes.
pub fn content(bytes: usize) -> String {
    let base = "The quick brown fox jumps over the lazy dog while the bot answers. ";
    base.repeat(bytes / base.len() + 1)[..bytes].to_string()
}

fn message(i: usize, text: &str) -> NewMessage {
    let role = if i.is_multiple_of(2) {
        Role::User
    } else {
        Role::Assistant
    };
    NewMessage::new(role, text).tokens(30)
}

/// The conversation the `n`th read of reader `worker` takes among `count`: spread
/// over all of them, and the same sequence in process and over HTTP.
pub fn pick(worker: usize, n: usize, count: usize) -> usize {
    (worker * 7919 + n * 104_729) % count
}

/// `ids` dealt to `workers` workers: worker `w` owns every `workers`-th id from the
/// `w`th (at most as many workers as ids).
pub fn split(ids: &[i64], workers: usize) -> Vec<Vec<i64>> {
    let workers = workers.clamp(1, ids.len().max(1));
    (0..workers)
        .map(|w| ids.iter().skip(w).step_by(workers).copied().collect())
        .collect()
}

/// Operations per second of operations that ran one after the other.
pub fn rate_of(latencies: &[Duration]) -> f64 {
    latencies.len() as f64 / latencies.iter().sum::<Duration>().as_secs_f64()
}

/// The `p` quantile of `samples`, in milliseconds.
pub fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_unstable();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index].as_secs_f64() * 1000.0
}

async fn save(
    store: &Addr<StoreActor>,
    conversation_id: i64,
    message: NewMessage,
) -> BenchResult<Duration> {
    let started = Instant::now();
    store
        .send(SaveMessage {
            conversation_id,
            message,
        })
        .await??;
    Ok(started.elapsed())
}

/// Creates `count` conversations keyed `tag:0`, `tag:1`, ...; answers their ids.
pub async fn create_conversations(
    store: &Addr<StoreActor>,
    count: usize,
    tag: &str,
) -> BenchResult<Vec<i64>> {
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let obtained = store
            .send(GetOrCreate {
                user_key: format!("{tag}:{i}"),
                platform: "bench".into(),
                chat_id: None,
            })
            .await??;
        ids.push(obtained.conversation.id);
    }
    Ok(ids)
}

/// `count` saves one after the other, spread over `ids`; answers each one's latency.
pub async fn sequential_saves(
    store: &Addr<StoreActor>,
    ids: &[i64],
    count: usize,
    text: &str,
) -> BenchResult<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(count);
    for i in 0..count {
        latencies.push(save(store, ids[i % ids.len()], message(i, text)).await?);
    }
    Ok(latencies)
}

/// `messages` saves to each of `ids` by `senders` concurrent senders, each owning every
/// `senders`-th conversation and sending to one of `stores` (in turn); answers saves/s.
pub async fn concurrent_saves(
    stores: &[Addr<StoreActor>],
    ids: &[i64],
    senders: usize,
    messages: usize,
    text: &str,
) -> BenchResult<f64> {
    let owned = split(ids, senders);
    let started = Instant::now();
    let senders = owned.iter().enumerate().map(|(sender, mine)| async move {
        let store = &stores[sender % stores.len()];
        for &id in mine {
            for i in 0..messages {
                save(store, id, message(i, text)).await?;
            }
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    });
    for result in join_all(senders).await {
        result?;
    }
    Ok((ids.len() * messages) as f64 / started.elapsed().as_secs_f64())
}

/// `count` history reads (last 10 turns) one after the other; answers each one's
/// latency.
pub async fn sequential_reads(
    store: &Addr<StoreActor>,
    ids: &[i64],
    count: usize,
) -> BenchResult<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(count);
    for n in 0..count {
        latencies.push(history(store, ids[pick(0, n, ids.len())]).await?);
    }
    Ok(latencies)
}

/// `total` history reads by `readers` concurrent readers; answers reads/s and each
/// read's latency.
pub async fn concurrent_reads(
    store: &Addr<StoreActor>,
    ids: &[i64],
    readers: usize,
    total: usize,
) -> BenchResult<(f64, Vec<Duration>)> {
    let each = total.div_ceil(readers.max(1));
    let started = Instant::now();
    let readers = (0..readers.max(1)).map(|worker| async move {
        let mut latencies = Vec::with_capacity(each);
        for n in 0..each {
            latencies.push(history(store, ids[pick(worker, n, ids.len())]).await?);
        }
        Ok::<_, Box<dyn std::error::Error>>(latencies)
    });
    let mut latencies = Vec::new();
    for result in join_all(readers).await {
        latencies.extend(result?);
    }
    Ok((
        latencies.len() as f64 / started.elapsed().as_secs_f64(),
        latencies,
    ))
}

/// Runs the workload on fresh databases and fills the report (but the raw ceiling).
pub async fn run(config: &Config, args: &BenchArgs, dir: &RunDir) -> BenchResult<BenchReport> {
    let text = content(args.content_bytes);
    let main = FreshDb::create(config, dir, "main").await?;
    let db = Db::open(main.settings.clone()).await?;
    let store = actix::Actor::start(StoreActor::new(db.clone(), config.store_settings()));
    let mut report = BenchReport {
        backend: db.backend().name().into(),
        workload: format!(
            "{} conversations x {} messages, concurrent saves through {} store(s)",
            args.conversations, args.messages, args.stores
        ),
        ..Default::default()
    };

    let ids = create_conversations(&store, args.conversations, "bench").await?;

    // One sender.
    let sequential = 2_000.min(args.conversations * args.messages);
    let latencies = sequential_saves(&store, &ids, sequential, &text).await?;
    report.save_rate_seq = rate_of(&latencies);

    // Many senders, each owning every `concurrency`-th conversation, spread over
    // `stores` stores of their own pools on the same database.
    let mut stores = vec![store.clone()];
    for _ in 1..args.stores {
        let other = Db::open(main.settings.clone()).await?;
        stores.push(actix::Actor::start(StoreActor::new(
            other,
            config.store_settings(),
        )));
    }
    report.save_rate_conc =
        concurrent_saves(&stores, &ids, args.concurrency, args.messages, &text).await?;

    // History reads.
    let mut short = sequential_reads(&store, &ids, args.reads).await?;
    report.load_history_p50_ms = percentile(&mut short, 0.50);
    report.load_history_p99_ms = percentile(&mut short, 0.99);

    let long_id = store
        .send(GetOrCreate {
            user_key: "bench:long".into(),
            platform: "bench".into(),
            chat_id: None,
        })
        .await??
        .conversation
        .id;
    let mut loaded = 0;
    while loaded < args.long_messages {
        let batch = 1_000.min(args.long_messages - loaded);
        let messages = (loaded..loaded + batch)
            .map(|i| message(i, &text))
            .collect();
        store
            .send(SaveMessages {
                conversation_id: long_id,
                messages,
            })
            .await??;
        loaded += batch;
    }
    let mut long = Vec::with_capacity(args.reads);
    for _ in 0..args.reads {
        long.push(history(&store, long_id).await?);
    }
    report.load_history_long_p50_ms = percentile(&mut long, 0.50);
    report.load_history_long_p99_ms = percentile(&mut long, 0.99);

    report.get_stats_ms = time_stats(&store).await?;

    // Export everything, then import it into an empty store.
    let started = Instant::now();
    let mut ndjson = Vec::new();
    let mut after_id = 0;
    loop {
        let page = store
            .send(ExportPage {
                after_id,
                limit: 100,
            })
            .await??;
        for document in &page {
            serde_json::to_writer(&mut ndjson, document)?;
            ndjson.push(b'\n');
            after_id = document.conversation.id;
        }
        if page.len() < 100 {
            break;
        }
    }
    report.export_mb_s = ndjson.len() as f64 / 1e6 / started.elapsed().as_secs_f64();
    let target = FreshDb::create(config, dir, "import").await?;
    let imported_store = StoreActor::open(target.settings.clone(), config.store_settings()).await?;
    let started = Instant::now();
    let mut imported_messages = 0;
    for line in ndjson.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let document: serde_json::Value = serde_json::from_slice(line)?;
        imported_messages += document["messages"].as_array().map_or(0, Vec::len);
        imported_store
            .send(ImportConversation {
                document,
                on_conflict: OnConflict::Skip,
            })
            .await??;
    }
    report.import_msgs_s = imported_messages as f64 / started.elapsed().as_secs_f64();
    drop(ndjson);
    drop(target);

    // Cleanup of as many old conversations as there are recent ones, under saves.
    let (rate, p99) = cleanup_under_load(&store, args, &ids, &text).await?;
    report.cleanup_rate = rate;
    report.cleanup_save_p99_ms = p99;

    if let Some((conversations, messages)) = args.large {
        let large = FreshDb::create(config, dir, "large").await?;
        let large_db = Db::open(large.settings.clone()).await?;
        load_large(&large.settings.target, conversations, messages).await?;
        let large_store = actix::Actor::start(StoreActor::new(large_db, config.store_settings()));
        report.get_stats_large_ms = Some(time_stats(&large_store).await?);
        report.large_size = Some(format!(
            "{conversations} conversations, {messages} messages"
        ));
        drop(large);
    }
    drop(main);
    Ok(report)
}

async fn history(store: &Addr<StoreActor>, conversation_id: i64) -> BenchResult<Duration> {
    let started = Instant::now();
    store
        .send(LoadHistory {
            conversation_id,
            window: HistoryWindow {
                max_turns: Some(10),
                ..Default::default()
            },
        })
        .await??;
    Ok(started.elapsed())
}

async fn time_stats(store: &Addr<StoreActor>) -> BenchResult<f64> {
    let mut samples = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        store.send(GetStats).await??;
        samples.push(started.elapsed());
    }
    Ok(percentile(&mut samples, 0.5))
}

/// Imports old conversations, then deletes them with a cleanup while 8 senders keep
/// saving; returns (messages deleted per second, p99 of those saves in ms).
async fn cleanup_under_load(
    store: &Addr<StoreActor>,
    args: &BenchArgs,
    recent: &[i64],
    text: &str,
) -> BenchResult<(f64, f64)> {
    for i in 0..args.conversations {
        let messages: Vec<serde_json::Value> = (0..args.messages)
            .map(|m| serde_json::json!({"role": if m % 2 == 0 {"user"} else {"assistant"}, "content": text, "tokens": 30}))
            .collect();
        let document = serde_json::json!({
            "conversation": {"user_key": format!("bench:old:{i}"), "platform": "bench", "last_activity": "2020-01-01T00:00:00Z"},
            "messages": messages,
        });
        store
            .send(ImportConversation {
                document,
                on_conflict: OnConflict::Skip,
            })
            .await??;
    }
    let done = std::rc::Rc::new(std::cell::Cell::new(false));
    let savers = (0..8).map(|sender| {
        let (store, done, text) = (store.clone(), done.clone(), text.to_string());
        let id = recent[sender % recent.len()];
        async move {
            let mut latencies = Vec::new();
            let mut i = 0;
            while !done.get() {
                latencies.push(save(&store, id, message(i, &text)).await?);
                i += 1;
            }
            Ok::<_, Box<dyn std::error::Error>>(latencies)
        }
    });
    let cleanup = async {
        let started = Instant::now();
        let deleted = store.send(CleanupOldConversations { days: 30 }).await;
        let elapsed = started.elapsed();
        done.set(true);
        (deleted, elapsed)
    };
    let (savers, (deleted, elapsed)) = futures_util::join!(join_all(savers), cleanup);
    let deleted = deleted??;
    let mut latencies = Vec::new();
    for result in savers {
        latencies.extend(result?);
    }
    let messages = deleted as f64 * args.messages as f64;
    Ok((
        messages / elapsed.as_secs_f64(),
        percentile(&mut latencies, 0.99),
    ))
}

/// Fills the (migrated, empty) database at `target` with `conversations` conversations
/// and `messages` messages by bulk SQL on a connection of its own, past the store (counters
/// and store-wide totals consistent with the rows): the fastest honest way to reach that
/// size.
async fn load_large(target: &DbTarget, conversations: u64, messages: u64) -> BenchResult<()> {
    let per = (messages / conversations.max(1)).max(1);
    let totals = format!(
        "UPDATE store_totals SET conversations = {conversations}, messages = {}, tokens = {} \
         WHERE shard = 0;",
        conversations * per,
        conversations * per * 30
    );
    match target {
        #[cfg(feature = "sqlite")]
        DbTarget::Sqlite(path) => {
            use diesel::Connection;
            use diesel::connection::SimpleConnection;
            let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())?;
            conn.batch_execute(&format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {conversations}) \
                 INSERT INTO conversations (user_key, platform, created_at, last_activity, total_tokens, message_count) \
                 SELECT 'large:' || i, 'bench', datetime('now'), datetime('now'), {per} * 30, {per} FROM n; \
                 WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {conversations} * {per} - 1) \
                 INSERT INTO messages (conversation_id, role, content, timestamp, tokens) \
                 SELECT i / {per} + 1, CASE i % 2 WHEN 0 THEN 'user' ELSE 'assistant' END, 'bulk', datetime('now'), 30 FROM n; \
                 {totals}"
            ))?;
        }
        #[cfg(feature = "postgres")]
        DbTarget::Postgres(url) => {
            use diesel_async::{AsyncConnection, SimpleAsyncConnection};
            let mut conn = diesel_async::AsyncPgConnection::establish(url).await?;
            conn.batch_execute(&format!(
                "INSERT INTO conversations (user_key, platform, created_at, last_activity, total_tokens, message_count) \
                 SELECT 'large:' || i, 'bench', now(), now(), {per} * 30, {per} FROM generate_series(1, {conversations}) i; \
                 INSERT INTO messages (conversation_id, role, content, timestamp, tokens) \
                 SELECT i / {per} + 1, CASE i % 2 WHEN 0 THEN 'user' ELSE 'assistant' END, 'bulk', now(), 30 \
                 FROM generate_series(0, {conversations} * {per} - 1) i; \
                 {totals} ANALYZE conversations;"
            ))
            .await?;
        }
        // MariaDB's SEQUENCE engine gives the numbers (`seq_1_to_N`).
        #[cfg(feature = "mysql")]
        DbTarget::Mysql(url) => {
            use diesel_async::{AsyncConnection, SimpleAsyncConnection};
            let mut conn = diesel_async::AsyncMysqlConnection::establish(url).await?;
            let total = conversations * per;
            conn.batch_execute(&format!(
                "INSERT INTO conversations (user_key, platform, created_at, last_activity, total_tokens, message_count) \
                 SELECT CONCAT('large:', seq), 'bench', NOW(6), NOW(6), {per} * 30, {per} FROM seq_1_to_{conversations}; \
                 INSERT INTO messages (conversation_id, role, content, timestamp, tokens) \
                 SELECT seq DIV {per} + 1, IF(seq % 2 = 0, 'user', 'assistant'), 'bulk', NOW(6), 30 \
                 FROM seq_0_to_{last}; \
                 {totals}",
                last = total - 1
            ))
            .await?;
        }
        #[allow(unreachable_patterns)]
        _ => return Err("--large: this build lacks the backend".into()),
    }
    Ok(())
}
