//! Rows as they are stored, and their conversion to the public records; a [`Role`] is
//! read and written as its name by the `ToSql`/`FromSql` impls here.

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::prelude::*;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

use super::schema::{conversations, messages};
use crate::error::StoreError;
use crate::model::{Conversation, Role, StoredMessage, from_db_time};

/// A row of `conversations`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = conversations)]
pub struct ConversationRow {
    /// Primary key.
    pub id: i64,
    /// Unique user identifier.
    pub user_key: String,
    /// Platform name.
    pub platform: String,
    /// Chat or group id.
    pub chat_id: Option<String>,
    /// Creation time (UTC).
    pub created_at: NaiveDateTime,
    /// Last activity (UTC).
    pub last_activity: NaiveDateTime,
    /// Summary.
    pub summary: Option<String>,
    /// Tokens used.
    pub total_tokens: i64,
    /// Messages stored.
    pub message_count: i64,
    /// Active persona.
    pub active_persona_id: Option<String>,
    /// The summary's checkpoint.
    pub summary_covers_through_id: Option<i64>,
    /// Tokens of the summary (0 without a checkpoint).
    pub summary_tokens: i64,
    /// Tokens of the stored messages.
    pub message_tokens: i64,
    /// Stored `user` messages.
    pub user_messages: i64,
    /// Message tokens up to the checkpoint.
    pub covered_tokens: i64,
    /// User messages up to the checkpoint.
    pub covered_user_messages: i64,
}

impl From<ConversationRow> for Conversation {
    fn from(row: ConversationRow) -> Self {
        Conversation {
            id: row.id,
            user_key: row.user_key,
            platform: row.platform,
            chat_id: row.chat_id,
            created_at: from_db_time(row.created_at),
            last_activity: from_db_time(row.last_activity),
            summary: row.summary,
            total_tokens: row.total_tokens,
            message_count: row.message_count,
            active_persona_id: row.active_persona_id,
            summary_covers_through_id: row.summary_covers_through_id,
            summary_tokens: row.summary_tokens,
        }
    }
}

/// A conversation to insert, or whose fields replace a stored one's (its id stays).
#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = conversations, treat_none_as_null = true)]
pub struct NewConversationRow<'a> {
    /// Unique user identifier.
    pub user_key: &'a str,
    /// Platform name.
    pub platform: &'a str,
    /// Chat or group id.
    pub chat_id: Option<&'a str>,
    /// Creation time (UTC).
    pub created_at: NaiveDateTime,
    /// Last activity (UTC).
    pub last_activity: NaiveDateTime,
    /// Summary.
    pub summary: Option<&'a str>,
    /// Tokens used.
    pub total_tokens: i64,
    /// Messages stored.
    pub message_count: i64,
    /// Active persona.
    pub active_persona_id: Option<&'a str>,
    /// The summary's checkpoint.
    pub summary_covers_through_id: Option<i64>,
    /// Tokens of the summary (0 without a checkpoint).
    pub summary_tokens: i64,
    /// Tokens of the stored messages.
    pub message_tokens: i64,
    /// Stored `user` messages.
    pub user_messages: i64,
    /// Message tokens up to the checkpoint.
    pub covered_tokens: i64,
    /// User messages up to the checkpoint.
    pub covered_user_messages: i64,
}

/// A row of `messages`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = messages)]
pub struct MessageRow {
    /// Primary key.
    pub id: i64,
    /// Owning conversation.
    pub conversation_id: i64,
    /// Who wrote it.
    pub role: Role,
    /// Text.
    pub content: String,
    /// Save time (UTC).
    pub timestamp: NaiveDateTime,
    /// Token count.
    pub tokens: i32,
    /// JSON object as text, or NULL.
    pub metadata_json: Option<String>,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
}

impl TryFrom<MessageRow> for StoredMessage {
    type Error = StoreError;

    fn try_from(row: MessageRow) -> Result<Self, StoreError> {
        let metadata = match row.metadata_json.as_deref() {
            None | Some("") => serde_json::Map::new(),
            Some(text) => match serde_json::from_str(text) {
                Ok(serde_json::Value::Object(map)) => map,
                Ok(serde_json::Value::Null) => serde_json::Map::new(),
                _ => {
                    return Err(StoreError::Internal(format!(
                        "message {} has metadata that is not a JSON object",
                        row.id
                    )));
                }
            },
        };
        Ok(StoredMessage {
            id: row.id,
            conversation_id: row.conversation_id,
            role: row.role,
            content: row.content,
            timestamp: from_db_time(row.timestamp),
            tokens: row.tokens,
            metadata,
            idempotency_key: row.idempotency_key,
        })
    }
}

/// A message to insert, borrowing its text from the checked message it is made of.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = messages)]
pub struct NewMessageRow<'a> {
    /// Owning conversation.
    pub conversation_id: i64,
    /// Who wrote it.
    pub role: Role,
    /// Text.
    pub content: &'a str,
    /// Save time (UTC).
    pub timestamp: NaiveDateTime,
    /// Token count.
    pub tokens: i32,
    /// JSON object as text, or NULL.
    pub metadata_json: Option<&'a str>,
    /// Idempotency key.
    pub idempotency_key: Option<&'a str>,
}

impl<DB> ToSql<Text, DB> for Role
where
    DB: Backend,
    str: ToSql<Text, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
        self.as_str().to_sql(out)
    }
}

impl<DB> FromSql<Text, DB> for Role
where
    DB: Backend,
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let name = String::from_sql(bytes)?;
        name.parse()
            .map_err(|_| format!("a stored message has the role {name:?}").into())
    }
}
