//! Fresh databases for a benchmark run: SQLite files in the run's folder, or new
//! databases on the server the configured URL names (dropped with their [`FreshDb`]).

use std::path::{Path, PathBuf};

use convstore::config::Config;
use convstore::db::scratch::ScratchDb;
use convstore::db::{DbSettings, DbTarget};

/// Where the SQLite files of a run go.
pub enum RunDir {
    /// A folder the user named; kept.
    Kept(PathBuf),
    /// A temporary folder; removed when the run ends.
    Temporary(PathBuf),
}

impl RunDir {
    /// The folder `--dir` names, or a new temporary one.
    pub fn new(dir: Option<&Path>) -> std::io::Result<RunDir> {
        match dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                Ok(RunDir::Kept(dir.to_path_buf()))
            }
            None => {
                let dir =
                    std::env::temp_dir().join(format!("convstore-bench-{}", std::process::id()));
                std::fs::create_dir_all(&dir)?;
                Ok(RunDir::Temporary(dir))
            }
        }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        match self {
            RunDir::Kept(path) | RunDir::Temporary(path) => path,
        }
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if let RunDir::Temporary(path) = self {
            let _ = std::fs::remove_dir_all(path);
        }
    }
}

/// A database made for the run; a server database is dropped with it.
pub struct FreshDb {
    /// How to open it.
    pub settings: DbSettings,
    _scratch: ScratchDb,
}

impl FreshDb {
    /// A new, empty database for the part of the run called `name`: `<name>.db` in
    /// `dir` for SQLite, else a new database on the configured server.
    pub async fn create(
        config: &Config,
        dir: &RunDir,
        name: &str,
    ) -> Result<FreshDb, Box<dyn std::error::Error>> {
        let mut settings = config.db_settings()?;
        let scratch = match &settings.target {
            DbTarget::Sqlite(_) => ScratchDb::sqlite(dir.path().join(format!("{name}.db"))),
            server => ScratchDb::on_server(server, &format!("convstore_bench_{name}")).await?,
        };
        settings.target = scratch.target().clone();
        Ok(FreshDb {
            settings,
            _scratch: scratch,
        })
    }
}
