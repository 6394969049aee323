//! The SQL that differs between SQLite, PostgreSQL and MySQL, in one place: how a
//! transaction opens, the type of a `SUM`, counters capped at 2^53 - 1, the bind placeholders of the one hand-built
//! UPDATE, the id of a new row on MySQL, the maintenance statements, the migration locks,
//! and dropping and listing databases. It is text only; the queries are written once, in
//! the table modules, which run these where a backend needs them.

use diesel::dsl::sql;
use diesel::expression::SqlLiteral;
use diesel::sql_types::BigInt;

use super::target::Backend;
use crate::model::MAX_EXACT_INTEGER;

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

/// `SUM(column)` of a column that is never negative, as a 64-bit integer, 0 over no
/// rows, stopping at [`MAX_EXACT_INTEGER`] instead of overflowing. PostgreSQL and MySQL
/// sum BIGINT as NUMERIC/DECIMAL (no overflow), capped and cast back; SQLite's `SUM`
/// fails on overflow, so its floating `TOTAL` is capped instead, which is exact up to
/// 2^53 since every partial sum of non-negative integers is below the final one.
pub fn sum_bigint(backend: Backend, column: &str) -> SqlLiteral<BigInt> {
    match backend {
        Backend::Sqlite => sql(&format!(
            "CAST(MIN(TOTAL({column}), {MAX_EXACT_INTEGER}) AS INTEGER)"
        )),
        Backend::Postgres => sql(&format!(
            "CAST(LEAST(COALESCE(SUM({column}), 0), {MAX_EXACT_INTEGER}) AS BIGINT)"
        )),
        Backend::Mysql => sql(&format!(
            "CAST(LEAST(COALESCE(SUM({column}), 0), {MAX_EXACT_INTEGER}) AS SIGNED)"
        )),
    }
}

/// `expression` (SQL text), but at most [`MAX_EXACT_INTEGER`]: how counters grow.
pub fn capped(backend: Backend, expression: &str) -> String {
    let least = match backend {
        Backend::Sqlite => "MIN",
        Backend::Postgres | Backend::Mysql => "LEAST",
    };
    format!("{least}({expression}, {MAX_EXACT_INTEGER})")
}

/// The statements each new server connection runs first: row-lock waits bounded by
/// `lock_timeout` (PostgreSQL `lock_timeout`; MySQL `innodb_lock_wait_timeout` and, for
/// table metadata, `lock_wait_timeout`, in whole seconds, at least 1), so that a row
/// held by another session answers 503 after the bound instead of waiting without one.
pub fn session_setup(backend: Backend, lock_timeout: std::time::Duration) -> String {
    match backend {
        Backend::Postgres => format!("SET lock_timeout = {}", lock_timeout.as_millis().max(1)),
        Backend::Mysql => {
            let seconds = lock_timeout.as_millis().div_ceil(1000).max(1);
            format!(
                "SET SESSION innodb_lock_wait_timeout = {seconds}, SESSION lock_wait_timeout = {seconds}"
            )
        }
        Backend::Sqlite => String::new(),
    }
}

/// Whether a MySQL-family server of this `VERSION()` answers `INSERT ... RETURNING`:
/// MariaDB from 10.5 on does; MySQL does not. Anything else reads as "no" (each row is
/// then inserted alone, which is always correct).
#[cfg(feature = "mysql")]
pub fn returns_inserted_ids(version: &str) -> bool {
    if !version.contains("MariaDB") {
        return false;
    }
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|part| part.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= (10, 5)
}

/// The id MySQL gave the last row inserted on this connection (it has no RETURNING).
#[cfg(feature = "mysql")]
pub fn last_insert_id() -> SqlLiteral<BigInt> {
    sql("CAST(LAST_INSERT_ID() AS SIGNED)")
}

/// The columns [`counters_update`] sets, in the order their CASE arms are bound: each
/// column's name, and whether the arm's value is added to it (else it replaces it).
pub const COUNTER_COLUMNS: [(&str, bool); 6] = [
    ("message_count", true),
    ("total_tokens", true),
    ("message_tokens", true),
    ("user_messages", true),
    ("last_activity", false),
    ("active_day", false),
];

/// The UPDATE that moves the counters of `n` conversations (see
/// `conversation_table::add_to_counters`): a CASE on the id per column of
/// [`COUNTER_COLUMNS`], with the backend's bind placeholders (`?`, or `$1, $2, ...` on
/// PostgreSQL).
pub fn counters_update(backend: Backend, n: usize) -> String {
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
            let sum = format!("{column} + CASE id{arms} END");
            format!("{column} = {}", capped(backend, &sum))
        } else {
            format!("{column} = CASE id{arms} END")
        }
    };
    let sets: Vec<String> = COUNTER_COLUMNS
        .iter()
        .map(|&(column, add)| cases(column, add))
        .collect();
    let ids: Vec<String> = (0..n).map(|_| next()).collect();
    format!(
        "UPDATE conversations SET {} WHERE id IN ({})",
        sets.join(", "),
        ids.join(", ")
    )
}

/// The backend's maintenance, one statement a call (several in one string would form an
/// implicit transaction on PostgreSQL, which VACUUM refuses): SQLite rebuilds the file,
/// refreshes the planner's statistics and truncates the WAL; PostgreSQL runs VACUUM
/// ANALYZE; MySQL OPTIMIZE and ANALYZE TABLE, which answer with rows. None of them may
/// run inside a transaction.
pub fn maintenance_statements(backend: Backend) -> &'static [&'static str] {
    match backend {
        Backend::Sqlite => &[
            "VACUUM",
            "PRAGMA optimize",
            "PRAGMA wal_checkpoint(TRUNCATE)",
        ],
        Backend::Postgres => &["VACUUM ANALYZE conversations", "VACUUM ANALYZE messages"],
        Backend::Mysql => &[
            "OPTIMIZE TABLE conversations, messages",
            "ANALYZE TABLE conversations, messages",
        ],
    }
}

/// Taken before migrating PostgreSQL: daemons starting together on a fresh database
/// would otherwise race to create the same tables and all but one fail. Advisory locks
/// are per database and end with the session.
#[cfg(feature = "postgres")]
pub const PG_MIGRATION_LOCK: &str = "SELECT pg_advisory_lock(7235100)";

/// The same for MySQL, whose named locks are server-wide: the name holds the database.
#[cfg(feature = "mysql")]
pub const MYSQL_MIGRATION_LOCK: &str =
    "DO GET_LOCK(LEFT(CONCAT('convstore_migrate:', DATABASE()), 64), 300)";

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

#[cfg(all(test, feature = "mysql"))]
mod tests {
    use super::*;

    #[test]
    fn only_mariadb_from_10_5_returns_inserted_ids() {
        assert!(returns_inserted_ids("10.11.19-MariaDB-0+deb12u1"));
        assert!(returns_inserted_ids("10.5.0-MariaDB"));
        assert!(returns_inserted_ids("11.4.2-MariaDB-log"));
        assert!(!returns_inserted_ids("10.4.34-MariaDB"));
        assert!(!returns_inserted_ids("8.0.36"));
        assert!(!returns_inserted_ids("8.4.0-log"));
    }
}
