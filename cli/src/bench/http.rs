//! The HTTP side of the benchmark: saves and history reads over keep-alive connections
//! ([`client`](super::client)), one phase at a time, and `convstore bench --http URL`,
//! which runs them against a running daemon and reads its memory before and after the
//! load. `--http` without a URL puts the same phases beside their in-process twins
//! ([`loopback`](super::loopback)).

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde::Serialize;
use serde_json::{Value, json};

use super::args::BenchArgs;
use super::client::{Answer, Connection};
use super::workload::{content, percentile, pick, split};

/// What the HTTP phases answer on failure: a `String`, so that it crosses threads.
pub type HttpResult<T> = Result<T, String>;

/// The figures of `bench --http URL`.
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
    /// History read latency under that load, median.
    pub load_history_p50_ms: f64,
    /// History read latency under that load, 99th percentile.
    pub load_history_p99_ms: f64,
    /// The daemon's resident memory before the load, MB (from /metrics).
    pub daemon_rss_idle_mb: f64,
    /// The daemon's resident memory after the load, MB.
    pub daemon_rss_loaded_mb: f64,
}

/// A daemon to drive: where it listens, and the token it wants.
#[derive(Debug, Clone)]
pub struct Daemon {
    /// `host:port`.
    pub authority: String,
    /// The bearer token, if it wants one.
    pub token: Option<String>,
}

/// The two bodies of the saves: a user message and an assistant message of `text`.
#[derive(Debug, Clone)]
pub struct SaveBodies([Vec<u8>; 2]);

impl SaveBodies {
    /// The bodies of saves of `text` (30 tokens each).
    pub fn new(text: &str) -> SaveBodies {
        let body = |role| json!({"role": role, "content": text, "tokens": 30}).to_string();
        SaveBodies([body("user").into_bytes(), body("assistant").into_bytes()])
    }

    /// The `i`th save's body: user and assistant in turn.
    fn nth(&self, i: usize) -> &[u8] {
        &self.0[i % 2]
    }
}

impl Daemon {
    /// The daemon at `url` (`http://host:port`, any path ignored).
    pub fn at(url: &str, token: Option<String>) -> HttpResult<Daemon> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("--http {url:?}: the bench speaks plain http:// only"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return Err(format!("--http {url:?}: no host:port"));
        }
        Ok(Daemon {
            authority: authority.to_string(),
            token,
        })
    }

    /// A new keep-alive connection.
    pub async fn connect(&self) -> HttpResult<Connection> {
        Connection::open(&self.authority, self.token.as_deref())
            .await
            .map_err(|e| format!("connect to {}: {e}", self.authority))
    }

    async fn connections(&self, count: usize) -> HttpResult<Vec<Connection>> {
        let mut connections = Vec::with_capacity(count);
        for _ in 0..count {
            connections.push(self.connect().await?);
        }
        Ok(connections)
    }

    /// Creates `count` conversations tagged `tag`; answers their ids.
    pub async fn create_conversations(&self, count: usize, tag: &str) -> HttpResult<Vec<i64>> {
        let mut connection = self.connect().await?;
        let mut ids = Vec::with_capacity(count);
        for i in 0..count {
            let body = json!({"user_key": format!("{tag}:{i}"), "platform": "bench"});
            let created = call(&mut connection, "POST", "/v1/conversations", Some(&body)).await?;
            let created: Value =
                serde_json::from_slice(&created.body).map_err(|e| e.to_string())?;
            ids.push(
                created["id"]
                    .as_i64()
                    .ok_or("a conversation without an id")?,
            );
        }
        Ok(ids)
    }

    /// `count` saves one after the other on one connection, spread over `ids`; answers
    /// each save's latency.
    pub async fn sequential_saves(
        &self,
        ids: &[i64],
        count: usize,
        bodies: &SaveBodies,
    ) -> HttpResult<Vec<Duration>> {
        let mut connection = self.connect().await?;
        let mut latencies = Vec::with_capacity(count);
        for i in 0..count {
            let path = save_path(ids[i % ids.len()]);
            let started = Instant::now();
            send(&mut connection, "POST", &path, Some(bodies.nth(i))).await?;
            latencies.push(started.elapsed());
        }
        Ok(latencies)
    }

    /// `count` history reads (last 10 turns) one after the other on one connection;
    /// answers each read's latency.
    pub async fn sequential_reads(&self, ids: &[i64], count: usize) -> HttpResult<Vec<Duration>> {
        let mut connection = self.connect().await?;
        let mut latencies = Vec::with_capacity(count);
        for n in 0..count {
            let path = history_path(ids[pick(0, n, ids.len())]);
            let started = Instant::now();
            send(&mut connection, "GET", &path, None).await?;
            latencies.push(started.elapsed());
        }
        Ok(latencies)
    }

    /// `count` requests of `GET /healthz` one after the other: the cost of a request
    /// that does nothing.
    pub async fn sequential_healthz(&self, count: usize) -> HttpResult<Vec<Duration>> {
        let mut connection = self.connect().await?;
        let mut latencies = Vec::with_capacity(count);
        for _ in 0..count {
            let started = Instant::now();
            send(&mut connection, "GET", "/healthz", None).await?;
            latencies.push(started.elapsed());
        }
        Ok(latencies)
    }

    /// `messages` saves to each of `ids`, over `connections` connections at once, each
    /// owning every `connections`-th conversation; answers saves/s.
    pub async fn concurrent_saves(
        &self,
        ids: &[i64],
        connections: usize,
        messages: usize,
        bodies: &SaveBodies,
    ) -> HttpResult<f64> {
        let owned = split(ids, connections);
        let opened = self.connections(owned.len()).await?;
        let started = Instant::now();
        let senders = opened
            .into_iter()
            .zip(&owned)
            .map(|(mut connection, mine)| async move {
                for &id in mine {
                    let path = save_path(id);
                    for i in 0..messages {
                        send(&mut connection, "POST", &path, Some(bodies.nth(i))).await?;
                    }
                }
                Ok::<_, String>(())
            });
        for result in join_all(senders).await {
            result?;
        }
        Ok((ids.len() * messages) as f64 / started.elapsed().as_secs_f64())
    }

    /// `total` history reads over `connections` connections at once; answers reads/s and
    /// each read's latency.
    pub async fn concurrent_reads(
        &self,
        ids: &[i64],
        connections: usize,
        total: usize,
    ) -> HttpResult<(f64, Vec<Duration>)> {
        let each = total.div_ceil(connections);
        let opened = self.connections(connections).await?;
        let started = Instant::now();
        let readers = opened
            .into_iter()
            .enumerate()
            .map(|(worker, mut connection)| async move {
                let mut latencies = Vec::with_capacity(each);
                for n in 0..each {
                    let path = history_path(ids[pick(worker, n, ids.len())]);
                    let began = Instant::now();
                    send(&mut connection, "GET", &path, None).await?;
                    latencies.push(began.elapsed());
                }
                Ok::<_, String>(latencies)
            });
        let mut latencies = Vec::with_capacity(each * connections);
        for result in join_all(readers).await {
            latencies.extend(result?);
        }
        Ok((
            latencies.len() as f64 / started.elapsed().as_secs_f64(),
            latencies,
        ))
    }

    /// The daemon's resident memory, MB, from its `/metrics`.
    async fn rss_mb(&self) -> HttpResult<f64> {
        let mut connection = self.connect().await?;
        let metrics = send(&mut connection, "GET", "/metrics", None).await?;
        let bytes = String::from_utf8_lossy(&metrics.body)
            .lines()
            .find_map(|line| {
                line.strip_prefix("process_resident_memory_bytes ")
                    .and_then(|value| value.trim().parse::<f64>().ok())
            })
            .unwrap_or(0.0);
        Ok(bytes / 1024.0 / 1024.0)
    }
}

fn save_path(id: i64) -> String {
    format!("/v1/conversations/{id}/messages")
}

fn history_path(id: i64) -> String {
    format!("/v1/conversations/{id}/history?max_turns=10")
}

/// One request; an answer other than 2xx is an error.
async fn send(
    connection: &mut Connection,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> HttpResult<Answer> {
    let answer = connection
        .call(method, path, body)
        .await
        .map_err(|e| format!("{method} {path}: {e}"))?;
    if !(200..300).contains(&answer.status) {
        return Err(format!(
            "{method} {path}: {} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ));
    }
    Ok(answer)
}

async fn call(
    connection: &mut Connection,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> HttpResult<Answer> {
    let body = body.map(|body| body.to_string().into_bytes());
    send(connection, method, path, body.as_deref()).await
}

/// Runs the HTTP workload against the daemon at `url`.
pub async fn run(url: &str, token: Option<String>, args: &BenchArgs) -> HttpResult<HttpReport> {
    let daemon = Daemon::at(url, token)?;
    let connections = args.concurrency.max(1);
    let bodies = SaveBodies::new(&content(args.content_bytes));
    let mut report = HttpReport {
        url: url.to_string(),
        daemon_rss_idle_mb: daemon.rss_mb().await?,
        ..Default::default()
    };
    let tag = format!("bench-http:{}", std::process::id());
    let ids = daemon
        .create_conversations(args.conversations, &tag)
        .await?;
    if ids.is_empty() {
        return Err("no conversations to benchmark".into());
    }
    let sequential = 2_000.min(args.conversations * args.messages);
    let latencies = daemon.sequential_saves(&ids, sequential, &bodies).await?;
    report.save_rate_seq =
        latencies.len() as f64 / latencies.iter().sum::<Duration>().as_secs_f64();
    report.save_rate_conc = daemon
        .concurrent_saves(&ids, connections, args.messages, &bodies)
        .await?;
    let (rate, mut latencies) = daemon
        .concurrent_reads(&ids, connections, args.reads * 5)
        .await?;
    report.history_reads_s = rate;
    report.load_history_p50_ms = percentile(&mut latencies, 0.50);
    report.load_history_p99_ms = percentile(&mut latencies, 0.99);
    report.daemon_rss_loaded_mb = daemon.rss_mb().await?;
    Ok(report)
}
