//! The records the store hands out (conversations, messages, statistics) and their JSON
//! form, which follows the conversation-store guide, with its timestamps.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// Who wrote a message.
// Stored as its name (`user`, ...) in a text column (see `db::rows`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The person talking to the bot. A `user` message starts a turn.
    User,
    /// The bot's answer, possibly a tool call.
    Assistant,
    /// Instructions to the model.
    System,
    /// The result of a tool call; it belongs to the turn of the call.
    Tool,
}

impl Role {
    /// The name stored in the database and shown in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
            Role::Tool => "tool",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Role::User),
            "assistant" => Ok(Role::Assistant),
            "system" => Ok(Role::System),
            "tool" => Ok(Role::Tool),
            other => Err(StoreError::invalid(
                "role",
                format!("{other:?} is not one of user, assistant, system, tool"),
            )),
        }
    }
}

/// A conversation with one user: its identity, counters, summary and persona.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Conversation {
    /// Primary key.
    pub id: i64,
    /// Unique user identifier, e.g. `feishu:group:user123`.
    pub user_key: String,
    /// Platform name (feishu, qq, slack, ...).
    pub platform: String,
    /// Chat or group id, if any.
    pub chat_id: Option<String>,
    /// When the conversation was created (UTC).
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last time a message, usage, summary or persona was recorded (UTC).
    #[serde(with = "timestamp")]
    pub last_activity: DateTime<Utc>,
    /// Optional summary of the conversation so far.
    pub summary: Option<String>,
    /// Tokens used: the messages' tokens plus any usage recorded separately.
    pub total_tokens: i64,
    /// Number of messages stored.
    pub message_count: i64,
    /// The persona the bot currently plays in this conversation.
    pub active_persona_id: Option<String>,
    /// The summary's checkpoint: the newest message the summary stands for; `null`
    /// while none is set.
    #[serde(default)]
    pub summary_covers_through_id: Option<i64>,
    /// Tokens of the summary while a checkpoint is set, else 0.
    #[serde(default)]
    pub summary_tokens: i64,
}

/// One stored message.
// Named `Message` in the API's JSON schema, as clients generated from it know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Message)]
pub struct StoredMessage {
    /// Primary key; ids grow with the order messages were saved.
    pub id: i64,
    /// The conversation it belongs to.
    pub conversation_id: i64,
    /// Who wrote it.
    pub role: Role,
    /// The text (for tool messages often JSON).
    pub content: String,
    /// When it was saved (UTC).
    #[serde(with = "timestamp")]
    pub timestamp: DateTime<Utc>,
    /// Token count.
    pub tokens: i32,
    /// A JSON object: tool calls, model, finish reason... `{}` when none.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The caller's key that made the save idempotent, if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// The guide's statistics over the whole store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Stats {
    /// Number of conversations.
    pub total_conversations: i64,
    /// Number of messages in all conversations.
    pub total_messages: i64,
    /// Tokens used in all conversations.
    pub total_tokens: i64,
    /// `total_messages / total_conversations`, 0 on an empty store.
    pub average_messages_per_conversation: f64,
    /// `total_tokens / total_conversations`, 0 on an empty store.
    pub average_tokens_per_conversation: f64,
    /// Message count of the longest conversation, 0 on an empty store.
    pub longest_conversation_messages: i64,
    /// The user of the longest conversation, `null` on an empty store.
    pub longest_conversation_user: Option<String>,
}

/// What `GetDailyStats` answers: the activity of each UTC day of the window, newest
/// first, days without any included as zeros.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DailyStats {
    /// One entry per day, today first.
    pub days: Vec<DayStats>,
}

/// What was written on one UTC day. Activity, as it happened: later edits, deletes and
/// cleanups do not change a past day, and imports add to no day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DayStats {
    /// The day, `YYYY-MM-DD` (UTC).
    #[schema(format = Date, example = "2026-12-02")]
    pub date: String,
    /// Messages saved that day.
    pub messages: i64,
    /// Tokens of those messages, and usage recorded that day.
    pub tokens: i64,
    /// Conversations with a message saved or usage recorded that day.
    pub active_conversations: i64,
}

/// What `CheckTokenBudget` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BudgetStatus {
    /// The user asked about.
    pub user_key: String,
    /// Tokens used by the user's conversation (0 when there is none).
    pub total_tokens: i64,
    /// The budget asked about.
    pub budget: i64,
    /// `total_tokens < budget`.
    pub within_budget: bool,
}

/// The largest integer every JSON client reads exactly, 2^53 - 1 (JavaScript's
/// `Number.MAX_SAFE_INTEGER`): no token figure or counter goes past it. A request or
/// import naming a larger one is refused; sums and counters stop at it.
pub const MAX_EXACT_INTEGER: i64 = (1 << 53) - 1;

/// The current time, cut to the microsecond precision every backend stores.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Converts a stored (naive, UTC) timestamp.
pub fn from_db_time(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// Timestamps in JSON: RFC 3339, UTC, `Z`, always six fractional digits.
pub mod timestamp {
    use chrono::{DateTime, Datelike, NaiveDateTime, SecondsFormat, SubsecRound, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Formats `t` as `2025-01-08T10:00:00.123456Z` (a leap second as `:60.5...`).
    pub fn format(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    /// Serializes a timestamp in the contract's format.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    /// Reads any timestamp [`parse`] accepts.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }

    /// Reads a timestamp: RFC 3339 with `Z` or an offset, or a naive ISO 8601 time (UTC
    /// assumed) with `T` or a space, as Python's `isoformat()` writes it. Kept to the
    /// microsecond. Any year chrono reads; [`parse`] is the one to use.
    fn parse_any(text: &str) -> Result<DateTime<Utc>, String> {
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

    /// [`parse_any`], kept to the years 0001 to 9999: those sort the same as text and
    /// as dates on every backend (a year of five digits sorts before `2025` as text).
    pub fn parse(text: &str) -> Result<DateTime<Utc>, String> {
        let t = parse_any(text)?;
        if !(1..=9999).contains(&t.year()) {
            return Err(format!("{text:?} is outside the years 0001 to 9999 (UTC)"));
        }
        Ok(t)
    }

    /// An optional timestamp in the same format (`null` when absent).
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        /// Serializes `Some` in the contract's format, `None` as `null`.
        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        /// Reads `null` or any timestamp [`super::parse`] accepts.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|text| super::parse(&text).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::timestamp;
    use chrono::{DateTime, Utc};

    #[test]
    fn timestamps_show_six_digits_and_z() {
        let t: DateTime<Utc> = "2025-01-08T10:00:00.123456Z".parse().unwrap();
        assert_eq!(timestamp::format(&t), "2025-01-08T10:00:00.123456Z");
        let t: DateTime<Utc> = "0999-12-31T23:59:09Z".parse().unwrap();
        assert_eq!(timestamp::format(&t), "0999-12-31T23:59:09.000000Z");
    }

    #[test]
    fn timestamps_keep_to_the_years_0001_to_9999() {
        assert!(timestamp::parse("9999-12-31T23:59:59.999999Z").is_ok());
        assert!(timestamp::parse("0001-01-01T00:00:00").is_ok());
        for outside in [
            "+10000-01-01T00:00:00",
            "0000-12-31T23:59:59Z",
            "9999-12-31T23:59:59-01:00",
        ] {
            let error = timestamp::parse(outside).unwrap_err();
            assert!(error.contains("0001 to 9999"), "{outside}: {error}");
        }
    }
}
