//! Importing an export document (this store's, or one the Python original wrote:
//! naive timestamps, `metadata` null or an object, a `conversation_id` in each message):
//! reading it strictly, field by field, into an [`ImportDocument`] whose every field is
//! checked and whose times are settled, then writing it in one transaction. A summary
//! checkpoint names a message by its id in the document; it is set on that message's
//! copy (documents without one import as before).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use super::checked::CheckedMessage;
use super::operations::conversation;
use super::requests::{Obtained, OnConflict};
use super::validate;
use crate::db::conn::DbConn;
use crate::db::conversation_table::{self, Checkpoint};
use crate::db::message_table;
use crate::db::rows::{NewConversationRow, NewMessageRow};
use crate::error::StoreError;
use crate::model::{MAX_EXACT_INTEGER, Role, timestamp};

/// A document checked field by field, ready to insert.
#[derive(Debug, Clone)]
pub struct ImportDocument {
    /// Unique user identifier.
    pub user_key: String,
    /// Platform name.
    pub platform: String,
    /// Chat id.
    pub chat_id: Option<String>,
    /// Creation time: the document's, else its first message's, else the time of the
    /// import.
    pub created_at: NaiveDateTime,
    /// Last activity: the document's, else its last message's, else the creation time.
    pub last_activity: NaiveDateTime,
    /// Summary.
    pub summary: Option<String>,
    /// Tokens used: as the document states them (usage not tied to a message included),
    /// else the messages' sum.
    pub total_tokens: i64,
    /// Active persona.
    pub active_persona_id: Option<String>,
    /// The messages, in document order; one without a time gets the last activity.
    pub messages: Vec<CheckedMessage>,
    /// The summary's checkpoint: the position in `messages` of the newest message it
    /// stands for, and the summary's tokens.
    pub checkpoint: Option<(usize, i64)>,
}

/// Checks a document to import and reads it; the error names the first bad field
/// (`conversation.user_key`, `messages[3].timestamp`, ...).
/// Times missing from the document are settled from the others, or `now`.
pub fn read_document(
    document: &Value,
    max_content_bytes: usize,
    now: DateTime<Utc>,
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
    let total_tokens = conversation
        .optional_int("total_tokens")?
        .map(|t| validate::exact_count("total_tokens", t).map_err(|e| conversation.rename(e)))
        .transpose()?;

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
        let (metadata, metadata_json) =
            validate::metadata("metadata", map.get("metadata").cloned())
                .map_err(|e| fields.rename(e))?;
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
        let checked = CheckedMessage {
            role,
            content: content.to_string(),
            // Settled below, once every message's time is known.
            timestamp: now,
            tokens,
            metadata,
            metadata_json,
            idempotency_key: key.map(str::to_string),
        };
        messages.push((checked, fields.optional_time("timestamp")?));
    }

    let checkpoint = match conversation.optional_int("summary_covers_through_id")? {
        None => None,
        Some(_) if summary.is_none() => {
            return Err(StoreError::invalid(
                "conversation.summary_covers_through_id",
                "needs a summary",
            ));
        }
        Some(through) => {
            let position = ids.get(&through).copied().ok_or_else(|| {
                StoreError::invalid(
                    "conversation.summary_covers_through_id",
                    format!("{through} is not the id of a message of the document"),
                )
            })?;
            let tokens = conversation.optional_int("summary_tokens")?.unwrap_or(0);
            let tokens =
                validate::tokens("summary_tokens", tokens).map_err(|e| conversation.rename(e))?;
            Some((position, i64::from(tokens)))
        }
    };

    let first = messages.iter().filter_map(|(_, time)| *time).min();
    let last = messages.iter().filter_map(|(_, time)| *time).max();
    let created_at = conversation
        .optional_time("created_at")?
        .or(first)
        .unwrap_or(now);
    let last_activity = conversation
        .optional_time("last_activity")?
        .or(last)
        .unwrap_or(created_at);
    let messages: Vec<CheckedMessage> = messages
        .into_iter()
        .map(|(message, time)| CheckedMessage {
            timestamp: time.unwrap_or(last_activity),
            ..message
        })
        .collect();
    let message_tokens: i64 = messages.iter().map(|m| i64::from(m.tokens)).sum();

    Ok(ImportDocument {
        user_key: user_key.to_string(),
        platform: platform.to_string(),
        chat_id: chat_id.map(str::to_string),
        created_at: created_at.naive_utc(),
        last_activity: last_activity.naive_utc(),
        summary: summary.map(str::to_string),
        total_tokens: total_tokens.unwrap_or(message_tokens.min(MAX_EXACT_INTEGER)),
        active_persona_id: persona.map(str::to_string),
        messages,
        checkpoint,
    })
}

/// Imports a checked document (inside the caller's transaction).
pub(crate) async fn import(
    conn: &mut DbConn<'_>,
    document: ImportDocument,
    on_conflict: OnConflict,
) -> Result<Obtained, StoreError> {
    let replaced = match conversation_table::find_by_user(conn, &document.user_key).await? {
        Some(existing) if on_conflict == OnConflict::Skip => {
            return Ok(Obtained {
                conversation: existing.into(),
                created: false,
            });
        }
        existing => existing.map(|row| row.id),
    };
    let row = NewConversationRow {
        user_key: &document.user_key,
        platform: &document.platform,
        chat_id: document.chat_id.as_deref(),
        created_at: document.created_at,
        last_activity: document.last_activity,
        summary: document.summary.as_deref(),
        total_tokens: document.total_tokens,
        message_count: document.messages.len() as i64,
        active_persona_id: document.active_persona_id.as_deref(),
        summary_covers_through_id: None,
        summary_tokens: 0,
        message_tokens: document.messages.iter().map(|m| i64::from(m.tokens)).sum(),
        user_messages: document
            .messages
            .iter()
            .filter(|m| m.role == Role::User)
            .count() as i64,
        covered_tokens: 0,
        covered_user_messages: 0,
    };
    // A replaced conversation keeps its id (a bot may have kept it); only its contents
    // change.
    let id = match replaced {
        Some(id) => {
            message_table::delete_in(conn, &[id]).await?;
            conversation_table::replace(conn, id, &row).await?;
            id
        }
        None => conversation_table::insert(conn, &row).await?,
    };
    let rows: Vec<NewMessageRow> = document.messages.iter().map(|m| m.row(id)).collect();
    message_table::insert_all(conn, &rows).await?;
    if let Some((position, summary_tokens)) = document.checkpoint {
        let through_id = message_table::id_at(conn, id, position as i64)
            .await?
            .ok_or_else(|| StoreError::Internal("an imported checkpoint has no message".into()))?;
        let covered = &document.messages[..=position];
        let point = Checkpoint {
            through_id,
            summary_tokens,
            covered_tokens: covered.iter().map(|m| i64::from(m.tokens)).sum(),
            covered_user_messages: covered.iter().filter(|m| m.role == Role::User).count() as i64,
        };
        let summary = document.summary.as_deref();
        conversation_table::set_summary(conn, id, summary, Some(point), document.last_activity)
            .await?;
    }
    Ok(Obtained {
        conversation: conversation(conn, id).await?,
        created: true,
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

    fn optional_time(&self, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.optional_str(name)?
            .map(|text| timestamp::parse(text).map_err(|message| self.error(name, &message)))
            .transpose()
    }
}
