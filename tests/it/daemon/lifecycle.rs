//! The `convstore serve` binary as systemd runs it: READY=1 on the notify socket once
//! migrated and bound, each bound address logged, requests served, a clean exit 0 on
//! SIGTERM with every acknowledged write kept, the token never in the log, and an
//! archive folder it cannot write named at start (cleanups then delete nothing).

use std::time::Duration;

use convstore::StoreActor;
use convstore::db::{Backend, DbSettings, DbTarget};
use convstore::store::requests::GetStats;

use crate::fixtures::daemon::{Convstore, listening_addr};

#[actix_rt::test]
async fn notifies_systemd_serves_and_stops_cleanly_on_sigterm() {
    let mut daemon = Convstore::new("serve").start();
    let client = awc::Client::default();
    let base = &daemon.base;
    let mut created = client
        .post(format!("{base}/v1/conversations"))
        .send_json(&serde_json::json!({"user_key": "daemon-user", "platform": "slack"}))
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let conversation: serde_json::Value = created.json().await.unwrap();
    let id = conversation["id"].as_i64().unwrap();
    for i in 0..20 {
        let response = client
            .post(format!("{base}/v1/conversations/{id}/messages"))
            .send_json(
                &serde_json::json!({"role": "user", "content": format!("m{i}"), "tokens": 2}),
            )
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
    }

    daemon.terminate();
    let status = daemon.wait_exit(Duration::from_secs(30)).await;
    let log = daemon.log();
    assert!(status.success(), "exit {status:?}\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(daemon.notified("STOPPING=1"), "STOPPING=1 was sent");

    // Every acknowledged save is in the file.
    let target = DbTarget::parse(None, &daemon.dir().join("data")).unwrap();
    assert_eq!(target.backend(), Backend::Sqlite);
    let store = StoreActor::open(DbSettings::new(target), Default::default())
        .await
        .unwrap();
    let stats = store.send(GetStats).await.unwrap().unwrap();
    assert_eq!(
        (
            stats.total_conversations,
            stats.total_messages,
            stats.total_tokens
        ),
        (1, 20, 40)
    );
}

// Test fixtures here and in the Python package find the daemon's port by this line.
#[actix_rt::test]
async fn logs_each_address_it_is_bound_to() {
    let daemon = Convstore::new("serve")
        .env("CONVSTORE_BIND", "127.0.0.1:0")
        .start();
    let log = daemon.log();
    let line = log
        .lines()
        .find(|line| line.contains("listening"))
        .unwrap_or_else(|| panic!("no listening line\n{log}"));
    let addr = listening_addr(&log).expect("a listening address");
    assert!(
        line.ends_with(&format!("listening addr={addr}")),
        "the line reads `listening addr=<ip>:<port>`: {line:?}"
    );
    let addr: std::net::SocketAddr = addr.parse().expect("an ip:port");
    assert!(addr.ip().is_loopback(), "{addr}");
    assert_ne!(addr.port(), 0, "the port the system chose, not 0");
    let health = awc::Client::default()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("the logged address serves");
    assert_eq!(health.status().as_u16(), 200);
    let (status, log) = daemon.stop().await;
    assert!(status.success(), "{log}");
}

#[actix_rt::test]
async fn the_token_never_reaches_the_log() {
    let token = "s3cret-token-that-must-not-be-logged";
    let daemon = Convstore::new("serve")
        .env("CONVSTORE_TOKEN", token)
        .env("RUST_LOG", "debug")
        .start();
    let client = awc::Client::default();
    let base = &daemon.base;
    let wrong = client
        .get(format!("{base}/v1/stats"))
        .insert_header(("Authorization", format!("Bearer {token}x")))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let right = client
        .get(format!("{base}/v1/stats"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status().as_u16(), 200);
    let (status, log) = daemon.stop().await;
    assert!(status.success(), "{log}");
    assert!(
        log.contains("DEBUG"),
        "the daemon logged at debug level:\n{log}"
    );
    assert!(
        !log.contains(token),
        "the token appeared in the log:\n{log}"
    );
}

#[actix_rt::test]
async fn an_archive_dir_it_cannot_write_is_named_at_start_and_cleanups_delete_nothing() {
    let command = Convstore::new("serve");
    // A folder that cannot be created, even by root: its parent is a file.
    let blocker = command.dir().join("not-a-folder");
    std::fs::write(&blocker, b"").unwrap();
    let archive = blocker.join("archive");
    let daemon = command
        .env("CONVSTORE_SCHEDULE__ARCHIVE_DIR", &archive)
        .start();
    let log = daemon.log();
    assert!(
        log.contains("schedule.archive_dir is not writable") && log.contains("ReadWritePaths"),
        "no clear word about the archive folder at start\n{log}"
    );
    let client = awc::Client::default();
    let base = &daemon.base;
    let old = serde_json::json!({
        "conversation": {"user_key": "archived-user", "platform": "qq",
                         "last_activity": "2020-01-01T00:00:00Z"},
        "messages": [{"role": "user", "content": "keep me"}]
    });
    let imported = client
        .post(format!("{base}/v1/import"))
        .send_json(&old)
        .await
        .unwrap();
    assert_eq!(imported.status().as_u16(), 201);
    let mut cleanup = client
        .post(format!("{base}/admin/cleanup?days=30"))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = cleanup.json().await.unwrap();
    assert_eq!(cleanup.status().as_u16(), 500, "{body}");
    let log = daemon.log();
    assert!(
        log.contains(&format!("cannot archive to {}", archive.display())),
        "the log names the archive folder\n{log}"
    );
    let kept = client
        .get(format!("{base}/v1/conversations/by-user/archived-user"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        kept.status().as_u16(),
        200,
        "the cleanup deleted without archiving"
    );
}
