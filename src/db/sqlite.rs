//! SQLite: one writer connection and a few readers over a WAL file, each operation run
//! whole on a blocking thread, taken only once the operation has its connection.
//!
//! diesel-async reaches SQLite through `SyncConnectionWrapper`, which normally moves
//! every statement to a blocking thread. Here the wrapper runs statements inline
//! ([`Inline`](super::conn::Inline)) and the pool moves the whole operation to a
//! blocking thread instead, so a batch of a thousand inserts costs one thread hop, and
//! the query code stays the same async code the server backends run. A write waits for
//! the writer (and a read for a reader slot) asynchronously, in arrival order, before it
//! takes a thread: however many callers wait, the pool holds at most one thread for
//! the writer and one per reader slot.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit};

use diesel::connection::{Instrumentation, SimpleConnection};
use diesel::{Connection, SqliteConnection};
use diesel_async::AsyncConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::Replier;
use super::conn::{Access, DbConn, Link, SqliteConn};
use super::settings::DbSettings;
use crate::error::StoreError;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Makes instrumentation for each new connection.
pub type InstrumentationFactory = Box<dyn Fn() -> Box<dyn Instrumentation> + Send + Sync>;

/// The writer and the idle readers of one SQLite file.
pub struct SqlitePool {
    path: PathBuf,
    pragmas: String,
    readers_max: usize,
    instrumentation: InstrumentationFactory,
    /// The writer connection (`None` until it is opened again after a failure to open
    /// it); waited for asynchronously, first come first served.
    writer: Arc<tokio::sync::Mutex<Option<SqliteConn>>>,
    readers: Mutex<Vec<SqliteConn>>,
    reader_slots: Arc<tokio::sync::Semaphore>,
}

impl SqlitePool {
    /// Opens (creating if needed) the file at `path` and its folder, switches it to WAL.
    pub fn open(
        path: &Path,
        settings: &DbSettings,
        instrumentation: InstrumentationFactory,
    ) -> Result<Arc<SqlitePool>, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        // Temporary tables and indices (VACUUM's copy of the whole database, large
        // sorts) go to files, never memory: memory stays bounded by the cache size,
        // whatever the size of the database.
        let pragmas = format!(
            "PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; PRAGMA synchronous = {}; \
             PRAGMA temp_store = FILE; PRAGMA cache_size = -16000;",
            settings.busy_timeout.as_millis(),
            settings.sqlite_synchronous.pragma()
        );
        let pool = SqlitePool {
            path: path.to_path_buf(),
            pragmas,
            readers_max: settings.pool_size.max(1),
            instrumentation,
            writer: Arc::new(tokio::sync::Mutex::new(None)),
            readers: Mutex::new(Vec::new()),
            reader_slots: Arc::new(tokio::sync::Semaphore::new(settings.pool_size.max(1))),
        };
        let mut writer = pool.connect()?;
        run_sync(&mut writer, |c| {
            c.batch_execute("PRAGMA journal_mode = WAL;")
        })?;
        *pool
            .writer
            .try_lock()
            .map_err(|_| StoreError::Internal("the new SQLite writer is already taken".into()))? =
            Some(writer);
        Ok(Arc::new(pool))
    }

    fn connect(&self) -> Result<SqliteConn, StoreError> {
        let url = self.path.to_string_lossy();
        let mut raw = SqliteConnection::establish(&url).map_err(|e| {
            StoreError::Unavailable(format!("cannot open {}: {e}", self.path.display()))
        })?;
        raw.batch_execute(&self.pragmas)?;
        let mut conn = SqliteConn::new(raw);
        conn.set_instrumentation((self.instrumentation)());
        Ok(conn)
    }

    /// Runs `op` on a blocking thread with the writer (for [`Access::Write`]) or a reader.
    /// The writer, or a reader slot, is waited for before the thread is taken.
    pub async fn run<T, F>(self: &Arc<Self>, access: Access, op: F) -> Result<T, StoreError>
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let held = self.hold(access).await?;
        let pool = self.clone();
        tokio::task::spawn_blocking(move || pool.run_held(held, op))
            .await
            .map_err(|e| StoreError::Internal(format!("database task failed: {e}")))?
    }

    /// Runs `op` like [`SqlitePool::run`] and hands its result to `reply` from the
    /// blocking thread that ran it. An operation whose connection is not free at once
    /// waits for it (in its turn) in a task on the current arbiter.
    pub fn run_then<T, F>(self: &Arc<Self>, access: Access, op: F, reply: Replier<T>)
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        if let Some(held) = self.try_hold(access) {
            return self.spawn_then(held, op, reply);
        }
        let pool = self.clone();
        actix_rt::spawn(async move {
            match pool.hold(access).await {
                Ok(held) => pool.spawn_then(held, op, reply),
                Err(error) => reply(Err(error)),
            }
        });
    }

    /// Runs `op` with `held` on a blocking thread, which hands the result to `reply`.
    fn spawn_then<T, F>(self: &Arc<Self>, held: Held, op: F, reply: Replier<T>)
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let result = catch_unwind(AssertUnwindSafe(|| pool.run_held(held, op)))
                .unwrap_or_else(|_| Err(StoreError::Internal("database task panicked".into())));
            reply(result);
        });
    }

    /// Waits for the writer or, for a read, one of `readers_max` slots (so that idle
    /// reader connections are reused instead of opened and dropped under load).
    async fn hold(&self, access: Access) -> Result<Held, StoreError> {
        Ok(match access {
            Access::Write => Held::Writer(self.writer.clone().lock_owned().await),
            Access::Read => Held::Reader(
                self.reader_slots
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|e| StoreError::Internal(format!("reader slots closed: {e}")))?,
            ),
        })
    }

    /// The writer or a reader slot, if it is free now and nobody waits for it.
    fn try_hold(&self, access: Access) -> Option<Held> {
        match access {
            Access::Write => self.writer.clone().try_lock_owned().ok().map(Held::Writer),
            Access::Read => self
                .reader_slots
                .clone()
                .try_acquire_owned()
                .ok()
                .map(Held::Reader),
        }
    }

    /// Runs `op` on this (blocking) thread with what it holds.
    fn run_held<T, F>(&self, held: Held, op: F) -> Result<T, StoreError>
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError>,
    {
        match held {
            Held::Writer(writer) => self.write_blocking(writer, op),
            Held::Reader(slot) => {
                let result = self.read_blocking(op);
                drop(slot);
                result
            }
        }
    }

    fn write_blocking<T, F>(
        &self,
        mut writer: OwnedMutexGuard<Option<SqliteConn>>,
        op: F,
    ) -> Result<T, StoreError>
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError>,
    {
        if writer.is_none() {
            *writer = Some(self.connect()?);
        }
        let conn = writer
            .as_mut()
            .ok_or_else(|| StoreError::Internal("the SQLite writer is missing".into()))?;
        futures_executor::block_on(op(&mut DbConn::new(Link::Sqlite(conn))))
    }

    /// Runs `op` with a reader on the calling thread (blocking it), once one of the
    /// reader slots is free.
    pub fn read_here<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError>,
    {
        let _slot = futures_executor::block_on(self.reader_slots.acquire())
            .map_err(|e| StoreError::Internal(format!("reader slots closed: {e}")))?;
        self.read_blocking(op)
    }

    fn read_blocking<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        F: AsyncFnOnce(&mut DbConn<'_>) -> Result<T, StoreError>,
    {
        let reader = lock(&self.readers).pop();
        let mut conn = match reader {
            Some(conn) => conn,
            None => self.connect()?,
        };
        let result = futures_executor::block_on(op(&mut DbConn::new(Link::Sqlite(&mut conn))));
        let mut readers = lock(&self.readers);
        if readers.len() < self.readers_max {
            readers.push(conn);
        }
        result
    }

    /// Applies pending migrations; returns how many ran. All of them run in one
    /// transaction that holds the write lock from its start, so that daemons starting
    /// together on a fresh file take turns: the second finds everything applied.
    pub async fn migrate(self: &Arc<Self>) -> Result<usize, StoreError> {
        self.run(Access::Write, async |conn: &mut DbConn<'_>| {
            let Link::Sqlite(conn) = &mut conn.link else {
                unreachable!("the SQLite pool hands out SQLite connections")
            };
            let applied = conn
                .spawn_blocking(|c| {
                    c.exclusive_transaction(|c| {
                        c.run_pending_migrations(MIGRATIONS)
                            .map(|applied| applied.len())
                            .map_err(diesel::result::Error::QueryBuilderError)
                    })
                })
                .await?;
            Ok(applied)
        })
        .await
    }
}

/// What an operation holds before it takes a blocking thread.
enum Held {
    /// The writer connection.
    Writer(OwnedMutexGuard<Option<SqliteConn>>),
    /// A reader slot.
    Reader(OwnedSemaphorePermit),
}

/// Runs `f` on the sync connection inside the wrapper (at once, thanks to [`Inline`]).
fn run_sync<R: Send + 'static>(
    conn: &mut SqliteConn,
    f: impl FnOnce(&mut SqliteConnection) -> diesel::QueryResult<R> + Send + 'static,
) -> Result<R, StoreError> {
    Ok(futures_executor::block_on(conn.spawn_blocking(f))?)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves a connection that is still usable: SQLite
    // rolls back an unfinished transaction itself.
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

#[cfg(test)]
mod tests {
    use diesel::connection::InstrumentationEvent;
    use diesel::sql_types::Integer;

    use super::*;
    use crate::db::DbTarget;

    #[test]
    fn temporary_storage_is_files_not_memory() {
        let dir = std::env::temp_dir().join(format!("convstore-temp-store-{}", std::process::id()));
        let path = dir.join("conversations.db");
        let settings = DbSettings::new(DbTarget::Sqlite(path.clone()));
        let no_instrumentation: InstrumentationFactory =
            Box::new(|| Box::new(|_: InstrumentationEvent<'_>| {}));
        let pool = SqlitePool::open(&path, &settings, no_instrumentation).unwrap();
        let mut conn = pool.connect().unwrap();
        let mode: i32 = run_sync(&mut conn, |c| {
            use diesel::RunQueryDsl;
            diesel::select(diesel::dsl::sql::<Integer>(
                "(SELECT temp_store FROM pragma_temp_store())",
            ))
            .get_result(c)
        })
        .unwrap();
        drop((conn, pool));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(mode, 1, "temp_store = FILE");
    }
}
