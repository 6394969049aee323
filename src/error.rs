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
    /// A row to create exists already (a unique key: a user key in use, an idempotency
    /// key), often because another process created it at the same moment. Nothing was
    /// written.
    #[error("{0}")]
    Conflict(String),
    /// The database cannot be reached, stayed locked past the busy or lock timeout, has
    /// no space, or is read-only. The call may be retried. It did not commit, unless the
    /// connection was lost during the COMMIT itself, which may have committed: a save
    /// retried with its idempotency key settles that (it answers the stored message).
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
    /// Classifies by the driver's error kind (which diesel derives from PostgreSQL's
    /// SQLSTATE, MySQL's error number and SQLite's extended result code), never by the
    /// message text: a unique violation is a [`StoreError::Conflict`]; a lost
    /// connection, a read-only transaction (a failover), a serialization failure and
    /// every error without a kind of its own are conditions of the database
    /// ([`StoreError::Unavailable`]): the busy or locked SQLite file, a full disk, a
    /// statement or lock timeout, a deadlock, a server shutting down. The queries are
    /// fixed and tested on every backend, so an error without a kind is not a fault of
    /// the request; the drivers pass no finer code through diesel. Other constraint
    /// violations are [`StoreError::Internal`].
    fn from(error: DieselError) -> Self {
        match &error {
            DieselError::NotFound => StoreError::NotFound("record".into()),
            DieselError::DatabaseError(kind, info) => {
                let message = info.message().to_string();
                match kind {
                    DatabaseErrorKind::UniqueViolation => StoreError::Conflict(message),
                    DatabaseErrorKind::ForeignKeyViolation
                    | DatabaseErrorKind::NotNullViolation
                    | DatabaseErrorKind::CheckViolation
                    | DatabaseErrorKind::RestrictViolation
                    | DatabaseErrorKind::ExclusionViolation => StoreError::Internal(message),
                    _ => StoreError::Unavailable(message),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn database_error(kind: DatabaseErrorKind, message: &str) -> StoreError {
        DieselError::DatabaseError(kind, Box::new(message.to_string())).into()
    }

    #[test]
    fn errors_are_classified_by_kind_not_by_text() {
        let duplicate = "Duplicate entry '7-busy connection' for key 'ux_messages_idempotency'";
        assert!(matches!(
            database_error(DatabaseErrorKind::UniqueViolation, duplicate),
            StoreError::Conflict(_)
        ));
        for kind in [
            DatabaseErrorKind::ReadOnlyTransaction,
            DatabaseErrorKind::SerializationFailure,
            DatabaseErrorKind::ClosedConnection,
            DatabaseErrorKind::UnableToSendCommand,
            DatabaseErrorKind::Unknown,
        ] {
            assert!(
                matches!(database_error(kind, "x"), StoreError::Unavailable(_)),
                "{kind:?}"
            );
        }
        let check = database_error(DatabaseErrorKind::CheckViolation, "database is locked");
        assert!(matches!(check, StoreError::Internal(_)));
    }
}
