//! Whether the schema of a database is migrated yet. A daemon started while its server
//! is unreachable opens at once and migrates in the background ([`retry_migrations`]);
//! until that succeeds, every operation answers `Unavailable` naming the cause.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tracing::{info, warn};

use crate::error::StoreError;

/// The first wait between two migration attempts; it doubles up to [`LONGEST_WAIT`].
const FIRST_WAIT: Duration = Duration::from_millis(250);
/// The longest wait between two migration attempts.
const LONGEST_WAIT: Duration = Duration::from_secs(10);

/// The schema's state: migrated, or waiting (and why).
#[derive(Debug, Default)]
pub struct Readiness {
    migrated: AtomicBool,
    waiting_for: Mutex<Option<String>>,
}

impl Readiness {
    /// A schema known to be migrated.
    pub fn migrated() -> Readiness {
        Readiness {
            migrated: AtomicBool::new(true),
            waiting_for: Mutex::new(None),
        }
    }

    /// A schema not migrated yet, because of `cause`.
    pub fn waiting(cause: String) -> Readiness {
        Readiness {
            migrated: AtomicBool::new(false),
            waiting_for: Mutex::new(Some(cause)),
        }
    }

    /// `Ok` once the schema is migrated; else `Unavailable` naming why it is not.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.migrated.load(Ordering::Acquire) {
            return Ok(());
        }
        Err(StoreError::Unavailable(format!(
            "the schema is not migrated yet: {}",
            self.waiting_for().unwrap_or_default()
        )))
    }

    /// Why the schema is not migrated yet; `None` once it is.
    pub fn waiting_for(&self) -> Option<String> {
        if self.migrated.load(Ordering::Acquire) {
            return None;
        }
        self.cause().clone()
    }

    fn cause(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.waiting_for
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn set_waiting(&self, cause: String) {
        *self.cause() = Some(cause);
    }

    fn set_migrated(&self) {
        *self.cause() = None;
        self.migrated.store(true, Ordering::Release);
    }
}

/// Runs `migrate` until it succeeds, waiting longer after each failure (up to
/// [`LONGEST_WAIT`]), recording each failure in `readiness` and marking it migrated at
/// the end. A failure that is not `Unavailable` (a broken migration) is retried too,
/// at the longest wait: the daemon keeps answering 503 and the log says why.
pub async fn retry_migrations<F, Fut>(readiness: std::sync::Arc<Readiness>, migrate: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<usize, StoreError>>,
{
    let mut wait = FIRST_WAIT;
    loop {
        tokio::time::sleep(wait).await;
        match migrate().await {
            Ok(applied) => {
                info!(applied, "the database is reachable: migrations applied");
                readiness.set_migrated();
                return;
            }
            Err(error) => {
                wait = match error {
                    StoreError::Unavailable(_) => (wait * 2).min(LONGEST_WAIT),
                    _ => LONGEST_WAIT,
                };
                warn!(%error, retry_in = ?wait, "the database is not ready; retrying");
                readiness.set_waiting(format!("{error}; retrying in {wait:?}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_schema_answers_unavailable_naming_the_cause() {
        let readiness = Readiness::waiting("connection refused".into());
        let error = readiness.check().unwrap_err();
        assert!(
            matches!(&error, StoreError::Unavailable(m) if m.contains("connection refused")),
            "{error:?}"
        );
        readiness.set_migrated();
        assert_eq!(readiness.check(), Ok(()));
        assert_eq!(readiness.waiting_for(), None);
    }
}
