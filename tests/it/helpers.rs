//! Test fixtures: a fresh store per test on a real database (a temporary SQLite file, or
//! a uniquely named database on the PostgreSQL / MariaDB servers the environment names),
//! and the macro that runs one test body on every backend.

use std::sync::atomic::{AtomicU32, Ordering};

use actix::Addr;
use convstore::StoreActor;
use convstore::db::{Backend, Db, DbSettings, DbTarget};
use convstore::store::StoreSettings;
use diesel_async::AsyncConnection;

/// Environment variable with the PostgreSQL server URL tests may use.
pub const POSTGRES_URL_VAR: &str = "CONVSTORE_TEST_POSTGRES_URL";
/// Environment variable with the MySQL/MariaDB server URL tests may use.
pub const MYSQL_URL_VAR: &str = "CONVSTORE_TEST_MYSQL_URL";
/// When set to 1, a missing server URL fails the test instead of skipping it (CI).
pub const REQUIRE_VAR: &str = "CONVSTORE_REQUIRE_ALL_BACKENDS";

/// A database made for one test, dropped by [`TestDb::drop_database`].
pub struct TestDb {
    /// Where the store's database is.
    pub target: DbTarget,
    server: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh, empty database on `backend`, or `None` (after saying so on one line)
    /// when the environment names no server for it.
    pub async fn create(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                Some(TestDb {
                    target: DbTarget::Sqlite(dir.path().join("data/conversations.db")),
                    server: None,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres | Backend::Mysql => {
                let var = if backend == Backend::Postgres {
                    POSTGRES_URL_VAR
                } else {
                    MYSQL_URL_VAR
                };
                let Ok(base) = std::env::var(var) else {
                    if std::env::var(REQUIRE_VAR).as_deref() == Ok("1") {
                        panic!("{var} is not set, and {REQUIRE_VAR}=1 requires every backend");
                    }
                    say_skipped(backend, var);
                    return None;
                };
                let name = unique_name();
                admin(backend, &base, &format!("CREATE DATABASE {name}")).await;
                let url = with_database(&base, &name);
                let target = DbTarget::parse(Some(&url), "unused".as_ref()).expect("server URL");
                Some(TestDb {
                    target,
                    server: Some((base, name)),
                    _dir: None,
                })
            }
        }
    }

    /// Settings for a store on this database.
    pub fn settings(&self) -> DbSettings {
        DbSettings::new(self.target.clone())
    }

    /// Opens (and migrates) the database.
    pub async fn open(&self) -> Db {
        Db::open(self.settings())
            .await
            .expect("open the test database")
    }

    /// Starts a store on this database.
    pub async fn store(&self) -> Addr<StoreActor> {
        self.store_with(StoreSettings::default()).await
    }

    /// Starts a store with `settings` on this database.
    pub async fn store_with(&self, settings: StoreSettings) -> Addr<StoreActor> {
        StoreActor::open(self.settings(), settings)
            .await
            .expect("open the test store")
    }

    /// Rows in `table`, counted on a connection of its own rather than through a store,
    /// so that tests can see what really is in the database.
    pub async fn count_rows(&self, table: &str) -> i64 {
        let query = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"));
        let counted = match &self.target {
            DbTarget::Sqlite(path) => {
                use diesel::{Connection, RunQueryDsl};
                let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())
                    .expect("open the SQLite test database");
                query.get_result::<RowCount>(&mut conn)
            }
            DbTarget::Postgres(url) => {
                use diesel_async::RunQueryDsl;
                let mut conn = diesel_async::AsyncPgConnection::establish(url)
                    .await
                    .expect("connect to the PostgreSQL test database");
                query.get_result::<RowCount>(&mut conn).await
            }
            DbTarget::Mysql(url) => {
                use diesel_async::RunQueryDsl;
                let mut conn = diesel_async::AsyncMysqlConnection::establish(url)
                    .await
                    .expect("connect to the MySQL test database");
                query.get_result::<RowCount>(&mut conn).await
            }
        };
        counted.expect("count rows").n
    }

    /// Drops a server database (a SQLite file goes with its temporary folder).
    pub async fn drop_database(self) {
        if let Some((base, name)) = &self.server {
            // A store still shutting down may hold connections to it.
            let force = match self.target.backend() {
                Backend::Postgres => " WITH (FORCE)",
                _ => "",
            };
            admin(
                self.target.backend(),
                base,
                &format!("DROP DATABASE IF EXISTS {name}{force}"),
            )
            .await;
        }
    }
}

#[derive(diesel::QueryableByName)]
struct RowCount {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Says once per test run, on one line, that `backend`'s tests are skipped. Written to
/// the stderr handle itself: the test harness captures `println!` and `eprintln!` of
/// passing tests, and this line must be seen.
fn say_skipped(backend: Backend, var: &str) {
    use std::io::Write;
    static SAID: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !said.contains(&backend.name()) {
        said.push(backend.name());
        let _ = writeln!(
            std::io::stderr().lock(),
            "skipping every {backend} run of these tests: {var} is not set"
        );
    }
}

fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "convstore_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    )
}

/// `base` with its database part replaced by `name`.
pub fn with_database(base: &str, name: &str) -> String {
    let (scheme, rest) = base.split_once("://").expect("a URL with a scheme");
    let (authority, query) = match rest.split_once('/') {
        Some((authority, path)) => (authority, path.split_once('?').map(|(_, q)| q)),
        None => (rest, None),
    };
    match query {
        Some(query) => format!("{scheme}://{authority}/{name}?{query}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}

async fn admin(backend: Backend, base: &str, statement: &str) {
    let target = DbTarget::parse(Some(base), "unused".as_ref()).expect("server URL");
    assert_eq!(
        target.backend(),
        backend,
        "{base} names the {backend} server"
    );
    convstore::db::dialect::run_on_server(&target, statement)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// Runs one async test body on every backend: `backend_test!(name, |db| async move {..})`
/// makes a module `name` with a test per backend, each on a fresh database.
#[macro_export]
macro_rules! backend_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run(backend: convstore::db::Backend) {
                let Some(db) = $crate::helpers::TestDb::create(backend).await else {
                    return;
                };
                let body = $body;
                body(&db).await;
                db.drop_database().await;
            }

            #[actix_rt::test]
            async fn sqlite() {
                run(convstore::db::Backend::Sqlite).await;
            }

            #[actix_rt::test]
            async fn postgres() {
                run(convstore::db::Backend::Postgres).await;
            }

            #[actix_rt::test]
            async fn mysql() {
                run(convstore::db::Backend::Mysql).await;
            }
        }
    };
}
