//! The settings of each part, built from a [`Config`]: the database's, the store's, the
//! HTTP layer's and server's. The `Default` of each is the default `Config`'s, so that a
//! default is written once.

use std::path::PathBuf;
use std::time::Duration;

use super::{Config, ConfigError, non_empty};
use crate::api::ApiSettings;
use crate::app::HttpSettings;
use crate::db::{DbSettings, DbTarget};
use crate::store::StoreSettings;

impl Config {
    /// How to open the database.
    pub fn db_settings(&self) -> Result<DbSettings, ConfigError> {
        Ok(self.db_settings_for(self.db_target()?))
    }

    /// How to open the database at `target`.
    fn db_settings_for(&self, target: DbTarget) -> DbSettings {
        DbSettings {
            target,
            pool_size: self.database.pool_size,
            busy_timeout: Duration::from_millis(self.database.busy_timeout_ms),
            connect_timeout: Duration::from_millis(self.database.connect_timeout_ms),
            query_timeout: Duration::from_millis(self.database.query_timeout_ms),
            sqlite_synchronous: self.database.sqlite_synchronous,
            echo: self.echo,
        }
    }

    /// How the store behaves.
    pub fn store_settings(&self) -> StoreSettings {
        StoreSettings {
            max_content_bytes: self.limits.max_content_bytes,
            max_history_turns: self.max_history_turns,
            archive_dir: non_empty(&self.schedule.archive_dir).map(PathBuf::from),
            max_document_bytes: self.limits.max_line_bytes,
        }
    }

    /// The HTTP layer's limits and defaults, with `token` (see [`Config::token`]).
    pub fn api_settings(&self, token: Option<String>) -> ApiSettings {
        ApiSettings {
            token,
            max_body_bytes: self.limits.max_body_bytes,
            max_import_bytes: self.limits.max_import_bytes,
            max_line_bytes: self.limits.max_line_bytes,
            cleanup_days: self.cleanup_days,
            cleanup_archives: self.store_settings().archive_dir.is_some(),
            console: self.http.console,
        }
    }

    /// How the HTTP server runs.
    pub fn http_settings(&self) -> Result<HttpSettings, ConfigError> {
        Ok(HttpSettings {
            bind: self.bind_addr()?,
            workers: self.http.workers,
            client_request_timeout: Duration::from_secs(self.http.client_request_timeout_secs),
            keep_alive: Duration::from_secs(self.http.keep_alive_secs),
            shutdown_timeout: Duration::from_secs(self.http.shutdown_timeout_secs),
        })
    }
}

impl DbSettings {
    /// Settings for `target`, with the defaults of [`Config`] for everything else.
    pub fn new(target: DbTarget) -> Self {
        Config::default().db_settings_for(target)
    }
}

impl Default for StoreSettings {
    /// The store's settings at the defaults of [`Config`].
    fn default() -> Self {
        Config::default().store_settings()
    }
}

impl Default for ApiSettings {
    /// The HTTP layer's settings at the defaults of [`Config`], without a token.
    fn default() -> Self {
        Config::default().api_settings(None)
    }
}
