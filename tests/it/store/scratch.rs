//! The test databases themselves: one is dropped even when its test panics, and the
//! sweep at the start of a run drops the leftovers of a killed run, but not the
//! databases of a run that may still be going on.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use convstore::db::scratch::{self, ScratchDb};
use convstore::db::{Backend, DbTarget};
use diesel_async::{AsyncConnection, SimpleAsyncConnection};

use crate::fixtures::db::{TestDb, server};

/// Whether the database `target` names can be connected to.
async fn exists(target: &DbTarget) -> bool {
    match target {
        DbTarget::Postgres(url) => diesel_async::AsyncPgConnection::establish(url)
            .await
            .is_ok(),
        DbTarget::Mysql(url) => diesel_async::AsyncMysqlConnection::establish(url)
            .await
            .is_ok(),
        DbTarget::Sqlite(path) => path.exists(),
    }
}

/// Runs `statement` on the server `server` names.
async fn execute(server: &DbTarget, statement: &str) {
    match server {
        DbTarget::Postgres(url) => {
            let mut conn = diesel_async::AsyncPgConnection::establish(url)
                .await
                .unwrap();
            conn.batch_execute(statement).await.unwrap();
        }
        DbTarget::Mysql(url) => {
            let mut conn = diesel_async::AsyncMysqlConnection::establish(url)
                .await
                .unwrap();
            conn.batch_execute(statement).await.unwrap();
        }
        DbTarget::Sqlite(_) => unreachable!("SQLite has no server"),
    }
}

/// A test on `backend` that panics after making its database: once it has unwound,
/// the database is gone.
fn dropped_after_a_panic(backend: Backend) {
    let made = std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let db = TestDb::create(backend).await?;
            let store = db.store().await;
            crate::fixtures::store::open_conversation(&store, "doomed").await;
            // What the panic must not leak: the target is passed out through the panic.
            std::panic::panic_any(db.target().clone());
        })
    })
    .join();
    let target = match made {
        Ok(None) => return,
        Ok(Some(())) => unreachable!("the test panics"),
        Err(payload) => *payload
            .downcast::<DbTarget>()
            .expect("the panic carries the database's target"),
    };
    actix_rt::System::new().block_on(async move {
        assert!(
            !exists(&target).await,
            "{target:?} outlived the test that panicked"
        );
    });
}

#[test]
fn a_sqlite_test_database_is_dropped_when_its_test_panics() {
    dropped_after_a_panic(Backend::Sqlite);
}

#[test]
fn a_postgres_test_database_is_dropped_when_its_test_panics() {
    dropped_after_a_panic(Backend::Postgres);
}

#[test]
fn a_mysql_test_database_is_dropped_when_its_test_panics() {
    dropped_after_a_panic(Backend::Mysql);
}

/// The sweep drops a database named as made two decades ago, and keeps one made now.
async fn the_sweep_takes_leftovers_only(backend: Backend) {
    let Some(Some(server)) = server(backend) else {
        return;
    };
    // A prefix of its own, so that the test sweeps nothing of other tests.
    let prefix = format!("convstore_sweeptest_{}", std::process::id());
    let long_ago = SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
        - Duration::from_secs(20 * 365 * 86_400);
    let leftover = format!("{prefix}_{}_1_0", long_ago.as_secs());
    execute(&server, &format!("CREATE DATABASE {leftover}")).await;
    let young = ScratchDb::on_server(&server, &prefix).await.unwrap();
    let swept = scratch::sweep(&server, &prefix, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(swept, std::slice::from_ref(&leftover));
    assert!(exists(young.target()).await, "the young database was kept");
    let again = scratch::sweep(&server, &prefix, Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
    let young_target = young.target().clone();
    drop(young);
    assert!(
        !exists(&young_target).await,
        "dropping the guard dropped it"
    );
}

#[actix_rt::test]
async fn the_postgres_sweep_takes_leftovers_only() {
    the_sweep_takes_leftovers_only(Backend::Postgres).await;
}

#[actix_rt::test]
async fn the_mysql_sweep_takes_leftovers_only() {
    the_sweep_takes_leftovers_only(Backend::Mysql).await;
}
