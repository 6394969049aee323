//! Configuration: defaults < file (`--config` or `CONVSTORE_CONFIG`) < environment <
//! flags. Every key is documented in the repository's `config.toml`, and every default
//! is written once, in `Config::default` and its sections; each part's settings are
//! built from a `Config` (`parts.rs`). An unknown key or a bad value stops start-up
//! with a message naming the key.

mod env;
mod parts;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::db::{DbTarget, SqliteSynchronous};
use crate::scheduler;
use crate::store::validate::{MAX_CLEANUP_DAYS, MAX_TURNS};

/// What went wrong reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a key is unknown or has a bad value.
    #[error("{0}")]
    Invalid(String),
}

fn invalid(key: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid(format!("{key}: {message}"))
}

/// The whole configuration. The top-level keys are the guide's.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The guide's switch: `false` turns persistence off, and `serve` exits at once.
    pub enabled: bool,
    /// Database URL; empty means SQLite at `<data_dir>/conversations.db`.
    pub db_url: String,
    /// Folder of the default SQLite file.
    pub data_dir: PathBuf,
    /// Scheduled and `/admin/cleanup` cleanups delete conversations idle this many days.
    pub cleanup_days: i64,
    /// History window when a request names none, in turns.
    pub max_history_turns: i64,
    /// Log every SQL statement.
    pub echo: bool,
    /// Connections and durability.
    pub database: DatabaseConfig,
    /// Size limits.
    pub limits: LimitsConfig,
    /// The HTTP server.
    pub http: HttpConfig,
    /// Scheduled jobs.
    pub schedule: ScheduleConfig,
}

impl std::fmt::Debug for Config {
    /// Shows everything but secrets (the token, a password in the URL).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("enabled", &self.enabled)
            .field("db_url", &crate::db::redact(&self.db_url))
            .field("data_dir", &self.data_dir)
            .field("cleanup_days", &self.cleanup_days)
            .field("max_history_turns", &self.max_history_turns)
            .field("echo", &self.echo)
            .field("database", &self.database)
            .field("limits", &self.limits)
            .field("http.bind", &self.http.bind)
            .field("schedule", &self.schedule)
            .finish_non_exhaustive()
    }
}

/// `[database]`: connections and durability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Connections per pool (PostgreSQL/MySQL) or SQLite reader connections.
    pub pool_size: usize,
    /// How long to wait for a lock (the SQLite file, a row on PostgreSQL/MySQL) or a
    /// connection, in milliseconds.
    pub busy_timeout_ms: u64,
    /// PostgreSQL/MySQL: how long opening a connection (connect, log in, set up the
    /// session) may take, in milliseconds.
    pub connect_timeout_ms: u64,
    /// PostgreSQL/MySQL: how long the database work of one call may take before it
    /// answers 503 and its connection is dropped (a server that accepted the connection
    /// and stopped answering), in milliseconds. The backend's maintenance is exempt.
    pub query_timeout_ms: u64,
    /// SQLite `synchronous`: `full` (durable, default), `normal`, `off` or `extra`.
    pub sqlite_synchronous: SqliteSynchronous,
}

/// `[limits]`: sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest message content or summary, in bytes.
    pub max_content_bytes: usize,
    /// Largest JSON request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest NDJSON import body, in bytes.
    pub max_import_bytes: usize,
    /// Largest line of an NDJSON import and body of `POST /v1/import`, in bytes: also the
    /// largest document an export writes.
    pub max_line_bytes: usize,
}

/// `[http]`: the server.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address and port to listen on.
    pub bind: String,
    /// Bearer token; empty means none (then only a loopback bind is allowed).
    pub token: String,
    /// File holding the token (first line), used when `token` is empty.
    pub token_file: String,
    /// Worker threads for HTTP.
    pub workers: usize,
    /// Seconds a client may take to send its request head before it is dropped.
    pub client_request_timeout_secs: u64,
    /// Seconds an idle keep-alive connection stays open.
    pub keep_alive_secs: u64,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Serve the operator console at `/console`.
    pub console: bool,
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("bind", &self.bind)
            .field("token", &if self.token.is_empty() { "" } else { "***" })
            .field("token_file", &self.token_file)
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

/// `[schedule]`: the scheduled jobs. An empty cron expression disables a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// When the cleanup runs (cron, with or without a leading seconds field).
    pub cleanup: String,
    /// When the maintenance (VACUUM ...) runs.
    pub maintenance: String,
    /// Folder where cleanups first archive what they delete (NDJSON); empty: none.
    pub archive_dir: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            db_url: String::new(),
            data_dir: PathBuf::from("data"),
            cleanup_days: 30,
            max_history_turns: 20,
            echo: false,
            database: DatabaseConfig::default(),
            limits: LimitsConfig::default(),
            http: HttpConfig::default(),
            schedule: ScheduleConfig::default(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            pool_size: 8,
            busy_timeout_ms: 5_000,
            connect_timeout_ms: 5_000,
            query_timeout_ms: 30_000,
            sqlite_synchronous: SqliteSynchronous::Full,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_content_bytes: 1024 * 1024,
            max_body_bytes: 2 * 1024 * 1024,
            max_import_bytes: 1024 * 1024 * 1024,
            max_line_bytes: 16 * 1024 * 1024,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            bind: "127.0.0.1:8377".into(),
            token: String::new(),
            token_file: String::new(),
            workers: 2,
            client_request_timeout_secs: 10,
            keep_alive_secs: 30,
            shutdown_timeout_secs: 30,
            console: true,
        }
    }
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            cleanup: "0 0 3 * * *".into(),
            maintenance: "0 30 4 * * Sun".into(),
            archive_dir: String::new(),
        }
    }
}

impl Config {
    /// Loads the configuration: defaults, then `file` (or `CONVSTORE_CONFIG`), then the
    /// environment; then validates it.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let env_file = std::env::var_os("CONVSTORE_CONFIG").map(PathBuf::from);
        let file = file.map(Path::to_path_buf).or(env_file);
        let mut table = match &file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                toml::from_str::<toml::Table>(&text)
                    .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?
            }
            None => toml::Table::new(),
        };
        let defaults = toml::Table::try_from(Config::default())
            .map_err(|e| ConfigError::Invalid(format!("defaults: {e}")))?;
        let vars =
            env::text_vars(std::env::vars_os()).map_err(|e| invalid(&e.variable, e.message))?;
        env::overlay(&mut table, &defaults, vars.into_iter())
            .map_err(|e| invalid(&e.variable, e.message))?;
        let config = Config::from_table(table)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads a configuration from TOML text (no environment), validated.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let table =
            toml::from_str::<toml::Table>(text).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let config = Config::from_table(table)?;
        config.validate()?;
        Ok(config)
    }

    fn from_table(table: toml::Table) -> Result<Config, ConfigError> {
        Config::deserialize(toml::Value::Table(table))
            .map_err(|e| ConfigError::Invalid(e.to_string().trim().to_string()))
    }

    /// Checks what serde cannot: the URL names a compiled-in backend, cron expressions
    /// parse, limits are positive, the bind address parses.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.db_target()?;
        if !(0..=MAX_CLEANUP_DAYS).contains(&self.cleanup_days) {
            return Err(invalid(
                "cleanup_days",
                format!("must be between 0 and {MAX_CLEANUP_DAYS}"),
            ));
        }
        if !(1..=MAX_TURNS).contains(&self.max_history_turns) {
            return Err(invalid(
                "max_history_turns",
                format!("must be between 1 and {MAX_TURNS}"),
            ));
        }
        for (key, value) in [
            ("database.pool_size", self.database.pool_size),
            (
                "database.busy_timeout_ms",
                self.database.busy_timeout_ms as usize,
            ),
            (
                "database.connect_timeout_ms",
                self.database.connect_timeout_ms as usize,
            ),
            (
                "database.query_timeout_ms",
                self.database.query_timeout_ms as usize,
            ),
            ("limits.max_content_bytes", self.limits.max_content_bytes),
            ("limits.max_body_bytes", self.limits.max_body_bytes),
            ("limits.max_import_bytes", self.limits.max_import_bytes),
            ("limits.max_line_bytes", self.limits.max_line_bytes),
            ("http.workers", self.http.workers),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be positive"));
            }
        }
        self.bind_addr()?;
        for (key, expression) in [
            ("schedule.cleanup", &self.schedule.cleanup),
            ("schedule.maintenance", &self.schedule.maintenance),
        ] {
            if !expression.trim().is_empty() {
                scheduler::parse_cron(expression).map_err(|e| invalid(key, e))?;
            }
        }
        Ok(())
    }

    /// Where the database is.
    pub fn db_target(&self) -> Result<DbTarget, ConfigError> {
        DbTarget::parse(Some(&self.db_url), &self.data_dir).map_err(|e| invalid("db_url", e))
    }

    /// The address to listen on.
    fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.http.bind.parse().map_err(|e| {
            invalid(
                "http.bind",
                format!("{:?} is not an address:port ({e})", self.http.bind),
            )
        })
    }

    /// The bearer token: `http.token`, else the first line of `http.token_file`.
    pub fn token(&self) -> Result<Option<String>, ConfigError> {
        if let Some(token) = non_empty(&self.http.token) {
            return Ok(Some(token.to_string()));
        }
        let Some(path) = non_empty(&self.http.token_file) else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid("http.token_file", format!("cannot read {path}: {e}")))?;
        let token = text.lines().next().unwrap_or_default().trim().to_string();
        if token.is_empty() {
            return Err(invalid("http.token_file", format!("{path} holds no token")));
        }
        Ok(Some(token))
    }
}

fn non_empty(value: &str) -> Option<&str> {
    let value = value.trim();
    (!value.is_empty()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanup_days_keep_to_the_api_bounds() {
        assert!(Config::from_toml("cleanup_days = 36500").is_ok());
        for bad in ["cleanup_days = 40000", "cleanup_days = -1"] {
            let error = Config::from_toml(bad).unwrap_err().to_string();
            assert!(error.contains("cleanup_days"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_example_config_is_the_default() {
        let text = include_str!("../config.toml");
        assert_eq!(Config::from_toml(text).unwrap(), Config::default());
    }

    #[test]
    fn the_api_settings_follow_the_archive_folder_and_the_console_switch() {
        let defaults = Config::default().api_settings(None);
        assert!(!defaults.cleanup_archives);
        assert!(defaults.console);
        let text = "[http]\nconsole = false\n[schedule]\narchive_dir = \"archive\"";
        let settings = Config::from_toml(text).unwrap().api_settings(None);
        assert!(settings.cleanup_archives);
        assert!(!settings.console);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let error = Config::from_toml("colour = 1").unwrap_err().to_string();
        assert!(error.contains("colour"), "{error}");
        let error = Config::from_toml("[http]\nport = 1")
            .unwrap_err()
            .to_string();
        assert!(error.contains("port"), "{error}");
        let error = Config::from_toml("[schedule]\ncleanup = \"every day\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("schedule.cleanup"), "{error}");
        let error = Config::from_toml("[http]\nbind = \"nowhere\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("http.bind"), "{error}");
        let error = Config::from_toml("[database]\nsqlite_synchronous = \"sometimes\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("sqlite_synchronous"), "{error}");
        assert!(error.contains("full"), "{error}");
        let error = Config::from_toml("cleanup_days = \"thirty\"")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("cleanup_days") || error.contains("integer"),
            "{error}"
        );
    }
}
