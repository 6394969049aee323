//! The export document (the guide's JSON format) and the strict reading of documents to
//! import, including those the Python original wrote (naive timestamps, `metadata`
//! null or an object, a `conversation_id` in each message).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::StoreError;
use crate::model::{Conversation, Message, Role, timestamp};
use crate::store::validate;

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

impl From<Message> for ExportedMessage {
    fn from(message: Message) -> Self {
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
    pub fn new(conversation: Conversation, messages: Vec<Message>) -> Self {
        ExportDocument {
            format: FORMAT.to_string(),
            conversation,
            messages: messages.into_iter().map(ExportedMessage::from).collect(),
        }
    }
}

/// A document checked field by field, ready to insert.
#[derive(Debug, Clone)]
pub struct ImportDocument {
    /// Unique user identifier.
    pub user_key: String,
    /// Platform name.
    pub platform: String,
    /// Chat id.
    pub chat_id: Option<String>,
    /// Creation time; the first message's time (or now) when absent.
    pub created_at: Option<NaiveDateTime>,
    /// Last activity; the last message's time (or the creation time) when absent.
    pub last_activity: Option<NaiveDateTime>,
    /// Summary.
    pub summary: Option<String>,
    /// Tokens used as the document states them; the messages' sum when absent.
    pub total_tokens: Option<i64>,
    /// Active persona.
    pub active_persona_id: Option<String>,
    /// The messages, in document order.
    pub messages: Vec<ImportedMessage>,
}

/// A message of an [`ImportDocument`].
#[derive(Debug, Clone)]
pub struct ImportedMessage {
    /// Role name.
    pub role: Role,
    /// Text.
    pub content: String,
    /// Time; the conversation's last activity (or now) when absent.
    pub timestamp: Option<NaiveDateTime>,
    /// Token count.
    pub tokens: i32,
    /// Metadata as JSON text.
    pub metadata_json: Option<String>,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
}

/// Reads a timestamp: RFC 3339 with `Z` or an offset, or a naive ISO 8601 time (UTC
/// assumed) with `T` or a space, as Python's `isoformat()` writes it. Kept to the
/// microsecond.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc).trunc_subsecs(6));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc().trunc_subsecs(6));
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Ok(t.with_timezone(&Utc).trunc_subsecs(6));
        }
    }
    Err(format!(
        "{text:?} is not a timestamp like 2025-01-08T10:00:00.123456Z"
    ))
}

/// Checks a document to import and reads it; the error names the first bad field
/// (`conversation.user_key`, `messages[3].timestamp`, ...).
pub fn read_document(
    document: &Value,
    max_content_bytes: usize,
) -> Result<ImportDocument, StoreError> {
    let root = document
        .as_object()
        .ok_or_else(|| StoreError::invalid("document", "must be a JSON object"))?;
    let conversation = match root.get("conversation") {
        Some(Value::Object(map)) => Fields::new(map, "conversation."),
        Some(_) => return Err(StoreError::invalid("conversation", "must be an object")),
        None => return Err(StoreError::invalid("conversation", "is required")),
    };
    let items = match root.get("messages") {
        Some(Value::Array(items)) => items.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => return Err(StoreError::invalid("messages", "must be an array")),
    };

    let user_key = conversation.required_str("user_key")?;
    validate::user_key(user_key).map_err(|e| conversation.rename(e))?;
    let platform = conversation.required_str("platform")?;
    validate::platform(platform).map_err(|e| conversation.rename(e))?;
    let chat_id = conversation.optional_str("chat_id")?;
    validate::optional_identifier("chat_id", chat_id).map_err(|e| conversation.rename(e))?;
    let persona = conversation.optional_str("active_persona_id")?;
    validate::optional_identifier("active_persona_id", persona)
        .map_err(|e| conversation.rename(e))?;
    let summary = conversation.optional_str("summary")?;
    if let Some(summary) = summary {
        validate::text("summary", summary, max_content_bytes)
            .map_err(|e| conversation.rename(e))?;
    }
    let total_tokens = conversation.optional_int("total_tokens")?;
    if total_tokens.is_some_and(|t| t < 0) {
        return Err(StoreError::invalid(
            "conversation.total_tokens",
            "must not be negative",
        ));
    }

    let mut messages = Vec::with_capacity(items.len());
    let mut ids: HashMap<i64, usize> = HashMap::new();
    let mut keys: HashMap<String, usize> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        let prefix = format!("messages[{index}].");
        let Value::Object(map) = item else {
            return Err(StoreError::invalid(
                format!("messages[{index}]"),
                "must be an object",
            ));
        };
        let fields = Fields::new(map, &prefix);
        if let Some(id) = fields.optional_int("id")?
            && let Some(first) = ids.insert(id, index)
        {
            return Err(StoreError::invalid(
                format!("{prefix}id"),
                format!("{id} repeats the id of messages[{first}]"),
            ));
        }
        let role: Role = fields
            .required_str("role")?
            .parse()
            .map_err(|e| fields.rename(e))?;
        let content = fields.required_str("content")?;
        validate::text("content", content, max_content_bytes).map_err(|e| fields.rename(e))?;
        let tokens = validate::tokens("tokens", fields.optional_int("tokens")?.unwrap_or(0))
            .map_err(|e| fields.rename(e))?;
        let metadata =
            validate::metadata("metadata", map.get("metadata")).map_err(|e| fields.rename(e))?;
        let key = fields.optional_str("idempotency_key")?;
        validate::optional_identifier("idempotency_key", key).map_err(|e| fields.rename(e))?;
        if let Some(key) = key
            && let Some(first) = keys.insert(key.to_string(), index)
        {
            return Err(StoreError::invalid(
                format!("{prefix}idempotency_key"),
                format!("repeats the key of messages[{first}]"),
            ));
        }
        messages.push(ImportedMessage {
            role,
            content: content.to_string(),
            timestamp: fields.optional_time("timestamp")?,
            tokens,
            metadata_json: metadata,
            idempotency_key: key.map(str::to_string),
        });
    }

    Ok(ImportDocument {
        user_key: user_key.to_string(),
        platform: platform.to_string(),
        chat_id: chat_id.map(str::to_string),
        created_at: conversation.optional_time("created_at")?,
        last_activity: conversation.optional_time("last_activity")?,
        summary: summary.map(str::to_string),
        total_tokens,
        active_persona_id: persona.map(str::to_string),
        messages,
    })
}

/// The fields of one JSON object, read with errors that carry the object's path.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: &'a str,
}

impl<'a> Fields<'a> {
    fn new(map: &'a Map<String, Value>, prefix: &'a str) -> Self {
        Fields { map, prefix }
    }

    fn error(&self, name: &str, message: &str) -> StoreError {
        StoreError::invalid(format!("{}{name}", self.prefix), message)
    }

    /// Puts this object's path in front of the field an error names.
    fn rename(&self, error: StoreError) -> StoreError {
        match error {
            StoreError::InvalidInput { field, message } => StoreError::InvalidInput {
                field: format!("{}{field}", self.prefix),
                message,
            },
            other => other,
        }
    }

    fn required_str(&self, name: &str) -> Result<&'a str, StoreError> {
        self.optional_str(name)?
            .ok_or_else(|| self.error(name, "is required"))
    }

    fn optional_str(&self, name: &str) -> Result<Option<&'a str>, StoreError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(self.error(name, "must be a string")),
        }
    }

    fn optional_int(&self, name: &str) -> Result<Option<i64>, StoreError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.error(name, "must be a 64-bit integer")),
            Some(_) => Err(self.error(name, "must be an integer")),
        }
    }

    fn optional_time(&self, name: &str) -> Result<Option<NaiveDateTime>, StoreError> {
        self.optional_str(name)?
            .map(|text| {
                parse_timestamp(text)
                    .map(|t| t.naive_utc())
                    .map_err(|message| self.error(name, &message))
            })
            .transpose()
    }
}
