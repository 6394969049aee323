//! A database server that accepts connections and never answers (a hung host, a
//! stopped process; seen with MariaDB, which has no query timeout of its own): every
//! call answers `Unavailable` within the bounds of the configuration
//! (`connect_timeout_ms`, `query_timeout_ms`), and the store works again without a
//! restart once the server answers. Played by a listening socket that nobody accepts
//! on (connections complete in the kernel's backlog, then silence), and by a private
//! server frozen with SIGSTOP while the store holds connections to it.

use std::future::Future;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use convstore::db::{Backend, DbSettings, DbTarget};
use convstore::store::requests::*;
use convstore::{Role, StoreActor, StoreError};

use crate::fixtures::db::{REQUIRE_VAR, server};
use crate::fixtures::private_server::{self, PrivateServer};
use crate::fixtures::store::*;

/// `connect_timeout_ms` and `query_timeout_ms` of the stores under test.
const BOUND: Duration = Duration::from_millis(600);
/// Longest a call may take against a silent server: the pool's wait for a connection,
/// opening one, and the query, each within the bound, with room for a loaded machine.
const PATIENCE: Duration = Duration::from_secs(4);

fn settings(target: DbTarget) -> DbSettings {
    DbSettings {
        connect_timeout: BOUND,
        query_timeout: BOUND,
        busy_timeout: BOUND,
        pool_size: 2,
        ..DbSettings::new(target)
    }
}

/// `work`'s answer, which must come within [`PATIENCE`].
async fn answered<T>(what: &str, work: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let answer = actix_rt::time::timeout(PATIENCE * 5, work)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {:?}", PATIENCE * 5));
    let took = started.elapsed();
    assert!(took < PATIENCE, "{what} took {took:?}");
    answer
}

#[track_caller]
fn assert_unavailable<T: std::fmt::Debug>(what: &str, answer: Result<T, StoreError>) {
    match answer {
        Err(StoreError::Unavailable(detail)) => assert!(
            detail.contains("did not answer") || detail.contains("imeout"),
            "{what}: Unavailable should name the timeout, says {detail:?}"
        ),
        other => panic!("{what}: expected Unavailable, got {other:?}"),
    }
}

#[actix_rt::test]
async fn a_server_that_never_answers_is_unavailable_within_the_connect_timeout() {
    let silent = TcpListener::bind("127.0.0.1:0").expect("a listening socket");
    let port = silent.local_addr().expect("its port").port();
    for target in [
        DbTarget::Postgres(format!("postgres://convstore@127.0.0.1:{port}/convstore")),
        DbTarget::Mysql(format!("mysql://convstore@127.0.0.1:{port}/convstore")),
    ] {
        let what = format!("opening {}", target.backend());
        let opened = answered(
            &what,
            StoreActor::open(settings(target.clone()), Default::default()),
        )
        .await;
        assert_unavailable(&what, opened.map(drop));
        // The daemon's way: it opens at once, and calls answer 503 meanwhile.
        let store = answered(
            "opening while retrying",
            StoreActor::open_retrying(settings(target), Default::default()),
        )
        .await
        .expect("open_retrying answers at once");
        let created = answered(
            "a get-or-create",
            store.send(GetOrCreate {
                user_key: "silent".into(),
                platform: "qq".into(),
                chat_id: None,
            }),
        )
        .await
        .expect("the store answers");
        assert!(
            matches!(created, Err(StoreError::Unavailable(_))),
            "{created:?}"
        );
    }
}

#[actix_rt::test]
async fn postgres_frozen_under_open_connections_answers_unavailable_then_heals() {
    frozen_server(Backend::Postgres).await;
}

#[actix_rt::test]
async fn mariadb_frozen_under_open_connections_answers_unavailable_then_heals() {
    frozen_server(Backend::Mysql).await;
}

async fn frozen_server(backend: Backend) {
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
    db.start();
    let target = match backend {
        Backend::Postgres => DbTarget::Postgres(db.url()),
        _ => DbTarget::Mysql(db.url()),
    };
    let store = StoreActor::open(settings(target), Default::default())
        .await
        .expect("open the store");
    let id = open_conversation(&store, "frozen").await.id;
    let save = |content: &str| SaveMessage {
        conversation_id: id,
        message: NewMessage::new(Role::User, content).idempotency_key(content),
    };
    ok(&store, save("before")).await;

    db.pause();
    for round in 0..3 {
        let saved = answered("a save", store.send(save("while frozen"))).await;
        assert_unavailable(&format!("save {round}"), saved.expect("the store answers"));
        let read = answered(
            "a read",
            store.send(GetConversation {
                conversation_id: id,
            }),
        )
        .await;
        assert_unavailable(&format!("read {round}"), read.expect("the store answers"));
    }
    db.resume();

    // Healed: the same store, no restart.
    let started = Instant::now();
    let saved = loop {
        match store.send(save("after")).await.expect("the store answers") {
            Ok(saved) => break saved,
            Err(StoreError::Unavailable(_)) if started.elapsed() < Duration::from_secs(30) => {
                actix_rt::time::sleep(Duration::from_millis(100)).await;
            }
            Err(other) => panic!("after the thaw: {other:?}"),
        }
    };
    assert_eq!(saved.message.content, "after");
    // A save answered 503 may have committed (the connection was cut, not the
    // transaction): its key settles it, once at most.
    let stored = all_messages(&store, id).await;
    let contents = contents(&stored);
    assert_eq!(contents.first(), Some(&"before"));
    assert_eq!(contents.last(), Some(&"after"));
    assert!(contents.len() <= 3, "{contents:?}");
}
