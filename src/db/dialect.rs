//! Everything that differs between SQLite, PostgreSQL and MySQL, in one place: getting
//! the id of a new row (RETURNING vs `LAST_INSERT_ID()`), multi-row inserts, bind
//! placeholders of hand-built SQL, the type of a `SUM`, the maintenance statements, the
//! server pools and their migrations. Every other query is written once, in the table
//! modules.

use chrono::NaiveDateTime;
use diesel::QueryResult;
use diesel::dsl::sql;
use diesel::sql_types::{BigInt, Timestamp};
use diesel_async::RunQueryDsl;

use super::models::{NewConversationRow, NewMessageRow};
use super::schema::{conversations, messages};
use super::{Backend, DbConn, with_conn};

/// Conversations whose counters one UPDATE moves.
const COUNTERS_PER_UPDATE: usize = 500;

/// Inserts a message and returns its id.
pub async fn insert_message(conn: &mut DbConn<'_>, row: &NewMessageRow) -> QueryResult<i64> {
    let insert = diesel::insert_into(messages::table).values(row);
    match conn {
        #[cfg(feature = "sqlite")]
        DbConn::Sqlite(c) => insert.returning(messages::id).get_result(&mut **c).await,
        #[cfg(feature = "postgres")]
        DbConn::Postgres(c) => insert.returning(messages::id).get_result(&mut **c).await,
        #[cfg(feature = "mysql")]
        DbConn::Mysql(c) => {
            insert.execute(&mut **c).await?;
            last_insert_id(c).await
        }
    }
}

/// Inserts messages and returns their ids, in the order of `rows`. PostgreSQL takes
/// them in multi-row INSERTs (one round trip per chunk); SQLite, in process, and MySQL,
/// whose multi-row inserts do not report every id, one statement per row.
pub async fn insert_messages_returning_ids(
    conn: &mut DbConn<'_>,
    rows: &[NewMessageRow],
) -> QueryResult<Vec<i64>> {
    #[cfg(feature = "postgres")]
    if let DbConn::Postgres(c) = conn {
        let mut all = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut ids: Vec<i64> = diesel::insert_into(messages::table)
                .values(chunk)
                .returning(messages::id)
                .get_results(&mut **c)
                .await?;
            // One INSERT draws its ids from the sequence row by row, in VALUES order.
            ids.sort_unstable();
            all.extend(ids);
        }
        return Ok(all);
    }
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        ids.push(insert_message(conn, row).await?);
    }
    Ok(ids)
}

/// What one committed batch adds to one conversation.
#[derive(Debug, Clone, Copy)]
pub struct CounterDelta {
    /// The conversation.
    pub id: i64,
    /// Messages added.
    pub messages: i64,
    /// Tokens added.
    pub tokens: i64,
    /// The new last activity.
    pub last_activity: NaiveDateTime,
}

/// Moves the counters and last activity of many conversations. On the server backends
/// one UPDATE (a CASE per column) does it, instead of a round trip per conversation;
/// rows are matched by primary key, so concurrent batches lock them in the same (index)
/// order. SQLite, in process, runs one cached statement per conversation, cheaper than
/// parsing a statement whose text changes with every batch.
pub async fn add_to_counters(conn: &mut DbConn<'_>, deltas: &[CounterDelta]) -> QueryResult<()> {
    if conn.backend() == Backend::Sqlite {
        for delta in deltas {
            super::conversations::add_messages(
                conn,
                delta.id,
                delta.messages,
                delta.tokens,
                delta.last_activity,
            )
            .await?;
        }
        return Ok(());
    }
    for chunk in deltas.chunks(COUNTERS_PER_UPDATE) {
        let statement = counters_update(conn.backend(), chunk.len());
        with_conn!(conn, |c| {
            let mut query = diesel::sql_query(statement.as_str()).into_boxed();
            for delta in chunk {
                query = query
                    .bind::<BigInt, _>(delta.id)
                    .bind::<BigInt, _>(delta.messages);
            }
            for delta in chunk {
                query = query
                    .bind::<BigInt, _>(delta.id)
                    .bind::<BigInt, _>(delta.tokens);
            }
            for delta in chunk {
                query = query
                    .bind::<BigInt, _>(delta.id)
                    .bind::<Timestamp, _>(delta.last_activity);
            }
            for delta in chunk {
                query = query.bind::<BigInt, _>(delta.id);
            }
            query.execute(c).await
        })?;
    }
    Ok(())
}

/// The UPDATE of [`add_to_counters`] for `n` conversations, with the backend's bind
/// placeholders (`?`, or `$1, $2, ...` on PostgreSQL).
fn counters_update(backend: Backend, n: usize) -> String {
    let mut bound = 0;
    let mut next = || {
        bound += 1;
        match backend {
            Backend::Postgres => format!("${bound}"),
            Backend::Sqlite | Backend::Mysql => "?".to_string(),
        }
    };
    let mut cases = |column: &str, add: bool| {
        let arms: String = (0..n)
            .map(|_| format!(" WHEN {} THEN {}", next(), next()))
            .collect();
        if add {
            format!("{column} = {column} + CASE id{arms} END")
        } else {
            format!("{column} = CASE id{arms} END")
        }
    };
    let sets = [
        cases("message_count", true),
        cases("total_tokens", true),
        cases("last_activity", false),
    ]
    .join(", ");
    let ids: Vec<String> = (0..n).map(|_| next()).collect();
    format!(
        "UPDATE conversations SET {sets} WHERE id IN ({})",
        ids.join(", ")
    )
}

/// The statement that opens a transaction: for writes, on SQLite one that takes the
/// write lock at once (no lock upgrade can fail half-way when another process writes);
/// for reads, one that sees a single snapshot (PostgreSQL defaults to READ COMMITTED,
/// where each statement sees the latest commits).
pub fn begin_statement(backend: Backend, write: bool) -> &'static str {
    match (backend, write) {
        (Backend::Sqlite, true) => "BEGIN IMMEDIATE",
        (Backend::Sqlite, false) => "BEGIN DEFERRED",
        (Backend::Postgres, true) => "BEGIN",
        (Backend::Postgres, false) => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        (Backend::Mysql, true) => "BEGIN",
        (Backend::Mysql, false) => "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
    }
}

/// The statements that drop the database `name`, even while connections to it are
/// open: PostgreSQL closes them (`WITH (FORCE)`); MySQL waits for their locks, but not
/// for a year (its default), so that a test that panicked mid-transaction does not hang.
pub fn drop_database(backend: Backend, name: &str) -> Vec<String> {
    match backend {
        Backend::Postgres => vec![format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")],
        Backend::Mysql => vec![
            "SET SESSION lock_wait_timeout = 30".into(),
            format!("DROP DATABASE IF EXISTS {name}"),
        ],
        Backend::Sqlite => Vec::new(),
    }
}

/// The query of the database names `LIKE` its one bound pattern, as a column `name`;
/// `None` on SQLite, which has no databases but its file.
pub fn database_names(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Postgres => Some("SELECT datname AS name FROM pg_database WHERE datname LIKE $1"),
        Backend::Mysql => Some(
            "SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name LIKE ?",
        ),
        Backend::Sqlite => None,
    }
}

/// Rows per multi-row INSERT on the server backends.
const ROWS_PER_INSERT: usize = 500;

/// Inserts many messages whose ids are not needed. The server backends take them in
/// multi-row INSERTs; SQLite, in process, one prepared statement per row.
pub async fn insert_messages(conn: &mut DbConn<'_>, rows: &[NewMessageRow]) -> QueryResult<()> {
    match conn {
        #[cfg(feature = "sqlite")]
        DbConn::Sqlite(c) => {
            for row in rows {
                diesel::insert_into(messages::table)
                    .values(row)
                    .execute(&mut **c)
                    .await?;
            }
        }
        #[cfg(feature = "postgres")]
        DbConn::Postgres(c) => {
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                diesel::insert_into(messages::table)
                    .values(chunk)
                    .execute(&mut **c)
                    .await?;
            }
        }
        #[cfg(feature = "mysql")]
        DbConn::Mysql(c) => {
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                diesel::insert_into(messages::table)
                    .values(chunk)
                    .execute(&mut **c)
                    .await?;
            }
        }
    }
    Ok(())
}

/// Inserts a conversation and returns its id.
pub async fn insert_conversation(
    conn: &mut DbConn<'_>,
    row: &NewConversationRow<'_>,
) -> QueryResult<i64> {
    let insert = diesel::insert_into(conversations::table).values(row);
    match conn {
        #[cfg(feature = "sqlite")]
        DbConn::Sqlite(c) => {
            insert
                .returning(conversations::id)
                .get_result(&mut **c)
                .await
        }
        #[cfg(feature = "postgres")]
        DbConn::Postgres(c) => {
            insert
                .returning(conversations::id)
                .get_result(&mut **c)
                .await
        }
        #[cfg(feature = "mysql")]
        DbConn::Mysql(c) => {
            insert.execute(&mut **c).await?;
            last_insert_id(c).await
        }
    }
}

#[cfg(feature = "mysql")]
async fn last_insert_id(c: &mut diesel_async::AsyncMysqlConnection) -> QueryResult<i64> {
    diesel::select(sql::<BigInt>("CAST(LAST_INSERT_ID() AS SIGNED)"))
        .get_result(c)
        .await
}

/// `SUM(column)` as a 64-bit integer, 0 over no rows. PostgreSQL and MySQL widen a
/// `SUM` of BIGINT to NUMERIC/DECIMAL, so it is cast back.
pub fn sum_bigint(backend: Backend, column: &str) -> diesel::expression::SqlLiteral<BigInt> {
    match backend {
        Backend::Sqlite => sql(&format!("COALESCE(SUM({column}), 0)")),
        Backend::Postgres => sql(&format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT)")),
        Backend::Mysql => sql(&format!("CAST(COALESCE(SUM({column}), 0) AS SIGNED)")),
    }
}

/// Runs the backend's maintenance: SQLite rebuilds the file (VACUUM), refreshes the
/// planner's statistics and truncates the WAL; PostgreSQL runs VACUUM ANALYZE; MySQL
/// OPTIMIZE and ANALYZE TABLE. None of them may run inside a transaction.
pub async fn maintenance(conn: &mut DbConn<'_>) -> QueryResult<()> {
    use diesel_async::SimpleAsyncConnection;
    match conn {
        #[cfg(feature = "sqlite")]
        DbConn::Sqlite(c) => {
            c.batch_execute("VACUUM; PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);")
                .await
        }
        #[cfg(feature = "postgres")]
        DbConn::Postgres(c) => {
            // One statement per call: several in one string form an implicit
            // transaction, which VACUUM refuses.
            for statement in ["VACUUM ANALYZE conversations", "VACUUM ANALYZE messages"] {
                c.batch_execute(statement).await?;
            }
            Ok(())
        }
        #[cfg(feature = "mysql")]
        DbConn::Mysql(c) => {
            // OPTIMIZE and ANALYZE answer with a result set of their own, so they are
            // read as rows rather than executed blindly.
            for statement in [
                "OPTIMIZE TABLE conversations, messages",
                "ANALYZE TABLE conversations, messages",
            ] {
                diesel::sql_query(statement)
                    .load::<MaintenanceRow>(&mut **c)
                    .await?;
            }
            Ok(())
        }
    }
}

/// One line of MySQL's OPTIMIZE/ANALYZE report (only read, then dropped).
#[cfg(feature = "mysql")]
#[derive(diesel::QueryableByName)]
struct MaintenanceRow {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "Msg_text")]
    _message: String,
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
pub use server::*;

#[cfg(any(feature = "postgres", feature = "mysql"))]
mod server {
    use diesel::Connection;
    use diesel::connection::Instrumentation;
    use diesel_async::AsyncConnection;
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
    use diesel_async::pooled_connection::deadpool::Pool;
    use diesel_async::pooled_connection::{
        AsyncDieselConnectionManager, ManagerConfig, PoolableConnection,
    };
    use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

    use crate::db::DbSettings;
    use crate::error::StoreError;

    /// PostgreSQL's migrations, embedded in the binary.
    #[cfg(feature = "postgres")]
    pub const PG_MIGRATIONS: EmbeddedMigrations =
        diesel_migrations::embed_migrations!("migrations/postgres");

    /// MySQL's migrations, embedded in the binary.
    #[cfg(feature = "mysql")]
    pub const MYSQL_MIGRATIONS: EmbeddedMigrations =
        diesel_migrations::embed_migrations!("migrations/mysql");

    /// A pool of connections to a database server; each new connection gets the
    /// instrumentation `instrument` makes.
    pub fn server_pool<C, I>(
        url: &str,
        settings: &DbSettings,
        instrument: impl Fn() -> I + Send + Sync + 'static,
    ) -> Result<Pool<C>, StoreError>
    where
        C: AsyncConnection + PoolableConnection + 'static,
        AsyncDieselConnectionManager<C>: deadpool::managed::Manager<Type = C>,
        I: Instrumentation,
    {
        let mut config = ManagerConfig::<C>::default();
        config.custom_setup = Box::new(move |url| {
            let instrumentation = instrument();
            let url = url.to_string();
            Box::pin(async move {
                let mut conn = C::establish(&url).await?;
                conn.set_instrumentation(instrumentation);
                Ok(conn)
            })
        });
        let manager = AsyncDieselConnectionManager::<C>::new_with_config(url, config);
        Pool::builder(manager)
            .max_size(settings.pool_size.max(1))
            .wait_timeout(Some(settings.busy_timeout))
            .create_timeout(Some(settings.busy_timeout))
            .recycle_timeout(Some(settings.busy_timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Internal(format!("cannot build the connection pool: {e}")))
    }

    /// Taken before migrating PostgreSQL: daemons starting together on a fresh database
    /// would otherwise race to create the same tables and all but one fail. Advisory
    /// locks are per database and end with the session.
    #[cfg(feature = "postgres")]
    pub const PG_MIGRATION_LOCK: &str = "SELECT pg_advisory_lock(7235100)";

    /// The same for MySQL, whose named locks are server-wide: the name holds the database.
    #[cfg(feature = "mysql")]
    pub const MYSQL_MIGRATION_LOCK: &str =
        "DO GET_LOCK(LEFT(CONCAT('convstore_migrate:', DATABASE()), 64), 300)";

    /// Applies pending migrations on a fresh connection, on a blocking thread (the
    /// migration harness is synchronous), holding `lock` (a statement taking a session
    /// lock) so that concurrent migrations run one after the other. Returns how many ran.
    pub async fn migrate_server<C>(
        url: String,
        migrations: EmbeddedMigrations,
        lock: &'static str,
    ) -> Result<usize, StoreError>
    where
        C: AsyncConnection + 'static,
        AsyncConnectionWrapper<C>:
            Connection + MigrationHarness<<AsyncConnectionWrapper<C> as Connection>::Backend>,
    {
        tokio::task::spawn_blocking(move || {
            let mut conn = <AsyncConnectionWrapper<C> as Connection>::establish(&url)?;
            diesel::connection::SimpleConnection::batch_execute(&mut conn, lock)?;
            conn.run_pending_migrations(migrations)
                .map(|applied| applied.len())
                .map_err(|e| StoreError::Internal(format!("migration failed: {e}")))
        })
        .await
        .map_err(|e| StoreError::Internal(format!("migration task failed: {e}")))?
    }
}
