//! `convstore bench --http URL`: saves and history reads against a running daemon,
//! over keep-alive connections, plus the daemon's memory before and after the load.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde::Serialize;
use serde_json::{Value, json};

use super::args::BenchArgs;
use super::workload::{content, percentile};

type HttpResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The HTTP figures.
#[derive(Debug, Default, Clone, Serialize)]
pub struct HttpReport {
    /// The daemon measured.
    pub url: String,
    /// Saves/s, one client awaiting each answer.
    pub save_rate_seq: f64,
    /// Saves/s, `concurrency` keep-alive connections.
    pub save_rate_conc: f64,
    /// History reads/s (last 10 turns), `concurrency` connections.
    pub history_reads_s: f64,
    /// History read latency, median.
    pub load_history_p50_ms: f64,
    /// History read latency, 99th percentile.
    pub load_history_p99_ms: f64,
    /// The daemon's resident memory before the load, MB (from /metrics).
    pub daemon_rss_idle_mb: f64,
    /// The daemon's resident memory after the load, MB.
    pub daemon_rss_loaded_mb: f64,
}

struct Daemon {
    client: awc::Client,
    base: String,
}

impl Daemon {
    fn new(base: &str, token: Option<String>, connections: usize) -> Daemon {
        let mut builder = awc::Client::builder()
            .connector(awc::Connector::new().limit(connections))
            .timeout(Duration::from_secs(60));
        if let Some(token) = token {
            builder = builder.bearer_auth(token);
        }
        Daemon {
            client: builder.finish(),
            base: base.trim_end_matches('/').to_string(),
        }
    }

    async fn post(&self, path: &str, body: &Value) -> HttpResult<Value> {
        let mut response = self
            .client
            .post(format!("{}{path}", self.base))
            .send_json(body)
            .await?;
        let status = response.status();
        let body: Value = response.json().limit(64 * 1024 * 1024).await?;
        if !status.is_success() {
            return Err(format!("POST {path}: {status} {body}").into());
        }
        Ok(body)
    }

    async fn get_text(&self, path: &str) -> HttpResult<String> {
        let mut response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await?;
        let bytes = response.body().limit(64 * 1024 * 1024).await?;
        if !response.status().is_success() {
            return Err(format!("GET {path}: {}", response.status()).into());
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn save(&self, id: i64, i: usize, text: &str) -> HttpResult<()> {
        let role = if i.is_multiple_of(2) {
            "user"
        } else {
            "assistant"
        };
        self.post(
            &format!("/v1/conversations/{id}/messages"),
            &json!({"role": role, "content": text, "tokens": 30}),
        )
        .await
        .map(drop)
    }

    async fn rss_mb(&self) -> HttpResult<f64> {
        let metrics = self.get_text("/metrics").await?;
        let bytes = metrics
            .lines()
            .find_map(|line| line.strip_prefix("process_resident_memory_bytes "))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        Ok(bytes / 1024.0 / 1024.0)
    }
}

/// Runs the HTTP workload against the daemon at `base`.
pub async fn run(base: &str, token: Option<String>, args: &BenchArgs) -> HttpResult<HttpReport> {
    let connections = args.concurrency.max(1);
    let daemon = Daemon::new(base, token, connections);
    let text = content(args.content_bytes);
    let mut report = HttpReport {
        url: base.to_string(),
        daemon_rss_idle_mb: daemon.rss_mb().await?,
        ..Default::default()
    };
    let run_tag = std::process::id();
    let creations = (0..connections).map(|worker| {
        let daemon = &daemon;
        async move {
            let mut ids = Vec::new();
            for i in (worker..args.conversations).step_by(connections) {
                let body =
                    json!({"user_key": format!("bench-http:{run_tag}:{i}"), "platform": "bench"});
                ids.push(
                    daemon.post("/v1/conversations", &body).await?["id"]
                        .as_i64()
                        .unwrap_or(0),
                );
            }
            Ok::<_, Box<dyn std::error::Error>>(ids)
        }
    });
    let mut per_worker = Vec::new();
    for ids in join_all(creations).await {
        per_worker.push(ids?);
    }
    let all: Vec<i64> = per_worker.iter().flatten().copied().collect();
    if all.is_empty() {
        return Err("no conversations to benchmark".into());
    }

    let sequential = 2_000.min(args.conversations * args.messages);
    let started = Instant::now();
    for i in 0..sequential {
        daemon.save(all[i % all.len()], i, &text).await?;
    }
    report.save_rate_seq = sequential as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    let senders = per_worker.iter().map(|ids| {
        let (daemon, text) = (&daemon, &text);
        async move {
            for &id in ids {
                for i in 0..args.messages {
                    daemon.save(id, i, text).await?;
                }
            }
            Ok::<_, Box<dyn std::error::Error>>(())
        }
    });
    for result in join_all(senders).await {
        result?;
    }
    report.save_rate_conc = (all.len() * args.messages) as f64 / started.elapsed().as_secs_f64();

    let reads_each = (args.reads * 5).div_ceil(connections);
    let started = Instant::now();
    let readers = (0..connections).map(|worker| {
        let (daemon, all) = (&daemon, &all);
        async move {
            let mut latencies = Vec::with_capacity(reads_each);
            for n in 0..reads_each {
                let id = all[(worker * 7919 + n * 104_729) % all.len()];
                let began = Instant::now();
                daemon
                    .get_text(&format!("/v1/conversations/{id}/history?max_turns=10"))
                    .await?;
                latencies.push(began.elapsed());
            }
            Ok::<_, Box<dyn std::error::Error>>(latencies)
        }
    });
    let mut latencies = Vec::new();
    for result in join_all(readers).await {
        latencies.extend(result?);
    }
    report.history_reads_s = latencies.len() as f64 / started.elapsed().as_secs_f64();
    report.load_history_p50_ms = percentile(&mut latencies, 0.50);
    report.load_history_p99_ms = percentile(&mut latencies, 0.99);
    report.daemon_rss_loaded_mb = daemon.rss_mb().await?;
    Ok(report)
}
