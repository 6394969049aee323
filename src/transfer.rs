//! The export document: the guide's JSON format of one conversation and its messages.
//! Reading a document to import, strictly and field by field, is the store's job
//! (`store::import`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{Conversation, Role, StoredMessage, timestamp};

/// The `format` key this store writes; readers ignore it, documents without it import
/// the same way.
pub const FORMAT: &str = "convstore/1";

/// One conversation and all its messages, as exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExportDocument {
    /// Always [`FORMAT`].
    pub format: String,
    /// The conversation record.
    pub conversation: Conversation,
    /// Its messages, oldest first.
    pub messages: Vec<ExportedMessage>,
}

/// A message inside an [`ExportDocument`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExportedMessage {
    /// The id it had in the exporting store (ignored on import).
    pub id: i64,
    /// Who wrote it.
    pub role: Role,
    /// The text.
    pub content: String,
    /// When it was saved (UTC).
    #[serde(with = "timestamp")]
    pub timestamp: DateTime<Utc>,
    /// Token count.
    pub tokens: i32,
    /// A JSON object, `{}` when none.
    pub metadata: Map<String, Value>,
    /// Its idempotency key, kept so that re-deliveries stay deduplicated after a move.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl From<StoredMessage> for ExportedMessage {
    fn from(message: StoredMessage) -> Self {
        ExportedMessage {
            id: message.id,
            role: message.role,
            content: message.content,
            timestamp: message.timestamp,
            tokens: message.tokens,
            metadata: message.metadata,
            idempotency_key: message.idempotency_key,
        }
    }
}

impl ExportDocument {
    /// A document of `conversation` and its `messages`.
    pub fn new(conversation: Conversation, messages: Vec<StoredMessage>) -> Self {
        ExportDocument {
            format: FORMAT.to_string(),
            conversation,
            messages: messages.into_iter().map(ExportedMessage::from).collect(),
        }
    }
}
