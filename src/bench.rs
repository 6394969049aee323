//! `convstore bench`: a standard workload against a fresh database, printed as one JSON
//! object (and a table on stderr). Every figure is measured in this run; the raw SQLite
//! ceiling is measured beside it, on the same machine, at the same moment.

mod fresh;
mod http;
mod raw;
mod workload;

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use crate::config::Config;

/// Flags of `convstore bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Conversations in the standard workload.
    #[arg(long, default_value_t = 1000)]
    pub conversations: usize,
    /// Messages per conversation.
    #[arg(long, default_value_t = 20)]
    pub messages: usize,
    /// Bytes of content per message.
    #[arg(long, default_value_t = 200)]
    pub content_bytes: usize,
    /// Concurrent senders for `save_rate_conc`.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Messages of the long conversation read by the `load_history_long_*` figures.
    #[arg(long, default_value_t = 20_000)]
    pub long_messages: usize,
    /// History reads per latency figure.
    #[arg(long, default_value_t = 2_000)]
    pub reads: usize,
    /// Also time `GetStats` on a large store of CONVERSATIONS:MESSAGES (e.g.
    /// 500000:10000000), loaded by bulk SQL. SQLite and PostgreSQL.
    #[arg(long, value_parser = parse_size)]
    pub large: Option<(u64, u64)>,
    /// Folder for the SQLite files (default: a temporary folder, removed afterwards).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Drive the daemon at this URL over HTTP instead (saves and history reads), e.g.
    /// http://127.0.0.1:8377. Its token comes from --token or $CONVSTORE_TOKEN.
    #[arg(long)]
    pub http: Option<String>,
    /// Bearer token for --http.
    #[arg(long, env = "CONVSTORE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

fn parse_size(text: &str) -> Result<(u64, u64), String> {
    let (conversations, messages) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not CONVERSATIONS:MESSAGES"))?;
    let parse = |n: &str| {
        n.trim()
            .replace('_', "")
            .parse::<u64>()
            .map_err(|e| format!("{n:?}: {e}"))
    };
    Ok((parse(conversations)?, parse(messages)?))
}

/// Every figure of a run.
#[derive(Debug, Default, Clone, Serialize)]
pub struct BenchReport {
    /// The backend measured.
    pub backend: String,
    /// The workload: conversations x messages.
    pub workload: String,
    /// Messages/s, one sender awaiting each answer.
    pub save_rate_seq: f64,
    /// Messages/s, `concurrency` senders.
    pub save_rate_conc: f64,
    /// History read (last 10 turns of a random conversation), median.
    pub load_history_p50_ms: f64,
    /// History read, 99th percentile.
    pub load_history_p99_ms: f64,
    /// Same read on the long conversation, median.
    pub load_history_long_p50_ms: f64,
    /// Same read on the long conversation, 99th percentile.
    pub load_history_long_p99_ms: f64,
    /// `GetStats` at the loaded size (median of 5).
    pub get_stats_ms: f64,
    /// `GetStats` on the large store, if asked for (median of 5).
    pub get_stats_large_ms: Option<f64>,
    /// The large store's size, if asked for.
    pub large_size: Option<String>,
    /// Messages deleted per second by a cleanup of half the conversations.
    pub cleanup_rate: f64,
    /// 99th percentile of saves running during that cleanup.
    pub cleanup_save_p99_ms: f64,
    /// NDJSON export of everything, MB/s.
    pub export_mb_s: f64,
    /// NDJSON import into an empty store, messages/s.
    pub import_msgs_s: f64,
    /// The same inserts through one plain synchronous SQLite connection in 1,000-row
    /// transactions: the ceiling.
    pub raw_sqlite_batched_rate: f64,
    /// `save_rate_conc / raw_sqlite_batched_rate`.
    pub conc_to_raw_ratio: f64,
    /// Peak resident memory of the process, in MB.
    pub peak_rss_mb: f64,
}

/// Runs the benchmark (in process, or against a daemon with `--http`) and prints the
/// report.
pub async fn run(config: Config, args: BenchArgs) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(url) = &args.http {
        let report = http::run(url, args.token.clone(), &args).await?;
        eprintln!("{}", table(&report));
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let scratch = match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            fresh::Scratch::Kept(dir.clone())
        }
        None => fresh::Scratch::Temporary(tempfile_dir()?),
    };
    let mut report = workload::run(&config, &args, &scratch).await?;
    report.raw_sqlite_batched_rate =
        raw::batched_insert_rate(&scratch.path().join("raw.db"), &args)?;
    report.conc_to_raw_ratio = report.save_rate_conc / report.raw_sqlite_batched_rate;
    report.peak_rss_mb = peak_rss_mb();
    eprintln!("{}", table(&report));
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn tempfile_dir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("convstore-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The process's peak resident set (VmHWM), in MB; 0 where /proc is missing.
pub fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn table(report: &impl Serialize) -> String {
    let value = serde_json::to_value(report).unwrap_or_default();
    let mut out = String::from("figure                          value\n");
    if let serde_json::Value::Object(map) = value {
        for (key, value) in map {
            let shown = match value {
                serde_json::Value::Number(n) => {
                    let x = n.as_f64().unwrap_or_default();
                    if x >= 100.0 {
                        format!("{x:.0}")
                    } else {
                        format!("{x:.3}")
                    }
                }
                serde_json::Value::Null => "-".into(),
                other => other.to_string().trim_matches('"').to_string(),
            };
            out.push_str(&format!("{key:<32}{shown}\n"));
        }
    }
    out
}
