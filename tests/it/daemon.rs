//! The `convstore serve` binary as systemd runs it: READY=1 on the notify socket once
//! migrated and bound, requests served, a clean exit 0 on SIGTERM with every
//! acknowledged write kept, and refusals at start-up that name their reason.

use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use convstore::StoreActor;
use convstore::db::{Backend, DbSettings, DbTarget};
use convstore::store::requests::GetStats;

/// A free TCP port on the loopback interface.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts `convstore serve` in `dir` with `envs`, its stderr piped.
fn spawn_serve(dir: &Path, envs: &[(&str, String)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_convstore"));
    command
        .arg("serve")
        .current_dir(dir)
        .env_remove("CONVERSATION_DB_URL")
        .env_remove("CONVSTORE_TOKEN")
        .env("CONVERSATION_DATA_DIR", dir.join("data"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in envs {
        command.env(name, value);
    }
    command.spawn().expect("start convstore serve")
}

/// Waits for the child to exit (at most `limit`), killing it if it does not.
fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for convstore") {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("convstore did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut text);
    }
    text
}

#[actix_rt::test]
async fn notifies_systemd_serves_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let port = free_port();
    let mut child = spawn_serve(
        dir.path(),
        &[
            ("NOTIFY_SOCKET", socket_path.display().to_string()),
            ("CONVSTORE_BIND", format!("127.0.0.1:{port}")),
        ],
    );

    let mut ready = false;
    let mut buffer = [0u8; 1024];
    while !ready {
        let n = socket
            .recv(&mut buffer)
            .expect("a notification before the timeout");
        ready = String::from_utf8_lossy(&buffer[..n])
            .lines()
            .any(|l| l == "READY=1");
    }

    let client = awc::Client::default();
    let base = format!("http://127.0.0.1:{port}");
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

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_exit(&mut child, Duration::from_secs(30));
    let log = stderr_of(&mut child);
    assert!(status.success(), "exit {status:?}\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    let stopping = {
        let mut seen = false;
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        while let Ok(n) = socket.recv(&mut buffer) {
            seen |= String::from_utf8_lossy(&buffer[..n])
                .lines()
                .any(|l| l == "STOPPING=1");
        }
        seen
    };
    assert!(stopping, "STOPPING=1 was sent");

    // Every acknowledged save is in the file.
    let target = DbTarget::parse(None, &dir.path().join("data")).unwrap();
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

#[actix_rt::test]
async fn refuses_a_public_bind_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_serve(
        dir.path(),
        &[("CONVSTORE_BIND", format!("0.0.0.0:{}", free_port()))],
    );
    let status = wait_exit(&mut child, Duration::from_secs(30));
    let log = stderr_of(&mut child);
    assert!(!status.success());
    assert!(log.contains("without a token"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[actix_rt::test]
async fn refuses_an_unknown_config_key_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[http]\nbind = \"127.0.0.1:0\"\ncolour = \"blue\"\n",
    )
    .unwrap();
    let mut child = spawn_serve(
        dir.path(),
        &[("CONVSTORE_CONFIG", config.display().to_string())],
    );
    let status = wait_exit(&mut child, Duration::from_secs(30));
    let log = stderr_of(&mut child);
    assert!(!status.success());
    assert!(log.contains("colour"), "{log}");
}

#[actix_rt::test]
async fn refuses_an_unwritable_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "a file where the data folder should be").unwrap();
    let mut child = spawn_serve(
        dir.path(),
        &[
            (
                "CONVERSATION_DATA_DIR",
                blocker.join("data").display().to_string(),
            ),
            ("CONVSTORE_BIND", format!("127.0.0.1:{}", free_port())),
        ],
    );
    let status = wait_exit(&mut child, Duration::from_secs(30));
    let log = stderr_of(&mut child);
    assert!(!status.success());
    assert!(log.contains("cannot create"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[actix_rt::test]
async fn the_token_never_reaches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let token = "s3cret-token-that-must-not-be-logged";
    let port = free_port();
    let mut child = spawn_serve(
        dir.path(),
        &[
            ("CONVSTORE_BIND", format!("127.0.0.1:{port}")),
            ("CONVSTORE_TOKEN", token.to_string()),
            ("RUST_LOG", "debug".to_string()),
        ],
    );
    let client = awc::Client::default();
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..300 {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await {
            ready = response.status().is_success();
            if ready {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the daemon became ready");
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
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(30));
    let log = stderr_of(&mut child);
    assert!(status.success(), "{log}");
    assert!(!log.is_empty(), "the daemon logged at debug level");
    assert!(
        !log.contains(token),
        "the token appeared in the log:\n{log}"
    );
}
