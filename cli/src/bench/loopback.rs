//! `convstore bench --http` (no URL): what the HTTP path adds to the store. One store on
//! a fresh database serves both sides: the daemon's HTTP server ([`App`], with a token,
//! on a loopback port) and callers in process. Each phase runs in process and then over
//! HTTP, in the same minute, on the same conversations; the HTTP client runs on a thread
//! of its own, as a client in another process would, and the store keeps the daemon's
//! thread.

use std::future::Future;
use std::time::Duration;

use actix::Addr;
use serde::Serialize;

use convstore::StoreActor;
use convstore::api::ApiState;
use convstore::app::App;
use convstore::config::Config;

use super::args::BenchArgs;
use super::fresh::{FreshDb, RunDir};
use super::http::{Daemon, HttpResult, SaveBodies};
use super::workload::{self, content, percentile};

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The token the bench's server requires, so that the measured path authenticates.
const TOKEN: &str = "bench-loopback-token";

/// The figures of `bench --http`: each call in process and over HTTP, and what HTTP
/// adds.
#[derive(Debug, Default, Clone, Serialize)]
pub struct LoopbackReport {
    /// The backend measured.
    pub backend: String,
    /// HTTP worker threads of the server.
    pub http_workers: usize,
    /// A save, one caller awaiting each answer, in process: median.
    pub save_p50_ms: f64,
    /// The same, 99th percentile.
    pub save_p99_ms: f64,
    /// The same save over HTTP (one keep-alive connection): median.
    pub http_save_p50_ms: f64,
    /// The same, 99th percentile.
    pub http_save_p99_ms: f64,
    /// `http_save_p50_ms - save_p50_ms`.
    pub http_save_added_p50_ms: f64,
    /// A history read (last 10 turns), one caller, in process: median.
    pub history_p50_ms: f64,
    /// The same, 99th percentile.
    pub history_p99_ms: f64,
    /// The same read over HTTP: median.
    pub http_history_p50_ms: f64,
    /// The same, 99th percentile.
    pub http_history_p99_ms: f64,
    /// `http_history_p50_ms - history_p50_ms`.
    pub http_history_added_p50_ms: f64,
    /// `GET /healthz` on one connection, median: a request that does nothing.
    pub http_healthz_p50_ms: f64,
    /// History reads/s by `concurrency` tasks in process.
    pub history_reads_s_conc: f64,
    /// History reads/s over `concurrency` keep-alive connections.
    pub http_history_reads_s_conc: f64,
    /// `http_history_reads_s_conc / history_reads_s_conc`.
    pub http_reads_conc_ratio: f64,
    /// Saves/s by `concurrency` senders in process.
    pub save_rate_conc: f64,
    /// Saves/s over `concurrency` keep-alive connections.
    pub http_save_rate_conc: f64,
    /// `http_save_rate_conc / save_rate_conc`.
    pub http_saves_conc_ratio: f64,
}

/// Runs every phase in process and over HTTP on one fresh database.
pub async fn run(config: &Config, args: &BenchArgs, dir: &RunDir) -> BenchResult<LoopbackReport> {
    let fresh = FreshDb::create(config, dir, "http").await?;
    let store = StoreActor::open(fresh.settings.clone(), config.store_settings()).await?;
    let mut http = config.http_settings()?;
    http.bind = "127.0.0.1:0".parse()?;
    let state = ApiState::new(store.clone(), None, config.api_settings(Some(TOKEN.into())));
    let app = App::build(state, &http)?;
    let daemon = Daemon {
        authority: app
            .addrs()
            .first()
            .ok_or("the server has no address")?
            .to_string(),
        token: Some(TOKEN.into()),
    };
    let server = app.handle();
    actix::spawn(app.run());
    let report = measure(&store, daemon, args).await;
    server.stop(true).await;
    let mut report = report?;
    report.backend = config.db_settings()?.target.backend().name().into();
    report.http_workers = http.workers;
    drop(fresh);
    Ok(report)
}

async fn measure(
    store: &Addr<StoreActor>,
    daemon: Daemon,
    args: &BenchArgs,
) -> BenchResult<LoopbackReport> {
    let text = content(args.content_bytes);
    let bodies = SaveBodies::new(&text);
    let ids = workload::create_conversations(store, args.conversations, "bench").await?;
    let concurrency = args.concurrency.max(1);
    let sequential = 2_000.min(args.conversations * args.messages);
    let mut report = LoopbackReport::default();

    let http = daemon.clone();
    let mut healthz =
        on_client_thread(move || async move { http.sequential_healthz(sequential).await }).await?;
    report.http_healthz_p50_ms = percentile(&mut healthz, 0.5);

    let mut saves = workload::sequential_saves(store, &ids, sequential, &text).await?;
    let (http, these, b) = (daemon.clone(), ids.clone(), bodies.clone());
    let mut http_saves =
        on_client_thread(
            move || async move { http.sequential_saves(&these, sequential, &b).await },
        )
        .await?;
    (report.save_p50_ms, report.save_p99_ms) = quantiles(&mut saves);
    (report.http_save_p50_ms, report.http_save_p99_ms) = quantiles(&mut http_saves);
    report.http_save_added_p50_ms = report.http_save_p50_ms - report.save_p50_ms;

    let mut reads = workload::sequential_reads(store, &ids, args.reads).await?;
    let (http, these, count) = (daemon.clone(), ids.clone(), args.reads);
    let mut http_reads =
        on_client_thread(move || async move { http.sequential_reads(&these, count).await }).await?;
    (report.history_p50_ms, report.history_p99_ms) = quantiles(&mut reads);
    (report.http_history_p50_ms, report.http_history_p99_ms) = quantiles(&mut http_reads);
    report.http_history_added_p50_ms = report.http_history_p50_ms - report.history_p50_ms;

    let total = args.reads * 5;
    (report.history_reads_s_conc, _) =
        workload::concurrent_reads(store, &ids, concurrency, total).await?;
    let (http, these) = (daemon.clone(), ids.clone());
    (report.http_history_reads_s_conc, _) =
        on_client_thread(
            move || async move { http.concurrent_reads(&these, concurrency, total).await },
        )
        .await?;
    report.http_reads_conc_ratio = report.http_history_reads_s_conc / report.history_reads_s_conc;

    report.save_rate_conc = workload::concurrent_saves(
        std::slice::from_ref(store),
        &ids,
        concurrency,
        args.messages,
        &text,
    )
    .await?;
    let (http, these, messages) = (daemon, ids, args.messages);
    report.http_save_rate_conc = on_client_thread(move || async move {
        http.concurrent_saves(&these, concurrency, messages, &bodies)
            .await
    })
    .await?;
    report.http_saves_conc_ratio = report.http_save_rate_conc / report.save_rate_conc;
    Ok(report)
}

/// Median and 99th percentile, in milliseconds.
fn quantiles(samples: &mut [Duration]) -> (f64, f64) {
    (percentile(samples, 0.50), percentile(samples, 0.99))
}

/// Runs the future `make` gives on a new thread with a runtime of its own, and waits
/// for its result without blocking this one (whose arbiter runs the store).
async fn on_client_thread<T, F, Fut>(make: F) -> BenchResult<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = HttpResult<T>>,
    T: Send + 'static,
{
    let (sender, answer) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("bench-client".into())
        .spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("the client's runtime: {e}"))
                .and_then(|runtime| runtime.block_on(make()));
            let _ = sender.send(result);
        })?;
    Ok(answer.await??)
}
