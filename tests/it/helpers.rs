//! Test fixtures: a fresh store per test on a real database (a temporary SQLite file, or
//! a uniquely named database on the PostgreSQL / MariaDB servers the environment names),
//! and the macro that runs one test body on every backend.

use std::time::Duration;

use actix::Addr;
use convstore::StoreActor;
use convstore::db::scratch::{self, ScratchDb};
use convstore::db::{Backend, Db, DbSettings, DbTarget};
use convstore::store::StoreSettings;
use diesel_async::AsyncConnection;

/// Environment variable with the PostgreSQL server URL tests may use.
pub const POSTGRES_URL_VAR: &str = "CONVSTORE_TEST_POSTGRES_URL";
/// Environment variable with the MySQL/MariaDB server URL tests may use.
pub const MYSQL_URL_VAR: &str = "CONVSTORE_TEST_MYSQL_URL";
/// When set to 1, a missing server URL fails the test instead of skipping it (CI).
pub const REQUIRE_VAR: &str = "CONVSTORE_REQUIRE_ALL_BACKENDS";
/// The names of the server databases tests make start with this.
pub const DATABASE_PREFIX: &str = "convstore_test";
/// A test database older than this is a leftover of a killed run (no test runs this
/// long), dropped by the sweep at the start of the next run.
pub const LEFTOVER_AGE: Duration = Duration::from_secs(3600);

/// A database made for one test, dropped when the `TestDb` is, even if the test
/// panics: a server database by its [`ScratchDb`], a SQLite file with its folder.
pub struct TestDb {
    scratch: ScratchDb,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh, empty database on `backend`, or `None` (after saying so on one line)
    /// when the environment names no server for it.
    pub async fn create(backend: Backend) -> Option<TestDb> {
        let Some(server) = server(backend) else {
            let dir = tempfile::tempdir().expect("temporary directory");
            return Some(TestDb {
                scratch: ScratchDb::sqlite(dir.path().join("data/conversations.db")),
                _dir: Some(dir),
            });
        };
        let server = server?;
        sweep_once(&server).await;
        let scratch = ScratchDb::on_server(&server, DATABASE_PREFIX)
            .await
            .unwrap_or_else(|e| panic!("create a test database on {server:?}: {e}"));
        Some(TestDb {
            scratch,
            _dir: None,
        })
    }

    /// Where the database is.
    pub fn target(&self) -> &DbTarget {
        self.scratch.target()
    }

    /// The backend it runs on.
    pub fn backend(&self) -> Backend {
        self.target().backend()
    }

    /// Settings for a store on this database.
    pub fn settings(&self) -> DbSettings {
        DbSettings::new(self.target().clone())
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
        let counted = match self.target() {
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
}

#[derive(diesel::QueryableByName)]
struct RowCount {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The server the environment names for `backend`: `None` for SQLite, `Some(None)`
/// (after saying so) when the variable is not set, unless every backend is required.
pub fn server(backend: Backend) -> Option<Option<DbTarget>> {
    let var = match backend {
        Backend::Sqlite => return None,
        Backend::Postgres => POSTGRES_URL_VAR,
        Backend::Mysql => MYSQL_URL_VAR,
    };
    let Ok(url) = std::env::var(var) else {
        if std::env::var(REQUIRE_VAR).as_deref() == Ok("1") {
            panic!("{var} is not set, and {REQUIRE_VAR}=1 requires every backend");
        }
        say_skipped(backend, var);
        return Some(None);
    };
    let target = DbTarget::parse(Some(&url), "unused".as_ref()).expect("a server URL");
    assert_eq!(target.backend(), backend, "{var} names a {backend} server");
    Some(Some(target))
}

/// Drops, once per test run and server, the test databases a killed run left behind.
async fn sweep_once(server: &DbTarget) {
    static SWEPT: [tokio::sync::OnceCell<()>; 2] = [
        tokio::sync::OnceCell::const_new(),
        tokio::sync::OnceCell::const_new(),
    ];
    let cell = &SWEPT[usize::from(server.backend() == Backend::Mysql)];
    cell.get_or_init(async || {
        scratch::sweep(server, DATABASE_PREFIX, LEFTOVER_AGE)
            .await
            .unwrap_or_else(|e| panic!("sweep the leftover test databases on {server:?}: {e}"));
    })
    .await;
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
