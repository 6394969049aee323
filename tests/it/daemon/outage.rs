//! The daemon through a database outage, as systemd runs it: started while its server
//! is down, it binds, sends READY=1, answers `/healthz` 200, `/readyz` and every call
//! 503, keeps petting the watchdog (a short `WATCHDOG_USEC`) and shows the wait in its
//! STATUS= line; once the server is up it migrates and serves. The server is then
//! stopped and started again under concurrent keyed saves: calls answer 503 meanwhile
//! (never a refused connection), the process never exits, and afterwards every
//! acknowledged save is there exactly once. The server is a private one
//! (`fixtures::private_server`), run when the environment names that backend's server.
//! A server that accepts connections and never answers gets the same 503s, within the
//! configured timeouts.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use convstore::db::Backend;
use serde_json::{Value, json};

use crate::fixtures::daemon::{Convstore, Daemon};
use crate::fixtures::db::{REQUIRE_VAR, server};
use crate::fixtures::private_server::{self, PrivateServer};

/// Concurrent writers.
const WRITERS: usize = 4;
/// How long the server stays down in the middle of the run.
const DOWN_FOR: Duration = Duration::from_secs(4);
/// The watchdog interval systemd would set (the daemon pets every half of it).
const WATCHDOG_USEC: &str = "600000";

#[actix_rt::test]
async fn postgres_outage_keeps_the_daemon_serving() {
    outage(Backend::Postgres).await;
}

#[actix_rt::test]
async fn mysql_outage_keeps_the_daemon_serving() {
    outage(Backend::Mysql).await;
}

/// A server that accepts connections and never answers (a listening socket nobody
/// accepts on): the daemon still starts, `/healthz` answers 200, `/readyz` and calls 503
/// within the configured bounds, on each server backend's URL.
#[actix_rt::test]
async fn a_server_that_never_answers_gets_503_within_the_bounds() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a listening socket");
    let port = silent.local_addr().expect("its port").port();
    for url in [
        format!("postgres://convstore@127.0.0.1:{port}/convstore"),
        format!("mysql://convstore@127.0.0.1:{port}/convstore"),
    ] {
        let daemon = Convstore::new("serve")
            .env("CONVERSATION_DB_URL", &url)
            .env("CONVSTORE_DATABASE__CONNECT_TIMEOUT_MS", "500")
            .env("CONVSTORE_DATABASE__QUERY_TIMEOUT_MS", "500")
            .env("CONVSTORE_DATABASE__BUSY_TIMEOUT_MS", "500")
            .start();
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .finish();
        let base = daemon.base.clone();
        assert_eq!(get(&client, &base, "/healthz").await.0, 200);
        for path in ["/readyz", "/v1/stats"] {
            let started = Instant::now();
            let (status, body) = get(&client, &base, path).await;
            assert_eq!(
                (status, &body["error"]["code"]),
                (503, &json!("unavailable")),
                "{url} {path}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(6),
                "{path} took {:?}",
                started.elapsed()
            );
        }
        let (status, body) = post(&client, &base, "/v1/conversations", &user("silent")).await;
        assert_eq!(status, 503, "{body}");
        let (status, _) = daemon.stop().await;
        assert!(status.success(), "{status}");
    }
}

async fn outage(backend: Backend) {
    // Run where this backend's server tests run; then its binaries are required.
    if !matches!(server(backend), Some(Some(_))) {
        return;
    }
    if !private_server::installed(backend) {
        assert!(
            std::env::var(REQUIRE_VAR).as_deref() != Ok("1"),
            "{REQUIRE_VAR}=1 and no {backend} server binaries to run a private server"
        );
        return;
    }
    let mut db = PrivateServer::init(backend);
    let mut daemon = Convstore::new("serve")
        .env("CONVERSATION_DB_URL", db.url())
        .env("WATCHDOG_USEC", WATCHDOG_USEC)
        .env("CONVSTORE_DATABASE__BUSY_TIMEOUT_MS", "1000")
        .start();
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let base = daemon.base.clone();

    // Down at start: serving 503, alive, petted, and saying why.
    assert_eq!(get(&client, &base, "/healthz").await.0, 200);
    let (status, body) = get(&client, &base, "/readyz").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (503, &json!("unavailable"))
    );
    let (status, body) = post(&client, &base, "/v1/conversations", &user("u")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(
        wait_for(Duration::from_secs(10), || daemon.notified_line(
            |l| l.starts_with("STATUS=waiting for the database")
        ))
        .await,
        "no STATUS= line naming the wait\n{}",
        daemon.log()
    );
    assert_petted(&daemon, 3);

    db.start();
    let ready = Instant::now();
    while get(&client, &base, "/readyz").await.0 != 200 {
        assert!(
            ready.elapsed() < Duration::from_secs(60),
            "not ready 60 s after the server started\n{}",
            daemon.log()
        );
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(daemon.running());

    // Concurrent keyed saves through a stop and a start of the server.
    let tally = Rc::new(RefCell::new(Tally::default()));
    let stop = Rc::new(RefCell::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (status, body) = post(&client, &base, "/v1/conversations", &user(&w.to_string())).await;
        assert_eq!(status, 201, "{body}");
        let id = body["id"].as_i64().unwrap();
        writers.push(actix_rt::spawn(write(
            client.clone(),
            base.clone(),
            id,
            w,
            tally.clone(),
            stop.clone(),
        )));
    }
    actix_rt::time::sleep(Duration::from_secs(1)).await;
    db.stop();
    let down = Instant::now();
    let before_outage = tally.borrow().acknowledged.len();
    while down.elapsed() < DOWN_FOR {
        assert_eq!(get(&client, &base, "/healthz").await.0, 200);
        assert_eq!(get(&client, &base, "/readyz").await.0, 503);
        assert_petted(&daemon, 1);
    }
    db.start();
    let up = Instant::now();
    let after_outage = tally.borrow().acknowledged.len();
    while tally.borrow().acknowledged.len() < after_outage + 50 {
        assert!(
            up.elapsed() < Duration::from_secs(60),
            "saves did not resume after the server came back\n{}",
            daemon.log()
        );
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    *stop.borrow_mut() = true;
    for writer in writers {
        writer.await.unwrap();
    }
    assert!(daemon.running(), "the daemon exited\n{}", daemon.log());

    let tally = tally.take();
    assert!(tally.refused.is_empty(), "{:?}", tally.refused);
    assert!(tally.unavailable > 0, "no save met the outage");
    assert!(before_outage > 0, "no save before the outage");
    // Every acknowledged save is stored, once, with the id it was given.
    for w in 0..WRITERS {
        let (status, conversation) = get(
            &client,
            &base,
            &format!("/v1/conversations/by-user/outage-{w}"),
        )
        .await;
        assert_eq!(status, 200);
        let id = conversation["id"].as_i64().unwrap();
        let (_, document) = get(&client, &base, &format!("/v1/conversations/{id}/export")).await;
        let stored: Vec<(String, i64)> = document["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["content"].as_str().unwrap().to_string(),
                    m["id"].as_i64().unwrap(),
                )
            })
            .collect();
        let acknowledged: Vec<(String, i64)> = tally
            .acknowledged
            .iter()
            .filter(|(writer, _, _)| *writer == w)
            .map(|(_, content, id)| (content.clone(), *id))
            .collect();
        assert_eq!(stored, acknowledged, "writer {w}");
        assert_eq!(conversation["message_count"], acknowledged.len());
    }
    let (status, log) = daemon.stop().await;
    assert!(status.success(), "{status:?}\n{log}");
    assert!(!log.contains("panicked"), "{log}");
}

/// What the writers saw.
#[derive(Default)]
struct Tally {
    /// (writer, content, id) of each acknowledged save, in order.
    acknowledged: Vec<(usize, String, i64)>,
    /// Saves answered 503 (each retried with its key).
    unavailable: u64,
    /// Anything else: a refused connection or another status.
    refused: Vec<String>,
}

/// Saves to conversation `id` one message after the other until `stop`; a 503 is
/// retried with the same idempotency key until it is acknowledged.
async fn write(
    client: awc::Client,
    base: String,
    id: i64,
    writer: usize,
    tally: Rc<RefCell<Tally>>,
    stop: Rc<RefCell<bool>>,
) {
    let mut n = 0;
    while !*stop.borrow() {
        n += 1;
        let content = format!("w{writer} m{n}");
        let save =
            json!({"role": "user", "content": content, "tokens": 1, "idempotency_key": content});
        loop {
            let path = format!("/v1/conversations/{id}/messages");
            match try_post(&client, &base, &path, &save).await {
                Ok((201 | 200, body)) => {
                    let stored = body["id"].as_i64().unwrap();
                    tally
                        .borrow_mut()
                        .acknowledged
                        .push((writer, content.clone(), stored));
                    break;
                }
                Ok((503, _)) => {
                    tally.borrow_mut().unavailable += 1;
                    actix_rt::time::sleep(Duration::from_millis(50)).await;
                }
                Ok((status, body)) => {
                    tally.borrow_mut().refused.push(format!("{status} {body}"));
                    actix_rt::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => {
                    tally.borrow_mut().refused.push(error);
                    actix_rt::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

fn user(name: &str) -> Value {
    json!({"user_key": format!("outage-{name}"), "platform": "test"})
}

/// Waits until `watchdog` petted the watchdog `times` times, at most 2 s a time.
fn assert_petted(daemon: &Daemon, times: usize) {
    for _ in 0..times {
        let started = Instant::now();
        while !daemon.notified("WATCHDOG=1") {
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "the watchdog was not petted\n{}",
                daemon.log()
            );
        }
    }
}

async fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return true;
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

async fn get(client: &awc::Client, base: &str, path: &str) -> (u16, Value) {
    let mut response = client
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let body = response.body().limit(64 << 20).await.unwrap();
    (
        response.status().as_u16(),
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

async fn post(client: &awc::Client, base: &str, path: &str, body: &Value) -> (u16, Value) {
    try_post(client, base, path, body)
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

async fn try_post(
    client: &awc::Client,
    base: &str,
    path: &str,
    body: &Value,
) -> Result<(u16, Value), String> {
    let mut response = client
        .post(format!("{base}{path}"))
        .send_json(body)
        .await
        .map_err(|e| e.to_string())?;
    let bytes = response.body().await.map_err(|e| e.to_string())?;
    Ok((
        response.status().as_u16(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}
