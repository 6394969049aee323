//! How the database is opened: where, how many connections, how durable. The defaults
//! are the configuration's: [`DbSettings`] come from
//! [`Config::db_settings`](crate::config::Config::db_settings), or `DbSettings::new`
//! (written beside those defaults, in `config.rs`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::target::DbTarget;

/// How the database is opened.
#[derive(Debug, Clone)]
pub struct DbSettings {
    /// The database to open.
    pub target: DbTarget,
    /// Connections per pool (PostgreSQL/MySQL), or reader connections (SQLite).
    pub pool_size: usize,
    /// How long to wait for a lock (the SQLite file; a row on PostgreSQL/MySQL, through
    /// each connection's `lock_timeout` / `innodb_lock_wait_timeout`) or a free
    /// connection before giving up.
    pub busy_timeout: Duration,
    /// PostgreSQL/MySQL: how long opening a connection may take.
    pub connect_timeout: Duration,
    /// PostgreSQL/MySQL: how long the database work of one call may take before it is
    /// abandoned with `Unavailable` and its connection dropped (maintenance is exempt).
    pub query_timeout: Duration,
    /// SQLite's durability.
    pub sqlite_synchronous: SqliteSynchronous,
    /// Log every SQL statement (the guide's `echo`).
    pub echo: bool,
}

/// SQLite `PRAGMA synchronous`: when a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// Never: a crash of the machine may corrupt the file.
    Off,
    /// At WAL checkpoints: a power loss may drop the last commits, never corrupts.
    Normal,
    /// At every commit: every acknowledged write is on disk (the default).
    Full,
    /// As `full`, and the WAL's folder too.
    Extra,
}

impl SqliteSynchronous {
    /// The value of the pragma.
    pub fn pragma(self) -> &'static str {
        match self {
            SqliteSynchronous::Off => "OFF",
            SqliteSynchronous::Normal => "NORMAL",
            SqliteSynchronous::Full => "FULL",
            SqliteSynchronous::Extra => "EXTRA",
        }
    }
}
