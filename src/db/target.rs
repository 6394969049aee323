//! Reading a database URL: which backend it names and where the database is.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::StoreError;

/// The three database engines convstore runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, embedded (the default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
}

impl Backend {
    /// The backend's name as shown in logs and the admin API.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
        }
    }

    fn compiled_in(self) -> bool {
        match self {
            Backend::Sqlite => cfg!(feature = "sqlite"),
            Backend::Postgres => cfg!(feature = "postgres"),
            Backend::Mysql => cfg!(feature = "mysql"),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the store lives: a SQLite file, or a server URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DbTarget {
    /// A SQLite database file (created with its folder if missing).
    Sqlite(PathBuf),
    /// A `postgres://` URL.
    Postgres(String),
    /// A `mysql://` URL (`mariadb://` is rewritten to it).
    Mysql(String),
}

impl fmt::Debug for DbTarget {
    /// Shows the target without the password a server URL may carry.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbTarget::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            DbTarget::Postgres(url) | DbTarget::Mysql(url) => f.write_str(&redact(url)),
        }
    }
}

impl DbTarget {
    /// Reads a database URL the way the guide (SQLAlchemy) does:
    /// `sqlite:///relative/path`, `sqlite:////absolute/path`, a bare file path,
    /// `postgres://` / `postgresql://`, `mysql://` / `mariadb://`. An empty or missing URL
    /// means `conversations.db` in `data_dir`.
    pub fn parse(url: Option<&str>, data_dir: &Path) -> Result<DbTarget, StoreError> {
        let url = url.map(str::trim).filter(|u| !u.is_empty());
        let Some(url) = url else {
            return Self::checked(DbTarget::Sqlite(data_dir.join("conversations.db")));
        };
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => return Self::checked(DbTarget::Sqlite(PathBuf::from(url))),
        };
        // SQLAlchemy allows a driver suffix such as `postgresql+psycopg`.
        let scheme = scheme.split('+').next().unwrap_or_default().to_string();
        let target = match scheme.as_str() {
            "sqlite" => DbTarget::Sqlite(sqlite_path(rest)?),
            "postgres" | "postgresql" => DbTarget::Postgres(format!("postgres://{rest}")),
            "mysql" | "mariadb" => DbTarget::Mysql(format!("mysql://{rest}")),
            other => {
                return Err(StoreError::invalid(
                    "db_url",
                    format!(
                        "unknown scheme {other:?}: use sqlite:///path, postgres://... or mysql://..."
                    ),
                ));
            }
        };
        Self::checked(target)
    }

    /// The backend of this target.
    pub fn backend(&self) -> Backend {
        match self {
            DbTarget::Sqlite(_) => Backend::Sqlite,
            DbTarget::Postgres(_) => Backend::Postgres,
            DbTarget::Mysql(_) => Backend::Mysql,
        }
    }

    fn checked(target: DbTarget) -> Result<DbTarget, StoreError> {
        let backend = target.backend();
        if backend.compiled_in() {
            Ok(target)
        } else {
            Err(StoreError::invalid(
                "db_url",
                format!(
                    "this build has no {backend} support: rebuild with the `{backend}` feature"
                ),
            ))
        }
    }
}

/// The file named by the part of a `sqlite://` URL after the scheme: `/rel/path` is
/// relative, `//abs/path` absolute, as in SQLAlchemy.
fn sqlite_path(rest: &str) -> Result<PathBuf, StoreError> {
    let path = rest.strip_prefix('/').unwrap_or(rest);
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::invalid(
            "db_url",
            "an in-memory SQLite database would vanish with each connection: give a file path",
        ));
    }
    Ok(PathBuf::from(path))
}

/// `url` with its password hidden, for logs: the password of the user part
/// (`user:***@`) and any `password` (or `pass`) query parameter. A URL that does not
/// parse is hidden whole but for its scheme.
pub fn redact(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
        return format!("{scheme}://***");
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    let secret = |key: &str| matches!(key.to_ascii_lowercase().as_str(), "password" | "pass");
    if parsed.query_pairs().any(|(key, _)| secret(&key)) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| {
                let value = if secret(&key) {
                    "***".into()
                } else {
                    value.into_owned()
                };
                (key.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_urls_like_sqlalchemy() {
        let data = Path::new("data");
        let parse = |url| DbTarget::parse(Some(url), data).unwrap();
        assert_eq!(
            parse("sqlite:///data/conversations.db"),
            DbTarget::Sqlite("data/conversations.db".into())
        );
        assert_eq!(
            parse("sqlite:////var/lib/convstore/c.db"),
            DbTarget::Sqlite("/var/lib/convstore/c.db".into())
        );
        assert_eq!(parse("my.db"), DbTarget::Sqlite("my.db".into()));
        assert_eq!(
            parse("postgresql://u:p@h/db"),
            DbTarget::Postgres("postgres://u:p@h/db".into())
        );
        assert_eq!(
            parse("mariadb://root@h/db"),
            DbTarget::Mysql("mysql://root@h/db".into())
        );
        assert_eq!(
            DbTarget::parse(None, data).unwrap(),
            DbTarget::Sqlite("data/conversations.db".into())
        );
        assert!(DbTarget::parse(Some("sqlite://"), data).is_err());
        assert!(DbTarget::parse(Some("oracle://x"), data).is_err());
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert_eq!(
            redact("postgres://u:p@ss@w0rd@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            redact("mysql://u@h/db?password=secret&ssl-mode=required"),
            "mysql://u@h/db?password=***&ssl-mode=required"
        );
        assert!(!redact("postgres://u:se cret@[bad/db").contains("se cret"));
    }
}
