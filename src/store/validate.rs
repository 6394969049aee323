//! The rules input must follow before anything is written, and the limits they hold it
//! to (each written here, once). Each check names the field it guards, so a caller can
//! tell exactly what to fix.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::checked::{CheckedCheckpoint, CheckedMessage};
use super::requests::{HistoryWindow, NewMessage, SetSummary};
use crate::error::StoreError;
use crate::model::MAX_EXACT_INTEGER;

/// Longest user key, chat id, persona id and idempotency key, in characters.
pub const MAX_KEY_CHARS: usize = 255;
/// Longest platform name, in characters.
pub const MAX_PLATFORM_CHARS: usize = 50;
/// Largest `max_turns` a history request may ask for.
pub const MAX_TURNS: i64 = 10_000;
/// Largest `max_messages` a history request may ask for.
pub const MAX_MESSAGES: i64 = 100_000;
/// Largest `max_tokens` a history request may ask for.
pub const MAX_TOKENS_WINDOW: i64 = 1_000_000_000;
/// Most messages one `SaveMessages` may carry.
pub const MAX_BATCH_MESSAGES: usize = 1_000;
/// Largest page of a listing or an export.
pub const MAX_PAGE: i64 = 1_000;
/// Page of a listing that names no limit.
pub const DEFAULT_PAGE: i64 = 50;
/// Largest age, in days, a cleanup may name.
pub const MAX_CLEANUP_DAYS: i64 = 36_500;
/// Most days `GetDailyStats` may ask for.
pub const MAX_DAILY_DAYS: i64 = 366;
/// Days `GET /v1/stats/daily` answers when it names none.
pub const DEFAULT_DAILY_DAYS: i64 = 30;
/// Largest token usage one call may add.
pub const MAX_USAGE: i64 = 1_000_000_000_000;
/// Deepest nesting of arrays and objects in metadata (the object itself is level 1).
pub const MAX_METADATA_DEPTH: usize = 100;

/// A conversation id: a positive 64-bit integer.
pub fn conversation_id(id: i64) -> Result<i64, StoreError> {
    positive("conversation_id", id)
}

/// A positive id in `field`.
pub fn positive(field: &str, id: i64) -> Result<i64, StoreError> {
    if id > 0 {
        Ok(id)
    } else {
        Err(StoreError::invalid(field, "must be a positive integer"))
    }
}

/// A user key: 1 to 255 characters, no control characters.
pub fn user_key(key: &str) -> Result<&str, StoreError> {
    identifier("user_key", key, MAX_KEY_CHARS)
}

/// A platform name: 1 to 50 characters, no control characters.
pub fn platform(name: &str) -> Result<&str, StoreError> {
    identifier("platform", name, MAX_PLATFORM_CHARS)
}

/// An optional identifier (chat id, persona id, idempotency key) in `field`.
pub fn optional_identifier<'a>(
    field: &str,
    value: Option<&'a str>,
) -> Result<Option<&'a str>, StoreError> {
    value
        .map(|v| identifier(field, v, MAX_KEY_CHARS))
        .transpose()
}

/// A non-empty identifier of at most `max` characters without control characters.
pub fn identifier<'a>(field: &str, value: &'a str, max: usize) -> Result<&'a str, StoreError> {
    if value.is_empty() {
        return Err(StoreError::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(StoreError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(StoreError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value)
}

/// Free text (content, summary): at most `max_bytes` bytes and no NUL character, which
/// PostgreSQL cannot store.
pub fn text<'a>(field: &str, value: &'a str, max_bytes: usize) -> Result<&'a str, StoreError> {
    if value.len() > max_bytes {
        return Err(StoreError::invalid(
            field,
            format!(
                "is {} bytes, more than the limit of {max_bytes}",
                value.len()
            ),
        ));
    }
    if value.contains('\0') {
        return Err(StoreError::invalid(
            field,
            "must not contain NUL characters",
        ));
    }
    Ok(value)
}

/// A token count: 0 to 2^31-1.
pub fn tokens(field: &str, tokens: i64) -> Result<i32, StoreError> {
    if tokens < 0 {
        return Err(StoreError::invalid(field, "must not be negative"));
    }
    i32::try_from(tokens)
        .map_err(|_| StoreError::invalid(field, format!("must be at most {}", i32::MAX)))
}

/// A count or token figure that JSON clients read exactly: 0 to 2^53 - 1.
pub fn exact_count(field: &str, value: i64) -> Result<i64, StoreError> {
    if value < 0 {
        return Err(StoreError::invalid(field, "must not be negative"));
    }
    if value > MAX_EXACT_INTEGER {
        return Err(StoreError::invalid(
            field,
            format!("must be at most {MAX_EXACT_INTEGER} (2^53 - 1)"),
        ));
    }
    Ok(value)
}

/// Metadata: a JSON object or nothing (`{}`). Answers the object, and the JSON text it
/// is stored as (`None` for an empty one).
pub fn metadata(
    field: &str,
    metadata: Option<Value>,
) -> Result<(Map<String, Value>, Option<String>), StoreError> {
    let map = match metadata {
        None | Some(Value::Null) => return Ok((Map::new(), None)),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(StoreError::invalid(field, "must be a JSON object")),
    };
    if map.is_empty() {
        return Ok((map, None));
    }
    // What is stored must read back: serde_json reads JSON nested at most 127 levels
    // deep, and documents and answers wrap metadata in three.
    if map.values().any(|v| too_deep(v, MAX_METADATA_DEPTH - 1)) {
        return Err(StoreError::invalid(
            field,
            format!("must be nested at most {MAX_METADATA_DEPTH} levels deep"),
        ));
    }
    // Looked for in the value, not the JSON text: there the text `\u0000` (a backslash,
    // then `u0000`) looks like an escaped NUL.
    if map
        .iter()
        .any(|(key, value)| key.contains('\0') || contains_nul(value))
    {
        return Err(StoreError::invalid(
            field,
            "must not contain NUL characters",
        ));
    }
    let text = serde_json::to_string(&map)
        .map_err(|e| StoreError::Internal(format!("cannot write metadata as JSON: {e}")))?;
    Ok((map, Some(text)))
}

/// Whether `value` nests arrays and objects more than `levels` deep.
fn too_deep(value: &serde_json::Value, levels: usize) -> bool {
    match value {
        serde_json::Value::Array(items) => {
            levels == 0 || items.iter().any(|v| too_deep(v, levels - 1))
        }
        serde_json::Value::Object(map) => {
            levels == 0 || map.values().any(|v| too_deep(v, levels - 1))
        }
        _ => false,
    }
}

/// Whether a string or key anywhere in `value` holds a NUL character.
fn contains_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => text.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(contains_nul),
        serde_json::Value::Object(map) => map
            .iter()
            .any(|(key, value)| key.contains('\0') || contains_nul(value)),
        _ => false,
    }
}

/// A value in `1..=max` for `field`, or `None`.
pub fn optional_range(
    field: &str,
    value: Option<i64>,
    max: i64,
) -> Result<Option<i64>, StoreError> {
    match value {
        Some(v) if !(1..=max).contains(&v) => Err(StoreError::invalid(
            field,
            format!("must be between 1 and {max}"),
        )),
        other => Ok(other),
    }
}

/// A whole message, checked and stamped `timestamp`. `prefix` goes before field names
/// (`messages[2].` in a batch).
pub fn message(
    prefix: &str,
    message: NewMessage,
    max_content_bytes: usize,
    timestamp: DateTime<Utc>,
) -> Result<CheckedMessage, StoreError> {
    let field = |name: &str| format!("{prefix}{name}");
    text(&field("content"), &message.content, max_content_bytes)?;
    let tokens = tokens(&field("tokens"), message.tokens)?;
    let (metadata, metadata_json) = metadata(&field("metadata"), message.metadata)?;
    optional_identifier(
        &field("idempotency_key"),
        message.idempotency_key.as_deref(),
    )?;
    Ok(CheckedMessage {
        role: message.role,
        content: message.content,
        timestamp,
        tokens,
        metadata,
        metadata_json,
        idempotency_key: message.idempotency_key,
    })
}

/// The checkpoint a [`SetSummary`] asks for, if any: `covers_through_id` positive and
/// only with a summary, `tokens` a token count and only with `covers_through_id`.
pub fn checkpoint(request: &SetSummary) -> Result<Option<CheckedCheckpoint>, StoreError> {
    let tokens = request.tokens.map(|t| tokens("tokens", t)).transpose()?;
    match (request.covers_through_id, tokens) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(StoreError::invalid(
            "tokens",
            "counts a checkpoint's summary: give covers_through_id too",
        )),
        (Some(_), _) if request.summary.is_none() => Err(StoreError::invalid(
            "covers_through_id",
            "needs a summary (null clears the summary and its checkpoint)",
        )),
        (Some(through), tokens) => Ok(Some(CheckedCheckpoint {
            through_id: positive("covers_through_id", through)?,
            tokens: tokens.map_or(0, i64::from),
        })),
    }
}

/// A history window: each limit in its range, `before_id` positive; with no limit at
/// all, the last `default_turns` turns.
pub fn history_window(
    window: HistoryWindow,
    default_turns: i64,
) -> Result<HistoryWindow, StoreError> {
    let mut checked = HistoryWindow {
        max_turns: optional_range("max_turns", window.max_turns, MAX_TURNS)?,
        max_messages: optional_range("max_messages", window.max_messages, MAX_MESSAGES)?,
        max_tokens: optional_range("max_tokens", window.max_tokens, MAX_TOKENS_WINDOW)?,
        before_id: window
            .before_id
            .map(|id| positive("before_id", id))
            .transpose()?,
    };
    if checked.max_turns.is_none() && checked.max_messages.is_none() && checked.max_tokens.is_none()
    {
        checked.max_turns = Some(default_turns);
    }
    Ok(checked)
}
