//! Bounded lock waits on PostgreSQL and MySQL: while another session holds a
//! conversation's row (an open `SELECT ... FOR UPDATE`, a long transaction of another
//! daemon), the saves of that conversation answer `Unavailable` after the lock timeout
//! (`database.busy_timeout_ms`), and saves to other conversations keep committing
//! meanwhile. SQLite has no row locks: its file lock is `store::locking`'s.

use std::time::Duration;

use convstore::db::{Backend, DbSettings, DbTarget};
use convstore::store::requests::*;
use convstore::{Role, StoreError};
use diesel_async::{AsyncConnection, SimpleAsyncConnection};
use futures_util::future::join_all;

use crate::fixtures::db::TestDb;
use crate::fixtures::store::*;

/// The lock timeout of the store under test.
const LOCK_TIMEOUT: Duration = Duration::from_millis(1000);
/// Longer than any bounded wait: a call still waiting then is waiting without a bound.
const UNBOUNDED: Duration = Duration::from_secs(30);
/// Saves to the free conversation while the other is held.
const FREE_SAVES: usize = 40;

/// A session of its own holding the row of conversation `id` until dropped.
async fn hold_row(target: &DbTarget, id: i64) -> Box<dyn std::any::Any> {
    let lock = format!("BEGIN; SELECT id FROM conversations WHERE id = {id} FOR UPDATE");
    match target {
        DbTarget::Postgres(url) => {
            let mut conn = diesel_async::AsyncPgConnection::establish(url)
                .await
                .unwrap();
            conn.batch_execute(&lock).await.unwrap();
            Box::new(conn)
        }
        DbTarget::Mysql(url) => {
            let mut conn = diesel_async::AsyncMysqlConnection::establish(url)
                .await
                .unwrap();
            conn.batch_execute("BEGIN").await.unwrap();
            conn.batch_execute(&lock.replace("BEGIN; ", ""))
                .await
                .unwrap();
            Box::new(conn)
        }
        DbTarget::Sqlite(_) => unreachable!("no row locks on SQLite"),
    }
}

backend_test!(
    a_held_row_answers_unavailable_after_the_bound,
    async |db: &TestDb| {
        if db.backend() == Backend::Sqlite {
            return;
        }
        let store = convstore::StoreActor::open(
            DbSettings {
                busy_timeout: LOCK_TIMEOUT,
                ..db.settings()
            },
            Default::default(),
        )
        .await
        .unwrap();
        let held = open_conversation(&store, "held").await;
        let free = open_conversation(&store, "free").await;
        let holder = hold_row(db.target(), held.id).await;

        let save = |id: i64, n: usize| {
            call(
                &store,
                SaveMessage {
                    conversation_id: id,
                    message: NewMessage::new(Role::User, format!("m{n}")).tokens(1),
                },
            )
        };
        let blocked = save(held.id, 0);
        let flowing = join_all((0..FREE_SAVES).map(|n| save(free.id, n)));
        let (blocked, flowing) =
            tokio::time::timeout(UNBOUNDED, futures_util::future::join(blocked, flowing))
                .await
                .expect("a save waited for a held row without a bound");
        assert!(
            matches!(blocked, Err(StoreError::Unavailable(_))),
            "{blocked:?}"
        );
        assert!(
            flowing.iter().all(Result::is_ok),
            "{:?}",
            flowing.iter().find(|r| r.is_err())
        );
        assert_eq!(
            conversation(&store, free.id).await.message_count,
            FREE_SAVES as i64
        );

        drop(holder);
        save(held.id, 1).await.expect("saves once the row is free");
        assert_eq!(conversation(&store, held.id).await.message_count, 1);
    }
);
