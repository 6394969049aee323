//! A message that passed every check ([`CheckedMessage`]), and the two shapes it takes
//! after that: the row it is inserted as, and the stored message it answers with once
//! the database gave it an id. Its metadata is parsed once (from the request) and
//! written as JSON text once (by the check). Also a summary checkpoint that passed its
//! checks ([`CheckedCheckpoint`]).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::db::rows::NewMessageRow;
use crate::model::{Role, StoredMessage};

/// A message ready to store: every field checked, its time set.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedMessage {
    /// Who wrote it.
    pub role: Role,
    /// The text: within the size limit, no NUL.
    pub content: String,
    /// When it was saved (or, imported, when the document says it was).
    pub timestamp: DateTime<Utc>,
    /// Token count, 0 to 2^31-1.
    pub tokens: i32,
    /// The metadata object, `{}` when none.
    pub metadata: Map<String, Value>,
    /// The same as JSON text, `None` when empty: what the row holds.
    pub metadata_json: Option<String>,
    /// The idempotency key, if any.
    pub idempotency_key: Option<String>,
}

impl CheckedMessage {
    /// The row that stores this message in `conversation_id`.
    pub(crate) fn row(&self, conversation_id: i64) -> NewMessageRow<'_> {
        NewMessageRow {
            conversation_id,
            role: self.role,
            content: &self.content,
            timestamp: self.timestamp.naive_utc(),
            tokens: self.tokens,
            metadata_json: self.metadata_json.as_deref(),
            idempotency_key: self.idempotency_key.as_deref(),
        }
    }

    /// The message as stored in `conversation_id` under `id`.
    pub(crate) fn stored(self, conversation_id: i64, id: i64) -> StoredMessage {
        StoredMessage {
            id,
            conversation_id,
            role: self.role,
            content: self.content,
            timestamp: self.timestamp,
            tokens: self.tokens,
            metadata: self.metadata,
            idempotency_key: self.idempotency_key,
        }
    }
}

/// A summary checkpoint that passed its checks: the newest message the summary stands
/// for (its conversation is checked when it is set), and the summary's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedCheckpoint {
    /// The newest message the summary stands for.
    pub through_id: i64,
    /// The summary's tokens, 0 to 2^31-1.
    pub tokens: i64,
}
