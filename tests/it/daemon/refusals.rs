//! What the binary refuses at start-up, each with a message naming the reason and no
//! panic: a public bind without a token, an unknown configuration key, a data directory
//! that cannot be created or written. `serve` refuses before it listens.
//!
//! Tests run as root, which ignores permission bits, so a directory nothing can be
//! created in is made of procfs: not even root can write there.

use std::path::Path;
use std::time::Duration;

use crate::fixtures::daemon::Convstore;

/// How long a refusal may take.
const LIMIT: Duration = Duration::from_secs(30);

/// Runs `command`; it must fail, with a log that names `reason`.
async fn refused(command: Convstore, reason: &str) -> String {
    let (status, log) = command.run(LIMIT).await;
    assert!(!status.success(), "it was not refused\n{log}");
    assert!(log.contains(reason), "the refusal names {reason:?}:\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    log
}

#[actix_rt::test]
async fn refuses_a_public_bind_without_a_token() {
    let serve = Convstore::new("serve").env("CONVSTORE_BIND", "0.0.0.0:0");
    refused(serve, "without a token").await;
}

#[actix_rt::test]
async fn refuses_an_unknown_config_key_naming_it() {
    let serve = Convstore::new("serve");
    let config = serve.dir().join("config.toml");
    std::fs::write(
        &config,
        "[http]\nbind = \"127.0.0.1:0\"\ncolour = \"blue\"\n",
    )
    .unwrap();
    refused(serve.env("CONVSTORE_CONFIG", &config), "colour").await;
}

#[actix_rt::test]
async fn refuses_an_unwritable_data_directory() {
    let serve = Convstore::new("serve");
    let blocker = serve.dir().join("not-a-dir");
    std::fs::write(&blocker, "a file where the data folder should be").unwrap();
    let data_dir = blocker.join("data");
    refused(
        serve.env("CONVERSATION_DATA_DIR", data_dir),
        "cannot create",
    )
    .await;
}

#[actix_rt::test]
async fn a_data_directory_that_cannot_be_created_is_refused_by_name() {
    let data_dir = Path::new("/proc/convstore-test/data");
    let migrate = Convstore::new("migrate").env("CONVERSATION_DATA_DIR", data_dir);
    refused(migrate, "cannot create /proc/convstore-test").await;
}

#[actix_rt::test]
async fn a_data_directory_where_no_file_can_be_created_is_refused_by_name() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    for command in ["migrate", "serve"] {
        let command = Convstore::new(command)
            .env("CONVERSATION_DATA_DIR", "/proc")
            .env("CONVSTORE_BIND", format!("127.0.0.1:{port}"));
        refused(command, "cannot open /proc/conversations.db").await;
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "nothing listens without a database"
        );
    }
}
