//! What a run measured: the in-process figures, and how a report is shown as a table.

use serde::Serialize;
use serde_json::{Map, Value};

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
    if let Value::Object(map) = value {
        for (key, value) in map {
            out.push_str(&format!("{key:<32}{}\n", shown(&value)));
        }
    }
    out
}

/// Several runs of one invocation: each figure's median, minimum and maximum, and every
/// run as it was.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// How many runs.
    pub runs: usize,
    /// The median of each figure (the middle run's; the mean of the two middle ones for an
    /// even count). Text fields are the first run's.
    pub median: Map<String, Value>,
    /// The smallest value of each figure.
    pub min: Map<String, Value>,
    /// The largest value of each figure.
    pub max: Map<String, Value>,
    /// Every run's report.
    pub each: Vec<Value>,
}

impl Summary {
    /// The summary of `runs` (reports as JSON objects).
    pub fn of(runs: &[Value]) -> Summary {
        let mut summary = Summary {
            runs: runs.len(),
            median: Map::new(),
            min: Map::new(),
            max: Map::new(),
            each: runs.to_vec(),
        };
        let Some(Value::Object(first)) = runs.first() else {
            return summary;
        };
        for (key, value) in first {
            let mut values: Vec<f64> = runs
                .iter()
                .filter_map(|run| run.get(key).and_then(Value::as_f64))
                .collect();
            if values.len() != runs.len() {
                summary.median.insert(key.clone(), value.clone());
                continue;
            }
            values.sort_by(f64::total_cmp);
            let n = values.len();
            let median = if n % 2 == 1 {
                values[n / 2]
            } else {
                (values[n / 2 - 1] + values[n / 2]) / 2.0
            };
            summary.median.insert(key.clone(), median.into());
            summary.min.insert(key.clone(), values[0].into());
            summary.max.insert(key.clone(), values[n - 1].into());
        }
        summary
    }

    /// The summary as a table: median, and the spread (min to max), one figure a line.
    pub fn table(&self) -> String {
        let mut out = format!(
            "figure                          median ({} runs)   min .. max\n",
            self.runs
        );
        for (key, median) in &self.median {
            let spread = match (self.min.get(key), self.max.get(key)) {
                (Some(min), Some(max)) => format!("{} .. {}", shown(min), shown(max)),
                _ => String::new(),
            };
            out.push_str(&format!("{key:<32}{:<19}{spread}\n", shown(median)));
        }
        out
    }
}

/// One value as the tables show it.
pub fn shown(value: &Value) -> String {
    match value {
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or_default();
            if x >= 100.0 {
                format!("{x:.0}")
            } else {
                format!("{x:.3}")
            }
        }
        Value::Null => "-".into(),
        other => other.to_string().trim_matches('"').to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_summary_gives_median_and_spread_of_every_figure() {
        let runs = [
            json!({"backend": "sqlite", "rate": 3.0, "none": null}),
            json!({"backend": "sqlite", "rate": 1.0, "none": null}),
            json!({"backend": "sqlite", "rate": 2.0, "none": null}),
        ];
        let summary = Summary::of(&runs);
        assert_eq!(summary.median["rate"], json!(2.0));
        assert_eq!(summary.min["rate"], json!(1.0));
        assert_eq!(summary.max["rate"], json!(3.0));
        assert_eq!(summary.median["backend"], json!("sqlite"));
        assert_eq!(summary.median["none"], Value::Null);
        let even = Summary::of(&runs[..2]);
        assert_eq!(even.median["rate"], json!(2.0));
        assert!(summary.table().contains("1.000 .. 3.000"));
    }
}
