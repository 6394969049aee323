//! The server backends, PostgreSQL and MySQL: a pool of connections to one database,
//! and its embedded migrations.

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

/// PostgreSQL's migrations, embedded in the binary.
#[cfg(feature = "postgres")]
pub const PG_MIGRATIONS: EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations/postgres");

/// MySQL's migrations, embedded in the binary.
#[cfg(feature = "mysql")]
pub const MYSQL_MIGRATIONS: EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations/mysql");

/// A pool of connections to the database `url` names (no connection is made yet); each
/// new connection gets the instrumentation `instrument` makes.
pub fn pool<C, I>(
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

/// Applies pending migrations on a fresh connection, on a blocking thread (the
/// migration harness is synchronous), holding `lock` (a statement taking a session
/// lock) so that concurrent migrations run one after the other. Returns how many ran.
pub async fn migrate<C>(
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
