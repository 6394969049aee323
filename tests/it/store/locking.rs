//! A SQLite file that another process holds locked: the store answers `Unavailable`
//! after its busy timeout (no panic, no hang), writes nothing half-way, waits out a lock
//! shorter than the timeout, and works again once the lock is gone. (A data directory
//! the binary cannot write is `daemon::refusals`.)
//!
//! The other process is played by `fixtures::sqlite_lock`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use convstore::db::{Backend, DbSettings, DbTarget};
use convstore::store::requests::*;
use convstore::{Role, StoreActor, StoreError};

use crate::fixtures::db::TestDb;
use crate::fixtures::sqlite_lock::ExclusiveLock;
use crate::fixtures::store::*;

/// The busy timeout of the store under the long lock.
const BUSY_TIMEOUT: Duration = Duration::from_millis(500);
/// Longest a call may take while the file is locked: the busy timeout, twice over (a
/// save may wait for the failed commit before it, then fail its own), with room for a
/// loaded machine. Well below the time the lock is held, so a call that waited for the
/// release instead of giving up fails the test.
const PATIENCE: Duration = Duration::from_millis(1_900);
/// How long the long lock is held at least.
const LONG_LOCK: Duration = Duration::from_secs(2);

fn sqlite_path(db: &TestDb) -> PathBuf {
    match db.target() {
        DbTarget::Sqlite(path) => path.clone(),
        other => panic!("a SQLite test database, not {other:?}"),
    }
}

fn new_message(content: &str, tokens: i64) -> NewMessage {
    NewMessage::new(Role::User, content).tokens(tokens)
}

#[track_caller]
fn assert_unavailable<T: std::fmt::Debug>(what: &str, result: &Result<T, StoreError>) {
    match result {
        Err(StoreError::Unavailable(detail)) => assert!(
            detail.contains("locked") || detail.contains("busy"),
            "{what}: Unavailable should say the database is locked, says {detail:?}"
        ),
        other => panic!("{what}: expected Unavailable while the file is locked, got {other:?}"),
    }
}

#[actix_rt::test]
async fn a_locked_file_answers_unavailable_after_the_busy_timeout_then_recovers() {
    let db = TestDb::create(Backend::Sqlite).await.expect("SQLite");
    let store = StoreActor::open(
        DbSettings {
            busy_timeout: BUSY_TIMEOUT,
            ..db.settings()
        },
        Default::default(),
    )
    .await
    .expect("open the store");
    let id = open_conversation(&store, "locking:user").await.id;
    save_script(
        &store,
        id,
        &[
            (Role::User, "before 1", 3),
            (Role::Assistant, "before 2", 5),
            (Role::User, "before 3", 7),
        ],
    )
    .await;
    let before = snapshot(&db, &store).await;

    let lock = ExclusiveLock::take(&sqlite_path(&db), Duration::from_secs(10));

    // One save: it waits the busy timeout, then gives up.
    let started = Instant::now();
    let single = call(
        &store,
        SaveMessage {
            conversation_id: id,
            message: new_message("during the lock", 11),
        },
    )
    .await;
    let waited = started.elapsed();
    assert_unavailable("a save", &single);
    assert!(
        waited >= BUSY_TIMEOUT.mul_f32(0.9),
        "the save gave up after {waited:?}, before the busy timeout of {BUSY_TIMEOUT:?}"
    );
    assert!(
        waited < PATIENCE,
        "the save took {waited:?} to give up (busy timeout {BUSY_TIMEOUT:?})"
    );

    // Saves sent together, single ones and a batch: every one fails, none hangs.
    let started = Instant::now();
    let singles = (0..4).map(|n| {
        call(
            &store,
            SaveMessage {
                conversation_id: id,
                message: new_message(&format!("concurrent {n}"), 13),
            },
        )
    });
    let batch = call(
        &store,
        SaveMessages {
            conversation_id: id,
            messages: vec![new_message("batch 1", 17), new_message("batch 2", 19)],
        },
    );
    let (singles, batch) =
        futures_util::future::join(futures_util::future::join_all(singles), batch).await;
    for (n, result) in singles.iter().enumerate() {
        assert_unavailable(&format!("concurrent save {n}"), result);
    }
    assert_unavailable("a batch", &batch);
    assert!(
        started.elapsed() < PATIENCE,
        "the concurrent saves took {:?} to give up",
        started.elapsed()
    );

    // Reads do not need the write lock: they answer at once (WAL).
    let started = Instant::now();
    let stats = ok(&store, GetStats).await;
    assert_eq!(stats.total_messages, 3);
    assert_eq!(all_messages(&store, id).await.len(), 3);
    assert!(
        started.elapsed() < BUSY_TIMEOUT,
        "reads took {:?} during the lock",
        started.elapsed()
    );

    // The lock is held about two seconds in all.
    let held = lock.taken_at.elapsed();
    if held < LONG_LOCK {
        actix_rt::time::sleep(LONG_LOCK - held).await;
    }
    lock.release();

    // Nothing of the failed calls was written, rows or counters.
    assert_eq!(snapshot(&db, &store).await, before);

    // The store works again, on the same connections, and counts exactly.
    save(&store, id, Role::Assistant, "after 1", 23).await;
    let saved = ok(
        &store,
        SaveMessages {
            conversation_id: id,
            messages: vec![new_message("after 2", 29), new_message("after 3", 31)],
        },
    )
    .await;
    assert_eq!(saved.len(), 2);
    let conversation = conversation(&store, id).await;
    assert_eq!(conversation.message_count, 6);
    assert_eq!(conversation.total_tokens, 3 + 5 + 7 + 23 + 29 + 31);
    assert_eq!(
        contents(&all_messages(&store, id).await),
        [
            "before 1", "before 2", "before 3", "after 1", "after 2", "after 3"
        ]
    );
    assert_eq!(db.count_rows("messages").await, 6);
}

#[actix_rt::test]
async fn a_save_waits_out_a_lock_shorter_than_the_busy_timeout() {
    let db = TestDb::create(Backend::Sqlite).await.expect("SQLite");
    let busy_timeout = Duration::from_secs(5);
    let store = StoreActor::open(
        DbSettings {
            busy_timeout,
            ..db.settings()
        },
        Default::default(),
    )
    .await
    .expect("open the store");
    let id = open_conversation(&store, "locking:short").await.id;
    save(&store, id, Role::User, "first", 2).await;

    let short = Duration::from_millis(400);
    let lock = ExclusiveLock::take(&sqlite_path(&db), short);
    let started = Instant::now();
    let saved = call(
        &store,
        SaveMessage {
            conversation_id: id,
            message: new_message("issued under a short lock", 3),
        },
    )
    .await;
    let waited = started.elapsed();
    let since_lock = lock.taken_at.elapsed();
    lock.release();

    let saved = saved.expect("a save under a lock shorter than the busy timeout succeeds");
    assert!(saved.created);
    // It really waited for the lock: it was answered only after the lock was let go.
    assert!(
        since_lock >= short,
        "the save was answered {since_lock:?} after the lock was taken, before its release at {short:?}"
    );
    assert!(
        waited < busy_timeout,
        "the save took {waited:?}, the whole busy timeout"
    );
    let conversation = conversation(&store, id).await;
    assert_eq!(
        (conversation.message_count, conversation.total_tokens),
        (2, 5)
    );
    assert_eq!(db.count_rows("messages").await, 2);
}
