//! The database layer: which backend a URL names, the connection pools, the
//! `with_conn!` macro that runs one query body on whichever backend is open,
//! transactions and migrations. Nothing outside this module writes SQL, but for the
//! benchmark's bulk loader (`bench/workload.rs`).

pub mod conversations;
pub mod dialect;
pub mod messages;
pub mod models;
pub mod schema;
pub mod scratch;
#[cfg(feature = "sqlite")]
mod sqlite;
mod target;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel_async::{AsyncConnection, TransactionManager};
use tracing::info;

use crate::error::StoreError;
pub use target::{Backend, DbTarget, redact};

#[cfg(feature = "mysql")]
use diesel_async::AsyncMysqlConnection;
#[cfg(feature = "postgres")]
use diesel_async::AsyncPgConnection;

/// Runs one body against the concrete connection behind a [`DbConn`], so that a query is
/// written once and type-checked for every compiled-in backend.
macro_rules! with_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            #[cfg(feature = "sqlite")]
            $crate::db::DbConn::Sqlite($c) => {
                let $c = &mut **$c;
                $body
            }
            #[cfg(feature = "postgres")]
            $crate::db::DbConn::Postgres($c) => {
                let $c = &mut **$c;
                $body
            }
            #[cfg(feature = "mysql")]
            $crate::db::DbConn::Mysql($c) => {
                let $c = &mut **$c;
                $body
            }
        }
    };
}
pub(crate) use with_conn;

/// How the database is opened: where, how many connections, how durable.
#[derive(Debug, Clone)]
pub struct DbSettings {
    /// The database to open.
    pub target: DbTarget,
    /// Connections per pool (PostgreSQL/MySQL), or reader connections (SQLite).
    pub pool_size: usize,
    /// How long to wait for a lock (SQLite) or a free connection before giving up.
    pub busy_timeout: Duration,
    /// SQLite `PRAGMA synchronous`: `full` (default, every commit is on disk), `normal`
    /// (WAL: may lose the last commits on power loss, never corrupts) or `off`.
    pub sqlite_synchronous: String,
    /// Log every SQL statement (the guide's `echo`).
    pub echo: bool,
}

impl DbSettings {
    /// Settings for `target` with the defaults for everything else.
    pub fn new(target: DbTarget) -> Self {
        DbSettings {
            target,
            pool_size: 8,
            busy_timeout: Duration::from_secs(5),
            sqlite_synchronous: "full".into(),
            echo: false,
        }
    }
}

/// A connection checked out of a [`Db`], on one of the compiled-in backends.
pub enum DbConn<'a> {
    /// SQLite through diesel-async's sync wrapper, run inline on a blocking thread.
    #[cfg(feature = "sqlite")]
    Sqlite(&'a mut sqlite::SqliteConn),
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(&'a mut AsyncPgConnection),
    /// MySQL or MariaDB.
    #[cfg(feature = "mysql")]
    Mysql(&'a mut AsyncMysqlConnection),
}

impl DbConn<'_> {
    /// The backend this connection talks to.
    pub fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "sqlite")]
            DbConn::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            DbConn::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            DbConn::Mysql(_) => Backend::Mysql,
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

    async fn begin(&mut self, kind: Transaction) -> Result<(), StoreError> {
        let statement = dialect::begin_statement(self.backend(), kind == Transaction::Write);
        match self {
            #[cfg(feature = "sqlite")]
            DbConn::Sqlite(c) => sqlite::begin(c, statement).await?,
            #[cfg(feature = "postgres")]
            DbConn::Postgres(c) => {
                diesel_async::AnsiTransactionManager::begin_transaction_sql(&mut **c, statement)
                    .await?
            }
            #[cfg(feature = "mysql")]
            DbConn::Mysql(c) => {
                diesel_async::AnsiTransactionManager::begin_transaction_sql(&mut **c, statement)
                    .await?
            }
        }
        Ok(())
    }
}

/// What a transaction is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transaction {
    /// Writes.
    Write,
    /// Reads on one snapshot.
    Snapshot,
}

async fn commit<C: AsyncConnection>(c: &mut C) -> diesel::QueryResult<()> {
    C::TransactionManager::commit_transaction(c).await
}

async fn rollback<C: AsyncConnection>(c: &mut C) -> diesel::QueryResult<()> {
    C::TransactionManager::rollback_transaction(c).await
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

/// The open database: a pool of connections on one backend. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Arc<Pool>,
    statements: Arc<AtomicU64>,
}

enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(Arc<sqlite::SqlitePool>),
    #[cfg(feature = "postgres")]
    Postgres(diesel_async::pooled_connection::deadpool::Pool<AsyncPgConnection>),
    #[cfg(feature = "mysql")]
    Mysql(diesel_async::pooled_connection::deadpool::Pool<AsyncMysqlConnection>),
}

impl Db {
    /// Opens the database (creating the SQLite file and its folder if needed) and
    /// applies pending migrations. Fails with `Unavailable` if the server cannot be
    /// reached now; a server that goes away later is reconnected to on demand.
    pub async fn open(settings: DbSettings) -> Result<Db, StoreError> {
        let statements = Arc::new(AtomicU64::new(0));
        let db = Db {
            pool: Arc::new(Pool::open(&settings, statements.clone())?),
            statements,
        };
        db.migrate(&settings).await?;
        Ok(db)
    }

    /// The backend this database runs on.
    pub fn backend(&self) -> Backend {
        match &*self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            Pool::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            Pool::Mysql(_) => Backend::Mysql,
        }
    }

    /// How many SQL statements this database has run since it was opened. Tests use it
    /// to check that the work of a call does not grow with the data.
    pub fn statements_executed(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Runs `op` with a connection. On SQLite the whole operation runs on one blocking
    /// thread, so a batch of statements costs one thread hop, not one per statement.
    pub async fn run<T, F>(&self, access: Access, op: F) -> Result<T, StoreError>
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        match &*self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => pool.run(access, op).await,
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => {
                let mut conn = pool.get().await.map_err(pool_error)?;
                op(&mut DbConn::Postgres(&mut conn)).await
            }
            #[cfg(feature = "mysql")]
            Pool::Mysql(pool) => {
                let mut conn = pool.get().await.map_err(pool_error)?;
                op(&mut DbConn::Mysql(&mut conn)).await
            }
        }
    }

    /// Runs `op` inside one transaction (see [`DbConn::transaction`]).
    pub async fn write_tx<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.run(Access::Write, async move |conn: &mut DbConn<'_>| {
            conn.transaction(op).await
        })
        .await
    }

    async fn migrate(&self, settings: &DbSettings) -> Result<(), StoreError> {
        let applied = match &settings.target {
            #[cfg(feature = "sqlite")]
            DbTarget::Sqlite(_) => {
                let Pool::Sqlite(pool) = &*self.pool else {
                    unreachable!("a SQLite target opens a SQLite pool")
                };
                pool.migrate().await?
            }
            #[cfg(feature = "postgres")]
            DbTarget::Postgres(url) => {
                dialect::migrate_server::<AsyncPgConnection>(
                    url.clone(),
                    dialect::PG_MIGRATIONS,
                    dialect::PG_MIGRATION_LOCK,
                )
                .await?
            }
            #[cfg(feature = "mysql")]
            DbTarget::Mysql(url) => {
                dialect::migrate_server::<AsyncMysqlConnection>(
                    url.clone(),
                    dialect::MYSQL_MIGRATIONS,
                    dialect::MYSQL_MIGRATION_LOCK,
                )
                .await?
            }
        };
        if applied > 0 {
            info!(backend = %self.backend(), applied, "migrations applied");
        }
        Ok(())
    }
}

impl Pool {
    fn open(settings: &DbSettings, statements: Arc<AtomicU64>) -> Result<Pool, StoreError> {
        let echo = settings.echo;
        let instrument = move || statement_counter(statements.clone(), echo);
        match &settings.target {
            #[cfg(feature = "sqlite")]
            DbTarget::Sqlite(path) => Ok(Pool::Sqlite(sqlite::SqlitePool::open(
                path,
                settings,
                Box::new(move || Box::new(instrument())),
            )?)),
            #[cfg(feature = "postgres")]
            DbTarget::Postgres(url) => Ok(Pool::Postgres(dialect::server_pool(
                url, settings, instrument,
            )?)),
            #[cfg(feature = "mysql")]
            DbTarget::Mysql(url) => Ok(Pool::Mysql(dialect::server_pool(
                url, settings, instrument,
            )?)),
        }
    }
}

/// Builds the instrumentation every connection carries: it counts statements and, with
/// `echo`, logs each one.
fn statement_counter(statements: Arc<AtomicU64>, echo: bool) -> impl Instrumentation {
    move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            statements.fetch_add(1, Ordering::Relaxed);
            if echo {
                info!(target: "convstore::sql", "{query}");
            }
        }
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
fn pool_error(error: diesel_async::pooled_connection::deadpool::PoolError) -> StoreError {
    StoreError::Unavailable(error.to_string())
}
