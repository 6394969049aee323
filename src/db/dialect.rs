//! Everything that differs between SQLite, PostgreSQL and MySQL, in one place: getting
//! the id of a new row (RETURNING vs `LAST_INSERT_ID()`), the type of a `SUM`, the
//! maintenance statements, the server pools and their migrations. Every other query is
//! written once, in the table modules.

use diesel::QueryResult;
use diesel::dsl::sql;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;

use super::models::{NewConversationRow, NewMessageRow};
use super::schema::{conversations, messages};
use super::{Backend, DbConn};

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
