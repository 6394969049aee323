//! The database layer: which backend a URL names, the connection pools, the connection
//! type and its `with_conn!` macro that runs one query body on whichever backend is
//! open, transactions, migrations, and the queries, one module per table. Nothing
//! outside this module writes SQL but for the benchmark's bulk loader and raw ceiling,
//! which work on a database of their own.

pub(crate) mod conn;
pub(crate) mod conversation_table;
mod dialect;
pub(crate) mod ledger;
pub(crate) mod maintenance;
pub(crate) mod message_table;
mod prepared;
mod readiness;
pub(crate) mod rows;
pub mod schema;
pub mod scratch;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod server;
mod settings;
#[cfg(feature = "sqlite")]
mod sqlite;
mod target;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::{Instrumentation, InstrumentationEvent};
use tracing::info;

use crate::error::StoreError;
use conn::{Access, DbConn, Link};
#[cfg(feature = "mysql")]
pub use dialect::returns_inserted_ids;
use readiness::Readiness;
pub use settings::{DbSettings, SqliteSynchronous};
pub(crate) use target::redact;
pub use target::{Backend, DbTarget};

#[cfg(feature = "mysql")]
use diesel_async::AsyncMysqlConnection;
#[cfg(feature = "postgres")]
use diesel_async::AsyncPgConnection;

/// The open database: a pool of connections on one backend. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Arc<Pool>,
    counts: Arc<Counts>,
    readiness: Arc<Readiness>,
    /// How long one operation may take on a server backend; `None`: no bound.
    query_timeout: Option<Duration>,
}

enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(Arc<sqlite::SqlitePool>),
    /// The pool, and where its migrations connect to.
    #[cfg(feature = "postgres")]
    Postgres(ServerPool<AsyncPgConnection>, MigrationTarget),
    /// The same for MySQL, and whether the server answers `INSERT ... RETURNING`
    /// (learned from the first connection used).
    #[cfg(feature = "mysql")]
    Mysql(
        ServerPool<AsyncMysqlConnection>,
        MigrationTarget,
        tokio::sync::OnceCell<bool>,
    ),
}

/// Where the migrations of a server backend connect to, and how long that may take.
#[cfg(any(feature = "postgres", feature = "mysql"))]
#[derive(Clone)]
struct MigrationTarget {
    url: String,
    connect_timeout: Duration,
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
type ServerPool<C> = diesel_async::pooled_connection::deadpool::Pool<C>;

/// Hands the result of an operation to whoever waits for it, from any thread.
pub(crate) type Replier<T> = Box<dyn FnOnce(Result<T, StoreError>) + Send>;

/// `op`, checked (in debug builds) not to leave store-wide counter changes unwritten:
/// those belong to a write transaction ([`Db::write_tx`]).
fn checked_ledger<T, F>(
    op: F,
) -> impl AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static
where
    F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    async move |c: &mut DbConn<'_>| {
        let result = op(c).await;
        debug_assert!(
            result.is_err() || c.ledger.is_empty(),
            "counters changed outside a write transaction"
        );
        result
    }
}

impl Db {
    /// Opens the database (creating the SQLite file and its folder if needed) and
    /// applies pending migrations. Fails with `Unavailable` if the server cannot be
    /// reached now; a server that goes away later is reconnected to on demand.
    pub async fn open(settings: DbSettings) -> Result<Db, StoreError> {
        let db = Db::unmigrated(&settings)?;
        db.pool.migrate().await?;
        Ok(db)
    }

    /// Opens the database like [`Db::open`], except that a server that cannot be
    /// reached now (or fails its migrations) does not fail the call: the database is
    /// answered at once, every operation answers `Unavailable` naming the cause, and the
    /// connection and migrations are retried in the background with backoff until they
    /// succeed. A SQLite file that cannot be opened still fails the call.
    pub async fn open_retrying(settings: DbSettings) -> Result<Db, StoreError> {
        let mut db = Db::unmigrated(&settings)?;
        match db.pool.migrate().await {
            Ok(_) => Ok(db),
            Err(error) if db.backend() == Backend::Sqlite => Err(error),
            Err(error) => {
                tracing::warn!(%error, "the database is not ready; serving 503 meanwhile");
                let readiness = Arc::new(Readiness::waiting(error.to_string()));
                db.readiness = readiness.clone();
                let pool = db.pool.clone();
                tokio::spawn(readiness::retry_migrations(readiness, move || {
                    let pool = pool.clone();
                    async move { pool.migrate().await }
                }));
                Ok(db)
            }
        }
    }

    /// The pool, not yet migrated (marked migrated: the caller migrates it first).
    fn unmigrated(settings: &DbSettings) -> Result<Db, StoreError> {
        let counts = Arc::new(Counts::default());
        Ok(Db {
            pool: Arc::new(Pool::open(settings, counts.clone())?),
            counts,
            readiness: Arc::new(Readiness::migrated()),
            query_timeout: Some(settings.query_timeout),
        })
    }

    /// Why the database is not ready yet (unreachable at start, or its migrations not
    /// applied); `None` once it is.
    pub fn waiting_for(&self) -> Option<String> {
        self.readiness.waiting_for()
    }

    /// The backend this database runs on.
    pub fn backend(&self) -> Backend {
        match &*self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            Pool::Postgres(..) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            Pool::Mysql(..) => Backend::Mysql,
        }
    }

    /// How many SQL statements this database has run since it was opened. Tests use it
    /// to check that the work of a call does not grow with the data.
    pub fn statements_executed(&self) -> u64 {
        self.counts.statements.load(Ordering::Relaxed)
    }

    /// How many statements this database's connections have prepared and kept in their
    /// statement caches since it was opened. A statement diesel does not cache (by
    /// default every UPDATE and upsert) is prepared again on each run and never counted
    /// here: tests use it to check that the group commit's statements are kept.
    pub fn statements_prepared(&self) -> u64 {
        self.counts.prepared.load(Ordering::Relaxed)
    }

    /// How many transactions this database has begun since it was opened (statements
    /// outside one, each a transaction of its own, not counted). Tests use it to check
    /// that a call that changes nothing writes nothing.
    pub fn transactions_begun(&self) -> u64 {
        self.counts.transactions.load(Ordering::Relaxed)
    }

    /// This database without the bound on one operation's time, for the backend's
    /// maintenance (a VACUUM of a large database takes as long as it takes).
    pub(crate) fn without_query_timeout(&self) -> Db {
        Db {
            query_timeout: None,
            ..self.clone()
        }
    }

    /// Runs `op` with a connection. On SQLite the whole operation runs on one blocking
    /// thread, so a batch of statements costs one thread hop, not one per statement. On
    /// PostgreSQL and MySQL an operation that takes longer than the query timeout (a
    /// server that stopped answering) is abandoned with `Unavailable`, and its
    /// connection dropped rather than given back to the pool.
    pub(crate) async fn run<T, F>(&self, access: Access, op: F) -> Result<T, StoreError>
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.readiness.check()?;
        let op = checked_ledger(op);
        match &*self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => pool.run(access, op).await,
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool, _) => {
                let mut conn = pool.get().await.map_err(pool_error)?;
                let answer = within(
                    self.query_timeout,
                    op(&mut DbConn::new(Link::Postgres(&mut conn))),
                )
                .await;
                settle(conn, answer, self.query_timeout)
            }
            #[cfg(feature = "mysql")]
            Pool::Mysql(pool, _, returning) => {
                let mut conn = pool.get().await.map_err(pool_error)?;
                let work = async {
                    let returns_ids = *returning
                        .get_or_try_init(|| server::returns_inserted_ids(&mut conn))
                        .await?;
                    let mut conn = DbConn::new(Link::Mysql(&mut conn));
                    conn.returns_inserted_ids = returns_ids;
                    op(&mut conn).await
                };
                let answer = within(self.query_timeout, work).await;
                settle(conn, answer, self.query_timeout)
            }
        }
    }

    /// Runs `op`, which only reads, on the calling thread, blocking it (see
    /// [`crate::store::DirectReads`]). SQLite only, whose connections are blocking ones;
    /// the server backends' connections belong to the runtime that opened them.
    pub(crate) fn read_here<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError>,
    {
        self.readiness.check()?;
        match &*self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => pool.read_here(op),
            #[allow(unreachable_patterns)]
            _ => Err(StoreError::Internal(
                "reads on the calling thread need SQLite".into(),
            )),
        }
    }

    /// Runs `op` like [`Db::run`] and hands its result to `reply`: on SQLite from the
    /// blocking thread that ran it (so that the caller waiting for it is woken from
    /// there, not through the thread that started it), elsewhere from a task on the
    /// current arbiter.
    pub(crate) fn run_then<T, F>(&self, access: Access, op: F, reply: Replier<T>)
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        if let Err(error) = self.readiness.check() {
            return reply(Err(error));
        }
        match &*self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => pool.run_then(access, checked_ledger(op), reply),
            #[cfg(feature = "postgres")]
            Pool::Postgres(..) => self.spawn_then(access, op, reply),
            #[cfg(feature = "mysql")]
            Pool::Mysql(..) => self.spawn_then(access, op, reply),
        }
    }

    /// [`Db::run`] in a task on the current arbiter, its result handed to `reply`.
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    fn spawn_then<T, F>(&self, access: Access, op: F, reply: Replier<T>)
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.clone();
        actix_rt::spawn(async move { reply(db.run(access, op).await) });
    }

    /// Runs `op` inside one transaction (see [`DbConn::transaction`]), which ends with
    /// writing what `op` changed in the store-wide counters (its ledger).
    pub(crate) async fn write_tx<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.run(Access::Write, in_write_tx(op)).await
    }

    /// Runs `op` in a transaction like [`Db::write_tx`] and hands its result to `reply`
    /// like [`Db::run_then`]: on SQLite from the blocking thread that committed it.
    pub(crate) fn write_tx_then<T, F>(&self, op: F, reply: Replier<T>)
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.run_then(Access::Write, in_write_tx(op), reply)
    }
}

/// `op` inside one transaction, which ends with writing what `op` changed in the
/// store-wide counters (its ledger).
fn in_write_tx<T, F>(op: F) -> impl AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send
where
    F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    async move |conn: &mut DbConn<'_>| {
        conn.transaction(async move |c: &mut DbConn<'_>| {
            let value = op(c).await?;
            conversation_table::store_counters::write(c).await?;
            Ok(value)
        })
        .await
    }
}

impl Pool {
    fn open(settings: &DbSettings, counts: Arc<Counts>) -> Result<Pool, StoreError> {
        let echo = settings.echo;
        let instrument = move || statement_counter(counts.clone(), echo);
        #[cfg(any(feature = "postgres", feature = "mysql"))]
        let setup = |backend| dialect::session_setup(backend, settings.busy_timeout);
        match &settings.target {
            #[cfg(feature = "sqlite")]
            DbTarget::Sqlite(path) => Ok(Pool::Sqlite(sqlite::SqlitePool::open(
                path,
                settings,
                Box::new(move || Box::new(instrument())),
            )?)),
            #[cfg(feature = "postgres")]
            DbTarget::Postgres(url) => Ok(Pool::Postgres(
                server::pool(url, settings, setup(Backend::Postgres), instrument)?,
                MigrationTarget::new(url, settings),
            )),
            #[cfg(feature = "mysql")]
            DbTarget::Mysql(url) => Ok(Pool::Mysql(
                server::pool(url, settings, setup(Backend::Mysql), instrument)?,
                MigrationTarget::new(url, settings),
                tokio::sync::OnceCell::new(),
            )),
        }
    }

    /// Applies pending migrations (logging how many ran, if any); returns how many ran.
    async fn migrate(&self) -> Result<usize, StoreError> {
        let applied = self.migrate_pending().await?;
        if applied > 0 {
            info!(applied, "migrations applied");
        }
        Ok(applied)
    }

    async fn migrate_pending(&self) -> Result<usize, StoreError> {
        match self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => pool.migrate().await,
            #[cfg(feature = "postgres")]
            Pool::Postgres(_, to) => {
                server::migrate::<AsyncPgConnection>(to.url.clone(), to.connect_timeout).await
            }
            #[cfg(feature = "mysql")]
            Pool::Mysql(_, to, _) => {
                server::migrate::<AsyncMysqlConnection>(to.url.clone(), to.connect_timeout).await
            }
        }
    }
}

/// What the connections of one database have run.
#[derive(Default)]
struct Counts {
    statements: AtomicU64,
    transactions: AtomicU64,
    prepared: AtomicU64,
}

/// Builds the instrumentation every connection carries: it counts statements,
/// transactions and statements prepared into a connection's cache and, with `echo`,
/// logs each statement.
fn statement_counter(counts: Arc<Counts>, echo: bool) -> impl Instrumentation {
    move |event: InstrumentationEvent<'_>| match event {
        InstrumentationEvent::StartQuery { query, .. } => {
            counts.statements.fetch_add(1, Ordering::Relaxed);
            if echo {
                info!(target: "convstore::sql", "{query}");
            }
        }
        InstrumentationEvent::BeginTransaction { .. } => {
            counts.transactions.fetch_add(1, Ordering::Relaxed);
        }
        InstrumentationEvent::CacheQuery { .. } => {
            counts.prepared.fetch_add(1, Ordering::Relaxed);
        }
        _ => {}
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl MigrationTarget {
    fn new(url: &str, settings: &DbSettings) -> MigrationTarget {
        MigrationTarget {
            url: url.to_string(),
            connect_timeout: settings.connect_timeout,
        }
    }
}

/// The answer of `work`, or `None` if it took longer than `limit`.
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn within<T>(limit: Option<Duration>, work: impl Future<Output = T>) -> Option<T> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, work).await.ok(),
        None => Some(work.await),
    }
}

/// The answer of an operation on a pooled connection; one that took longer than
/// `limit` (`None`) is `Unavailable`, and its connection, whose statement may still be
/// running or whose answer may still arrive, is dropped instead of reused.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn settle<M, T>(
    conn: deadpool::managed::Object<M>,
    answer: Option<Result<T, StoreError>>,
    limit: Option<Duration>,
) -> Result<T, StoreError>
where
    M: deadpool::managed::Manager,
{
    answer.unwrap_or_else(|| {
        drop(deadpool::managed::Object::take(conn));
        Err(StoreError::Unavailable(format!(
            "the database did not answer within {:?} (query_timeout_ms)",
            limit.unwrap_or_default()
        )))
    })
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
fn pool_error(error: diesel_async::pooled_connection::deadpool::PoolError) -> StoreError {
    StoreError::Unavailable(error.to_string())
}
