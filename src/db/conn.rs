//! A connection checked out of the pool, on whichever backend is open: [`DbConn`], the
//! [`with_conn!`] macro that runs one query body on it, and transactions.

use std::error::Error;

use diesel_async::{AsyncConnection, TransactionManager};
use futures_util::future::BoxFuture;

use super::dialect;
pub use super::ledger::Ledger;
use super::target::Backend;
use crate::error::StoreError;

#[cfg(feature = "mysql")]
use diesel_async::AsyncMysqlConnection;
#[cfg(feature = "postgres")]
use diesel_async::AsyncPgConnection;

/// Runs one body against the concrete connection behind a [`DbConn`], so that a query is
/// written once and type-checked for every compiled-in backend. Where one backend needs
/// other SQL, `sqlite: |c| ...` or `mysql: |c| ...` after the body gives it its own; the
/// other backends run the body.
macro_rules! with_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        $crate::db::conn::with_conn!(@arms $conn, $c => $body, $c => $body, $c => $body)
    };
    ($conn:expr, |$c:ident| $body:expr, sqlite: |$s:ident| $sqlite:expr $(,)?) => {
        $crate::db::conn::with_conn!(@arms $conn, $s => $sqlite, $c => $body, $c => $body)
    };
    ($conn:expr, |$c:ident| $body:expr, mysql: |$m:ident| $mysql:expr $(,)?) => {
        $crate::db::conn::with_conn!(@arms $conn, $c => $body, $c => $body, $m => $mysql)
    };
    (@arms $conn:expr, $s:ident => $sqlite:expr, $p:ident => $postgres:expr, $m:ident => $mysql:expr) => {
        match &mut $conn.link {
            #[cfg(feature = "sqlite")]
            $crate::db::conn::Link::Sqlite($s) => {
                let $s = &mut **$s;
                $sqlite
            }
            #[cfg(feature = "postgres")]
            $crate::db::conn::Link::Postgres($p) => {
                let $p = &mut **$p;
                $postgres
            }
            #[cfg(feature = "mysql")]
            $crate::db::conn::Link::Mysql($m) => {
                let $m = &mut **$m;
                $mysql
            }
        }
    };
}
pub(crate) use with_conn;

/// Runs `$insert` (an INSERT of one row) and answers the new row's id, its column `$id`:
/// RETURNING where the backend has it, `LAST_INSERT_ID()` on MySQL.
macro_rules! insert_returning_id {
    ($conn:expr, $insert:expr, $id:expr) => {
        $crate::db::conn::with_conn!(
            $conn,
            |c| $insert.returning($id).get_result(c).await,
            mysql: |c| {
                $insert.execute(c).await?;
                diesel::select($crate::db::dialect::last_insert_id())
                    .get_result(c)
                    .await
            }
        )
    };
}
pub(crate) use insert_returning_id;

/// Runs the wrapper's "blocking" tasks at once, on the calling thread: the SQLite pool
/// already runs each operation on a blocking thread of its own.
#[cfg(feature = "sqlite")]
pub struct Inline;

#[cfg(feature = "sqlite")]
impl diesel_async::sync_connection_wrapper::SpawnBlocking for Inline {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> BoxFuture<'a, Result<R, Box<dyn Error + Send + Sync + 'static>>>
    where
        R: Send + 'static,
    {
        Box::pin(std::future::ready(Ok(task())))
    }

    fn get_runtime() -> Self {
        Inline
    }
}

/// A SQLite connection as the shared query code sees it: diesel-async's wrapper around
/// the synchronous connection, running its statements inline ([`Inline`]).
#[cfg(feature = "sqlite")]
pub type SqliteConn =
    diesel_async::sync_connection_wrapper::SyncConnectionWrapper<diesel::SqliteConnection, Inline>;

/// A connection checked out of a [`Db`](super::Db), and what the running write
/// transaction changed in the store-wide counters, which the transaction writes as its
/// last statements (see [`Ledger`]).
pub struct DbConn<'a> {
    /// The connection, on its backend.
    pub link: Link<'a>,
    /// The counter changes of the running transaction, not yet written.
    pub ledger: Ledger,
    /// Whether one multi-row INSERT can answer every new id (`INSERT ... RETURNING`):
    /// on MySQL-family servers only MariaDB from 10.5 on (see `Db`); unused elsewhere.
    pub returns_inserted_ids: bool,
}

impl<'a> DbConn<'a> {
    /// The connection `link`, with nothing recorded.
    pub fn new(link: Link<'a>) -> DbConn<'a> {
        DbConn {
            link,
            ledger: Ledger::default(),
            returns_inserted_ids: false,
        }
    }
}

/// A connection on one of the compiled-in backends.
pub enum Link<'a> {
    /// SQLite through diesel-async's sync wrapper, run inline on a blocking thread.
    #[cfg(feature = "sqlite")]
    Sqlite(&'a mut SqliteConn),
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(&'a mut AsyncPgConnection),
    /// MySQL or MariaDB.
    #[cfg(feature = "mysql")]
    Mysql(&'a mut AsyncMysqlConnection),
}

/// Whether an operation only reads, or also writes. On SQLite writes go to the single
/// writer connection and reads to reader connections, so reads never wait for writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The operation only reads.
    Read,
    /// The operation writes.
    Write,
}

/// What a transaction is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transaction {
    /// Writes.
    Write,
    /// Reads on one snapshot.
    Snapshot,
}

impl DbConn<'_> {
    /// The backend this connection talks to.
    pub fn backend(&self) -> Backend {
        match self.link {
            #[cfg(feature = "sqlite")]
            Link::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            Link::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            Link::Mysql(_) => Backend::Mysql,
        }
    }

    /// Runs `body` in a transaction: committed if it returns `Ok`, rolled back otherwise.
    /// On SQLite the transaction takes the write lock at once (`BEGIN IMMEDIATE`), so it
    /// never fails half-way on a lock upgrade when another process writes too.
    pub async fn transaction<T>(
        &mut self,
        body: impl AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.within(Transaction::Write, body).await
    }

    /// Runs `body`, which only reads, on one consistent snapshot of the database, so
    /// that a record and its messages read in several statements agree with each other
    /// however many writes land meanwhile.
    pub async fn read_snapshot<T>(
        &mut self,
        body: impl AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.within(Transaction::Snapshot, body).await
    }

    async fn within<T>(
        &mut self,
        kind: Transaction,
        body: impl AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.begin(kind).await?;
        match body(self).await {
            Ok(value) => {
                with_conn!(self, |c| commit(c).await)?;
                Ok(value)
            }
            Err(error) => {
                // The body's error is the one to report; a failed rollback leaves the
                // connection marked broken, and the pool then discards it.
                let _ = with_conn!(self, |c| rollback(c).await);
                Err(error)
            }
        }
    }

    /// Opens a transaction with the backend's statement for `kind`. The sync wrapper of
    /// SQLite takes it through the inner connection's transaction manager, which the
    /// wrapper's own commit and rollback then close.
    async fn begin(&mut self, kind: Transaction) -> Result<(), StoreError> {
        let statement = dialect::begin_statement(self.backend(), kind == Transaction::Write);
        with_conn!(
            self,
            |c| diesel_async::AnsiTransactionManager::begin_transaction_sql(c, statement).await,
            sqlite: |c| {
                c.spawn_blocking(move |c| {
                    diesel::connection::AnsiTransactionManager::begin_transaction_sql(c, statement)
                })
                .await
            }
        )?;
        Ok(())
    }
}

async fn commit<C: AsyncConnection>(c: &mut C) -> diesel::QueryResult<()> {
    C::TransactionManager::commit_transaction(c).await
}

async fn rollback<C: AsyncConnection>(c: &mut C) -> diesel::QueryResult<()> {
    C::TransactionManager::rollback_transaction(c).await
}
