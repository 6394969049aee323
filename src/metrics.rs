//! The daemon's counters, and their Prometheus text exposition (format 0.0.4), written by
//! hand: a few families do not need a metrics framework.
//!
//! The HTTP layer records every request (route pattern, method, status, latency) and
//! every message it sends to the store; `GET /metrics` renders them, together with the
//! scheduler's job counts, which the scheduler keeps itself.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::scheduler::JobStatus;

/// Upper bounds (seconds) of the request latency histogram's buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Counters shared by every HTTP worker; cheap to update from any thread.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<Counters>,
    store_in_flight: AtomicI64,
}

/// Everything behind the one lock: updates are a map lookup and an increment.
#[derive(Debug, Default)]
struct Counters {
    /// Requests by (route pattern, method, status).
    requests: BTreeMap<(String, &'static str, u16), u64>,
    /// Latency by (route pattern, method).
    latency: BTreeMap<(String, &'static str), Histogram>,
    /// Store calls by (message name, result).
    store_calls: BTreeMap<(&'static str, &'static str), u64>,
    /// Database errors by kind (`unavailable`, `internal`).
    database_errors: BTreeMap<&'static str, u64>,
}

/// A latency histogram over [`LATENCY_BUCKETS`].
#[derive(Debug, Default)]
struct Histogram {
    /// Observations per bucket (not cumulative); the last slot is `+Inf`.
    buckets: [u64; LATENCY_BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let slot = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[slot] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

/// Marks one store call as in flight until dropped, so that a call abandoned by its
/// client (the request future dropped) leaves the gauge too.
#[derive(Debug)]
pub struct InFlight<'a>(&'a AtomicI64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Counts one answered HTTP request. `route` is the matched pattern
    /// (`/v1/conversations/{id}`), never the raw path, so that the label set stays small.
    pub fn record_request(
        &self,
        route: &str,
        method: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        let mut counters = self.lock();
        *counters
            .requests
            .entry((route.to_string(), method, status))
            .or_default() += 1;
        counters
            .latency
            .entry((route.to_string(), method))
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// Marks a store call as started; it ends when the guard is dropped.
    pub fn store_call(&self) -> InFlight<'_> {
        self.store_in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.store_in_flight)
    }

    /// Counts one answered store call: `operation` is the message name (`SaveMessage`),
    /// `result` is `ok` or an error code.
    pub fn record_store_call(&self, operation: &'static str, result: &'static str) {
        *self
            .lock()
            .store_calls
            .entry((operation, result))
            .or_default() += 1;
    }

    /// Counts a store answer that was a database fault (`unavailable` or `internal`).
    pub fn record_database_error(&self, kind: &'static str) {
        *self.lock().database_errors.entry(kind).or_default() += 1;
    }

    /// The Prometheus text exposition of every counter, with the run counts of `jobs`.
    pub fn render(&self, jobs: &[JobStatus]) -> String {
        let counters = self.lock();
        let mut out = Exposition::default();

        out.family(
            "convstore_http_requests_total",
            "counter",
            "HTTP requests answered.",
        );
        for ((route, method, status), count) in &counters.requests {
            let status = status.to_string();
            out.sample(
                "convstore_http_requests_total",
                &[("route", route), ("method", method), ("status", &status)],
                *count,
            );
        }

        out.family(
            "convstore_http_request_duration_seconds",
            "histogram",
            "Time to answer an HTTP request (until the response head).",
        );
        for ((route, method), histogram) in &counters.latency {
            out.histogram(
                "convstore_http_request_duration_seconds",
                &[("route", route), ("method", method)],
                histogram,
            );
        }

        out.family(
            "convstore_store_operations_total",
            "counter",
            "Messages sent to the store, by message and result.",
        );
        for ((operation, result), count) in &counters.store_calls {
            out.sample(
                "convstore_store_operations_total",
                &[("operation", operation), ("result", result)],
                *count,
            );
        }

        out.family(
            "convstore_store_calls_in_flight",
            "gauge",
            "Store calls sent and not yet answered (the store's queue depth).",
        );
        out.sample(
            "convstore_store_calls_in_flight",
            &[],
            self.store_in_flight.load(Ordering::Relaxed),
        );

        out.family(
            "convstore_database_errors_total",
            "counter",
            "Store answers that were database faults.",
        );
        for (kind, count) in &counters.database_errors {
            out.sample("convstore_database_errors_total", &[("kind", kind)], *count);
        }

        out.family(
            "convstore_scheduled_job_runs_total",
            "counter",
            "Runs of scheduled jobs since the start, by result.",
        );
        for job in jobs {
            for (result, count) in [("ok", job.runs_ok), ("failed", job.runs_failed)] {
                out.sample(
                    "convstore_scheduled_job_runs_total",
                    &[("job", &job.name), ("result", result)],
                    count,
                );
            }
        }

        out.family(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of the daemon.",
        );
        out.sample("process_resident_memory_bytes", &[], resident_bytes());
        out.text
    }

    /// The counters; a panic elsewhere while they were held leaves them usable.
    fn lock(&self) -> MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The process's resident memory (from /proc/self/statm), 0 where it is not readable.
fn resident_bytes() -> u64 {
    const PAGE_BYTES: u64 = 4096;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * PAGE_BYTES)
}

/// Text being written in the exposition format.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        // Writing to a String cannot fail.
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (index, (label, text)) in labels.iter().enumerate() {
                if index > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{label}=\"{}\"", escape(text));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], histogram: &Histogram) {
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0;
        let bounds = LATENCY_BUCKETS.iter().map(f64::to_string);
        for (bound, count) in bounds
            .chain(std::iter::once("+Inf".to_string()))
            .zip(histogram.buckets)
        {
            cumulative += count;
            let mut with_le = labels.to_vec();
            with_le.push(("le", &bound));
            self.sample(&bucket, &with_le, cumulative);
        }
        self.sample(&format!("{name}_sum"), labels, histogram.sum);
        self.sample(&format!("{name}_count"), labels, histogram.count);
    }
}

/// A label value with `\`, `"` and line breaks escaped, as the format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_jobs() {
        let metrics = Metrics::default();
        metrics.record_request("/v1/stats", "GET", 200, Duration::from_millis(3));
        metrics.record_request("/v1/stats", "GET", 200, Duration::from_secs(20));
        metrics.record_store_call("GetStats", "ok");
        metrics.record_database_error("unavailable");
        let in_flight = metrics.store_call();
        let job = JobStatus {
            name: "cleanup".into(),
            cron: "0 0 3 * * *".into(),
            enabled: true,
            next_run: None,
            last_run: None,
            last_duration_ms: None,
            last_result: None,
            runs_ok: 4,
            runs_failed: 1,
        };
        let text = metrics.render(&[job]);
        drop(in_flight);
        for line in [
            r#"convstore_http_requests_total{route="/v1/stats",method="GET",status="200"} 2"#,
            r#"convstore_http_request_duration_seconds_bucket{route="/v1/stats",method="GET",le="0.005"} 1"#,
            r#"convstore_http_request_duration_seconds_bucket{route="/v1/stats",method="GET",le="10"} 1"#,
            r#"convstore_http_request_duration_seconds_bucket{route="/v1/stats",method="GET",le="+Inf"} 2"#,
            r#"convstore_http_request_duration_seconds_count{route="/v1/stats",method="GET"} 2"#,
            r#"convstore_store_operations_total{operation="GetStats",result="ok"} 1"#,
            "convstore_store_calls_in_flight 1",
            r#"convstore_database_errors_total{kind="unavailable"} 1"#,
            r#"convstore_scheduled_job_runs_total{job="cleanup",result="ok"} 4"#,
            r#"convstore_scheduled_job_runs_total{job="cleanup",result="failed"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        assert_eq!(metrics.store_in_flight.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn escapes_label_values() {
        assert_eq!(escape("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
    }
}
