//! The error every store operation returns, and how database errors map onto it.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// What went wrong with a store operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The conversation (or other record) asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The input broke a rule; `field` names the offending field. Nothing was written.
    #[error("invalid {field}: {message}")]
    InvalidInput {
        /// The field at fault, e.g. `user_key` or `messages[3].timestamp`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The record to create exists already (a fork onto a user key in use). Nothing was
    /// written.
    #[error("{0}")]
    Conflict(String),
    /// The database cannot be reached, or stayed locked past the busy timeout. The call
    /// may be retried; nothing of it was committed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else: an unexpected answer from the database, or a bug.
    #[error("internal error: {0}")]
    Internal(String),
}

impl StoreError {
    /// An [`StoreError::InvalidInput`] for `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A [`StoreError::NotFound`] for the conversation `id`.
    pub fn conversation_not_found(id: i64) -> Self {
        StoreError::NotFound(format!("conversation {id}"))
    }
}

impl From<DieselError> for StoreError {
    fn from(error: DieselError) -> Self {
        match &error {
            DieselError::NotFound => StoreError::NotFound("record".into()),
            DieselError::DatabaseError(kind, info) => {
                let message = info.message().to_string();
                match kind {
                    DatabaseErrorKind::ClosedConnection
                    | DatabaseErrorKind::UnableToSendCommand => StoreError::Unavailable(message),
                    _ if is_transient(&message) => StoreError::Unavailable(message),
                    _ => StoreError::Internal(message),
                }
            }
            DieselError::BrokenTransactionManager => {
                StoreError::Unavailable("the connection was lost inside a transaction".into())
            }
            _ => StoreError::Internal(error.to_string()),
        }
    }
}

impl From<diesel::ConnectionError> for StoreError {
    fn from(error: diesel::ConnectionError) -> Self {
        StoreError::Unavailable(error.to_string())
    }
}

/// Whether a database message describes a condition of the database itself (a lock, a
/// lost connection, a server shutting down, a full or read-only disk) rather than a
/// fault in the request or a bug: those answer `Unavailable` (HTTP 503).
fn is_transient(message: &str) -> bool {
    const MARKERS: [&str; 13] = [
        "database is locked",
        "database table is locked",
        "busy",
        "connection",
        "shutting down",
        "terminating",
        "broken pipe",
        "deadlock",
        "lock wait timeout",
        "readonly database",
        "unable to open",
        "disk i/o error",
        "disk is full",
    ];
    let message = message.to_ascii_lowercase();
    MARKERS.iter().any(|marker| message.contains(marker))
}
