//! Writes that wait for the SQLite writer hold no thread each: 200 summary updates sent
//! at once while another connection holds the file's write lock keep the daemon's
//! thread count within what its configuration allows (one writer thread and one per
//! reader connection), and every one of them lands once the lock is released.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::fixtures::daemon::Convstore;
use crate::fixtures::sqlite_lock::ExclusiveLock;

/// Summary updates sent at once.
const WRITERS: usize = 200;
/// The daemon's reader connections (`database.pool_size`).
const READERS: usize = 4;
/// Threads the daemon may add under the waiting writes: the writer's, one per reader,
/// and a few of the runtime's own.
const MORE_THREADS: usize = 1 + READERS + 3;
/// How long the waiting writes are watched before the lock is released.
const WATCH: Duration = Duration::from_secs(3);

/// The daemon's thread count, from `/proc/<pid>/status`.
fn threads(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|count| count.trim().parse().ok())
        .expect("a Threads: line")
}

async fn send(
    client: &awc::Client,
    method: awc::http::Method,
    url: String,
    body: Value,
) -> (u16, Value) {
    let mut reply = client
        .request(method, url)
        .send_json(&body)
        .await
        .expect("an answer");
    let body = reply
        .json::<Value>()
        .limit(1 << 20)
        .await
        .unwrap_or(Value::Null);
    (reply.status().as_u16(), body)
}

#[actix_rt::test]
async fn writes_waiting_for_the_sqlite_writer_hold_no_thread_each() {
    let daemon = Convstore::new("serve")
        .env("CONVSTORE_DATABASE__BUSY_TIMEOUT_MS", "60000")
        .env("CONVSTORE_DATABASE__POOL_SIZE", READERS.to_string())
        .start();
    let client = awc::Client::builder()
        .connector(awc::Connector::new().limit(WRITERS + 10))
        .timeout(Duration::from_secs(60))
        .finish();
    let base = daemon.base.clone();
    let mut ids = Vec::with_capacity(WRITERS);
    for i in 0..WRITERS {
        let user = json!({"user_key": format!("pile-up-{i}"), "platform": "qq"});
        let (status, body) = send(
            &client,
            awc::http::Method::POST,
            format!("{base}/v1/conversations"),
            user,
        )
        .await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_i64().expect("an id"));
    }
    let before = threads(daemon.pid());

    let lock = ExclusiveLock::take(&daemon.dir().join("data/conversations.db"), WATCH * 20);
    let writes = join_all(ids.iter().map(|id| {
        let url = format!("{base}/v1/conversations/{id}/summary");
        send(
            &client,
            awc::http::Method::PUT,
            url,
            json!({"summary": format!("summary of {id}")}),
        )
    }));
    let watch = async {
        let mut most = 0;
        let until = std::time::Instant::now() + WATCH;
        while std::time::Instant::now() < until {
            actix_rt::time::sleep(Duration::from_millis(50)).await;
            most = most.max(threads(daemon.pid()));
        }
        lock.release();
        most
    };
    let (answers, most) = futures_util::join!(writes, watch);

    for (id, (status, body)) in ids.iter().zip(&answers) {
        assert_eq!(*status, 200, "the summary of {id}: {body}");
    }
    assert!(
        most <= before + MORE_THREADS,
        "{WRITERS} writes waiting for the writer took the daemon from {before} to {most} \
         threads (at most {MORE_THREADS} more allowed)\n{}",
        daemon.log()
    );
    for id in &ids {
        let mut reply = client
            .get(format!("{base}/v1/conversations/{id}"))
            .send()
            .await
            .expect("an answer");
        let body: Value = reply.json().await.expect("a conversation");
        assert_eq!(body["summary"], json!(format!("summary of {id}")), "{id}");
    }
}
