//! Fresh databases for tests and benchmarks: a new SQLite file, or a uniquely named
//! database on a PostgreSQL or MySQL server, dropped when its [`ScratchDb`] goes out of
//! scope (also when a test panics), and a [`sweep`] of those a killed run left behind.
//!
//! A server database is named `<prefix>_<unix seconds>_<process id>_<n>`: the time of
//! its creation tells a leftover from a database a concurrent run still uses.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;

#[cfg(any(feature = "postgres", feature = "mysql"))]
use super::conn::Link;
use super::conn::{DbConn, with_conn};
use super::dialect;
use super::target::DbTarget;
use crate::error::StoreError;

/// A database made for one test or benchmark run. Dropping it drops a server database;
/// a SQLite file stays with the folder it was made in.
#[derive(Debug)]
pub struct ScratchDb {
    target: DbTarget,
    /// The server it was made on, and its name; `None` for SQLite.
    server: Option<(DbTarget, String)>,
}

impl ScratchDb {
    /// A new SQLite database at `path`; the files an earlier run left there (the
    /// database, its WAL and shared memory) are removed first.
    pub fn sqlite(path: PathBuf) -> ScratchDb {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        ScratchDb {
            target: DbTarget::Sqlite(path),
            server: None,
        }
    }

    /// A new, empty database on the server `server` names (whose own database is only
    /// used to connect), named after `prefix`.
    pub async fn on_server(server: &DbTarget, prefix: &str) -> Result<ScratchDb, StoreError> {
        let name = unique_name(prefix);
        let url = with_database(server_url(server)?, &name);
        execute(server, &[&format!("CREATE DATABASE {name}")]).await?;
        Ok(ScratchDb {
            target: DbTarget::parse(Some(&url), Path::new("."))?,
            server: Some((server.clone(), name)),
        })
    }

    /// Where the database is.
    pub fn target(&self) -> &DbTarget {
        &self.target
    }

    /// The name of a server database; `None` for SQLite.
    pub fn name(&self) -> Option<&str> {
        self.server.as_ref().map(|(_, name)| name.as_str())
    }
}

impl Drop for ScratchDb {
    /// Drops a server database, on a thread of its own with a runtime of its own: a drop
    /// cannot wait for a future, and the caller's runtime may be unwinding a panic.
    fn drop(&mut self) {
        let Some((server, name)) = self.server.take() else {
            return;
        };
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| StoreError::Internal(format!("no runtime to drop {name}: {e}")))?;
            runtime.block_on(drop_database(&server, &name))
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "a scratch database was not dropped"),
            Err(_) => tracing::warn!("dropping a scratch database panicked"),
        }
    }
}

/// Drops the databases named `<prefix>_<unix seconds>_...` on `server` that were made
/// more than `older_than` ago (a run that was killed left them behind); answers their
/// names.
pub async fn sweep(
    server: &DbTarget,
    prefix: &str,
    older_than: Duration,
) -> Result<Vec<String>, StoreError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let stale: Vec<String> = database_names(server, prefix)
        .await?
        .into_iter()
        .filter(|name| {
            created_at(name, prefix).is_some_and(|created| now.saturating_sub(created) > older_than)
        })
        .collect();
    for name in &stale {
        drop_database(server, name).await?;
    }
    Ok(stale)
}

/// `<prefix>_<unix seconds>_<process id>_<n>`, unique within this process and, by the
/// process id, among the processes running now.
fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "{prefix}_{seconds}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// When a database named by [`unique_name`] with `prefix` was made.
fn created_at(name: &str, prefix: &str) -> Option<Duration> {
    let rest = name.strip_prefix(prefix)?.strip_prefix('_')?;
    let (seconds, _) = rest.split_once('_')?;
    seconds.parse().ok().map(Duration::from_secs)
}

/// `url` with its database replaced by `name` (any query string kept).
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority, query) = match rest.split_once('/') {
        Some((authority, path)) => (authority, path.split_once('?').map(|(_, q)| q)),
        None => (rest, None),
    };
    match query {
        Some(query) => format!("{scheme}://{authority}/{name}?{query}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}

fn server_url(server: &DbTarget) -> Result<&str, StoreError> {
    match server {
        DbTarget::Postgres(url) | DbTarget::Mysql(url) => Ok(url),
        DbTarget::Sqlite(_) => Err(StoreError::invalid(
            "db_url",
            "a SQLite file is not a database server",
        )),
    }
}

async fn drop_database(server: &DbTarget, name: &str) -> Result<(), StoreError> {
    let statements = dialect::drop_database(server.backend(), name);
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    execute(server, &statements).await
}

/// The names of the databases on `server` that start with `prefix`.
async fn database_names(server: &DbTarget, prefix: &str) -> Result<Vec<String>, StoreError> {
    let Some(sql) = dialect::database_names(server.backend()) else {
        return Ok(Vec::new());
    };
    let query = diesel::sql_query(sql).bind::<Text, _>(format!("{prefix}%"));
    let rows: Vec<DatabaseName> = connected(server, async |conn: &mut DbConn<'_>| {
        Ok(with_conn!(conn, |c| query.load(c).await)?)
    })
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| row.name)
        .filter(|name| name.starts_with(prefix))
        .collect())
}

#[derive(diesel::QueryableByName)]
struct DatabaseName {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Runs `statements` one after the other on a connection of their own to `server`.
async fn execute(server: &DbTarget, statements: &[&str]) -> Result<(), StoreError> {
    use diesel_async::SimpleAsyncConnection;
    connected(server, async |conn: &mut DbConn<'_>| {
        for statement in statements {
            with_conn!(conn, |c| c.batch_execute(statement).await)?;
        }
        Ok(())
    })
    .await
}

/// Runs `op` on a new connection to `server`, outside any pool.
async fn connected<T>(
    server: &DbTarget,
    op: impl AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    use diesel_async::AsyncConnection;
    match server {
        #[cfg(feature = "postgres")]
        DbTarget::Postgres(url) => {
            let mut conn = diesel_async::AsyncPgConnection::establish(url).await?;
            op(&mut DbConn::new(Link::Postgres(&mut conn))).await
        }
        #[cfg(feature = "mysql")]
        DbTarget::Mysql(url) => {
            let mut conn = diesel_async::AsyncMysqlConnection::establish(url).await?;
            op(&mut DbConn::new(Link::Mysql(&mut conn))).await
        }
        other => Err(StoreError::invalid(
            "db_url",
            format!("{other:?} is not a database server of this build"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_creation_time() {
        let name = unique_name("convstore_test");
        let created = created_at(&name, "convstore_test").expect("a time in the name");
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        assert!(
            now.saturating_sub(created) < Duration::from_secs(5),
            "{name}"
        );
        assert_ne!(name, unique_name("convstore_test"));
        assert_eq!(created_at("convstore_testx_1_2_3", "convstore_test"), None);
        assert_eq!(created_at("other_1_2_3", "convstore_test"), None);
    }

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("mysql://h/db?ssl=1", "x"),
            "mysql://h/x?ssl=1"
        );
        assert_eq!(with_database("mysql://h", "x"), "mysql://h/x");
    }
}
