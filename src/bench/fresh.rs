//! Fresh databases for a benchmark run: SQLite files in a scratch folder, or new
//! databases on the server the configured URL names (dropped afterwards).

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::db::dialect::run_on_server;
use crate::db::{DbSettings, DbTarget};

/// Where the SQLite files of a run go.
pub enum Scratch {
    /// A folder the user named; kept.
    Kept(PathBuf),
    /// A temporary folder; removed when the run ends.
    Temporary(PathBuf),
}

impl Scratch {
    /// The folder.
    pub fn path(&self) -> &Path {
        match self {
            Scratch::Kept(path) | Scratch::Temporary(path) => path,
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Scratch::Temporary(path) = self {
            let _ = std::fs::remove_dir_all(path);
        }
    }
}

/// A database made for the run.
pub struct FreshDb {
    /// How to open it.
    pub settings: DbSettings,
    server: Option<(String, String)>,
}

impl FreshDb {
    /// A new, empty database named `name`: a file in `scratch` for SQLite, else a new
    /// database on the configured server.
    pub async fn create(
        config: &Config,
        scratch: &Scratch,
        name: &str,
    ) -> Result<FreshDb, Box<dyn std::error::Error>> {
        let mut settings = config.db_settings()?;
        let server = match &settings.target {
            DbTarget::Sqlite(_) => {
                let path = scratch.path().join(format!("{name}.db"));
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                settings.target = DbTarget::Sqlite(path);
                None
            }
            DbTarget::Postgres(url) | DbTarget::Mysql(url) => {
                let database = format!("convstore_bench_{name}_{}", std::process::id());
                run_on_server(
                    &settings.target,
                    &format!("DROP DATABASE IF EXISTS {database}"),
                )
                .await?;
                run_on_server(&settings.target, &format!("CREATE DATABASE {database}")).await?;
                let url = replace_database(url, &database);
                settings.target = DbTarget::parse(Some(&url), Path::new("."))?;
                Some((url, database))
            }
        };
        Ok(FreshDb { settings, server })
    }

    /// Drops a server database (SQLite files go with the scratch folder).
    pub async fn drop_database(self, config: &Config) -> Result<(), Box<dyn std::error::Error>> {
        if let Some((_, database)) = &self.server {
            let target = config.db_target()?;
            // A store of the run may still hold pooled connections to it.
            let force = if matches!(target, DbTarget::Postgres(_)) {
                " WITH (FORCE)"
            } else {
                ""
            };
            run_on_server(
                &target,
                &format!("DROP DATABASE IF EXISTS {database}{force}"),
            )
            .await?;
        }
        Ok(())
    }
}

fn replace_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}/{database}")
}
