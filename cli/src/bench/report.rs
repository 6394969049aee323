//! What a run measured: the in-process figures, and how a report is shown as a table.

use serde::Serialize;

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

/// A report as a table of figures, one a line.
pub fn table(report: &impl Serialize) -> String {
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
