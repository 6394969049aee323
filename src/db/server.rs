//! The server backends, PostgreSQL and MySQL: a pool of connections to one database,
//! and its embedded migrations.

use std::time::Duration;

use diesel::Connection;
use diesel::connection::Instrumentation;
use diesel_async::AsyncConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolableConnection,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

use super::settings::DbSettings;
use crate::error::StoreError;

/// A server backend's migrations, embedded in the binary, and the statement that takes
/// the lock they run under.
pub trait Migrations {
    /// The migrations of `migrations/<backend>`.
    const MIGRATIONS: EmbeddedMigrations;
    /// A statement taking a session lock (see `dialect`).
    const LOCK: &'static str;
}

#[cfg(feature = "postgres")]
impl Migrations for diesel_async::AsyncPgConnection {
    const MIGRATIONS: EmbeddedMigrations =
        diesel_migrations::embed_migrations!("migrations/postgres");
    const LOCK: &'static str = super::dialect::PG_MIGRATION_LOCK;
}

#[cfg(feature = "mysql")]
impl Migrations for diesel_async::AsyncMysqlConnection {
    const MIGRATIONS: EmbeddedMigrations = diesel_migrations::embed_migrations!("migrations/mysql");
    const LOCK: &'static str = super::dialect::MYSQL_MIGRATION_LOCK;
}

/// A pool of connections to the database `url` names (no connection is made yet); each
/// new connection runs `setup` (see `dialect::session_setup`) and gets the
/// instrumentation `instrument` makes.
pub fn pool<C, I>(
    url: &str,
    settings: &DbSettings,
    setup: String,
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
        let setup = setup.clone();
        Box::pin(async move {
            let mut conn = C::establish(&url).await?;
            conn.batch_execute(&setup)
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            conn.set_instrumentation(instrumentation);
            Ok(conn)
        })
    });
    let manager = AsyncDieselConnectionManager::<C>::new_with_config(url, config);
    Pool::builder(manager)
        .max_size(settings.pool_size.max(1))
        .wait_timeout(Some(settings.busy_timeout))
        .create_timeout(Some(settings.connect_timeout))
        .recycle_timeout(Some(settings.connect_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Internal(format!("cannot build the connection pool: {e}")))
}

/// Whether the MySQL-family server behind `conn` answers `INSERT ... RETURNING` (by its
/// `VERSION()`, see `dialect::returns_inserted_ids`).
#[cfg(feature = "mysql")]
pub async fn returns_inserted_ids(
    conn: &mut diesel_async::AsyncMysqlConnection,
) -> Result<bool, StoreError> {
    use diesel_async::RunQueryDsl;
    let version: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>("VERSION()"))
        .get_result(conn)
        .await?;
    Ok(super::dialect::returns_inserted_ids(&version))
}

/// Applies pending migrations to the database `url` names, on a fresh connection
/// (opened within `connect_timeout`, else `Unavailable`), on a blocking thread (the
/// migration harness is synchronous), holding the migration lock so that concurrent
/// migrations run one after the other. Returns how many ran.
pub async fn migrate<C>(url: String, connect_timeout: Duration) -> Result<usize, StoreError>
where
    C: AsyncConnection + Migrations + 'static,
    AsyncConnectionWrapper<C>:
        Connection + MigrationHarness<<AsyncConnectionWrapper<C> as Connection>::Backend>,
{
    let conn = tokio::time::timeout(connect_timeout, C::establish(&url))
        .await
        .map_err(|_| {
            StoreError::Unavailable(format!(
                "the database did not answer within {connect_timeout:?} (connect_timeout_ms)"
            ))
        })??;
    tokio::task::spawn_blocking(move || {
        let mut conn = AsyncConnectionWrapper::<C>::from(conn);
        diesel::connection::SimpleConnection::batch_execute(&mut conn, C::LOCK)?;
        conn.run_pending_migrations(C::MIGRATIONS)
            .map(|applied| applied.len())
            .map_err(|e| StoreError::Internal(format!("migration failed: {e}")))
    })
    .await
    .map_err(|e| StoreError::Internal(format!("migration task failed: {e}")))?
}
