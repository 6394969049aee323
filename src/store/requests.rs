//! The requests a [`StoreActor`](crate::StoreActor) answers (actix messages): one per
//! operation of the conversation-store guide, each answered with `Result<T, StoreError>`.

use actix::Message;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::model::{BudgetStatus, Conversation, DailyStats, Role, Stats, StoredMessage};
use crate::transfer::ExportDocument;

/// Gets the conversation of `user_key`, creating it if there is none. On an existing
/// one, records the activity, replaces the platform and, when given, the chat id.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Obtained, StoreError>")]
pub struct GetOrCreate {
    /// Unique user identifier (1 to 255 characters).
    pub user_key: String,
    /// Platform name (1 to 50 characters).
    pub platform: String,
    /// Chat or group id; `None` keeps the stored one.
    pub chat_id: Option<String>,
}

/// A conversation, and whether this call created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obtained {
    /// The conversation as stored now.
    pub conversation: Conversation,
    /// `true` if this call created it (or, for an import, replaced it).
    pub created: bool,
}

/// Gets one conversation by id.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Conversation, StoreError>")]
pub struct GetConversation {
    /// The conversation.
    pub conversation_id: i64,
}

/// Gets the conversation of a user, if there is one (user keys are unique, so it is
/// also the most recent one).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Option<Conversation>, StoreError>")]
pub struct GetConversationByUser {
    /// The user.
    pub user_key: String,
}

/// Lists conversations, most recently active first, a page at a time (also the query of
/// `GET /v1/conversations`).
#[derive(Debug, Clone, Default, Deserialize, Message, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[rtype(result = "Result<ConversationPage, StoreError>")]
pub struct ListConversations {
    /// Only this user's conversation.
    pub user_key: Option<String>,
    /// Only users whose key starts with this (compared exactly, case included; an
    /// addition to the contract, for the console's search).
    #[param(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub user_key_prefix: Option<String>,
    /// Only this platform's conversations.
    pub platform: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// The previous page's `next_after_id`: continues after that conversation's current
    /// place in the order (which moves when it gets a message; 400 when it is gone).
    #[param(minimum = 1)]
    pub after_id: Option<i64>,
    /// The previous page's `next_cursor`, an opaque token of the position the page
    /// ended at: the next page neither repeats nor skips a conversation that did not
    /// move, whatever happens to the last one shown (a new message, a delete). Not
    /// together with `after_id`.
    #[param(max_length = 64)]
    pub cursor: Option<String>,
}

/// One page of [`ListConversations`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConversationPage {
    /// The conversations, most recently active first.
    pub conversations: Vec<Conversation>,
    /// Pass as `after_id` for the next page; `None` on the last page.
    pub next_after_id: Option<i64>,
    /// Pass as `cursor` for the next page (stable when rows move between pages); `None`
    /// on the last page.
    pub next_cursor: Option<String>,
}

/// A message to save.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewMessage {
    /// Who wrote it.
    pub role: Role,
    /// The text, at most the configured size (1 MiB by default).
    pub content: String,
    /// Token count, 0 to 2^31-1.
    #[serde(default)]
    pub tokens: i64,
    /// A JSON object (tool calls, model, ...) or `None`.
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    /// The platform's message id: a second save with the same key in the same
    /// conversation returns the stored message and changes nothing.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

impl NewMessage {
    /// A message with no tokens, metadata or idempotency key.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        NewMessage {
            role,
            content: content.into(),
            tokens: 0,
            metadata: None,
            idempotency_key: None,
        }
    }

    /// Sets the token count.
    pub fn tokens(mut self, tokens: i64) -> Self {
        self.tokens = tokens;
        self
    }

    /// Sets the metadata.
    pub fn metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Sets the idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// Saves one message; counters and last activity move in the same transaction.
/// Concurrent saves are committed together (group commit); the answer comes after the
/// commit.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<SavedMessage, StoreError>")]
pub struct SaveMessage {
    /// The conversation.
    pub conversation_id: i64,
    /// The message.
    pub message: NewMessage,
}

/// A saved message, and whether this call stored it (`false`: the idempotency key was
/// already saved, and this is the stored message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedMessage {
    /// The message as stored.
    pub message: StoredMessage,
    /// `false` when an earlier save with the same idempotency key is returned.
    pub created: bool,
}

/// Saves several messages of one conversation, all or nothing (a tool call and its
/// result land together).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Vec<SavedMessage>, StoreError>")]
pub struct SaveMessages {
    /// The conversation.
    pub conversation_id: i64,
    /// The messages, in order (1 to 1000).
    pub messages: Vec<NewMessage>,
}

/// Loads the recent history of a conversation, oldest message first.
#[derive(Debug, Clone, Default, Message)]
#[rtype(result = "Result<Vec<StoredMessage>, StoreError>")]
pub struct LoadHistory {
    /// The conversation.
    pub conversation_id: i64,
    /// Which messages.
    pub window: HistoryWindow,
}

/// Which tail of a conversation a [`LoadHistory`] reads (also the query of `GET
/// .../history`). When several limits are given, the smallest window wins; with none,
/// the last `max_history_turns` turns (config, 20). A turn starts at a `user` message and
/// holds every message after it up to the next one, so a tool result stays with its
/// call; a message window leaves out a leading tool result whose call falls outside.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryWindow {
    /// At most this many turns (a turn starts at a `user` message), 1 to 10000.
    #[param(minimum = 1, maximum = 10_000)]
    pub max_turns: Option<i64>,
    /// At most this many messages, 1 to 100000.
    #[param(minimum = 1, maximum = 100_000)]
    pub max_messages: Option<i64>,
    /// The newest whole turns whose tokens add up to at most this, 1 to 10^9.
    #[param(minimum = 1, maximum = 1_000_000_000)]
    pub max_tokens: Option<i64>,
    /// Only messages older than this message id (pages back).
    #[param(minimum = 1)]
    pub before_id: Option<i64>,
}

/// Adds token usage not tied to a message (the guide's `update_conversation_stats`).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Conversation, StoreError>")]
pub struct UpdateConversationStats {
    /// The conversation.
    pub conversation_id: i64,
    /// Tokens to add (>= 0).
    pub tokens_used: i64,
}

/// Deletes every message of a conversation, resets its counters and summary, keeps the
/// record. Answers how many messages went.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<u64, StoreError>")]
pub struct ClearConversation {
    /// The conversation.
    pub conversation_id: i64,
}

/// Deletes a conversation and its messages.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), StoreError>")]
pub struct DeleteConversation {
    /// The conversation.
    pub conversation_id: i64,
}

/// Deletes conversations inactive for more than `days` days, in bounded batches so that
/// writers are never held up for long. Answers how many were deleted.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<u64, StoreError>")]
pub struct CleanupOldConversations {
    /// Age limit in days (0 to 36500).
    pub days: i64,
}

/// Exports one conversation in the guide's JSON document format.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<ExportDocument, StoreError>")]
pub struct ExportConversation {
    /// The conversation.
    pub conversation_id: i64,
}

/// Exports the conversations after `after_id` (by id), `limit` at a time: the building
/// block of a streamed export of everything in constant memory.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Vec<ExportDocument>, StoreError>")]
pub struct ExportPage {
    /// Start after this conversation id (0 for the first page).
    pub after_id: i64,
    /// Conversations per page (1 to 1000).
    pub limit: i64,
}

/// Streams an export, a page of messages at a time, whatever the length of the
/// conversations: the answer's chunks make one export document (exactly the bytes of
/// the serialized [`ExportDocument`]), or every conversation's, by id, one a line
/// (NDJSON). A document larger than `limits.max_line_bytes` (which import would not
/// read back) ends the stream with an invalid `limits.max_line_bytes`.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<crate::store::ExportStream, StoreError>")]
pub struct StreamExport {
    /// What to export.
    pub scope: ExportScope,
}

/// What a [`StreamExport`] exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportScope {
    /// One conversation's document.
    Conversation(i64),
    /// Every conversation's document, one a line.
    All,
}

/// What an import does when the user key already has a conversation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum OnConflict {
    /// Keep the existing conversation and return it.
    #[default]
    Skip,
    /// Delete the existing conversation and import the document in its place.
    Replace,
}

/// Imports an export document (this store's or the Python original's), atomically: on
/// any invalid field nothing is written.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Obtained, StoreError>")]
pub struct ImportConversation {
    /// The document, as parsed JSON.
    pub document: serde_json::Value,
    /// What to do when the user key exists.
    pub on_conflict: OnConflict,
}

/// The guide's statistics.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Stats, StoreError>")]
pub struct GetStats;

/// The activity of the last `days` UTC days, today included (1 to
/// [`MAX_DAILY_DAYS`](crate::store::validate::MAX_DAILY_DAYS)).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<DailyStats, StoreError>")]
pub struct GetDailyStats {
    /// How many days.
    pub days: i64,
}

/// Runs the backend's maintenance (SQLite: VACUUM, optimize, WAL checkpoint;
/// PostgreSQL: VACUUM ANALYZE; MySQL: OPTIMIZE/ANALYZE TABLE).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<MaintenanceReport, StoreError>")]
pub struct Vacuum;

/// What [`Vacuum`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MaintenanceReport {
    /// The backend maintained.
    pub backend: String,
    /// How long it took.
    pub duration_ms: u64,
}

/// Sets or clears a conversation's summary and its checkpoint. With
/// `covers_through_id`, the summary stands for every message up to that one (a message
/// of this conversation), and a context call starts after it; `tokens` is what the
/// summary itself costs. `None` as the summary clears it and its checkpoint.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Conversation, StoreError>")]
pub struct SetSummary {
    /// The conversation.
    pub conversation_id: i64,
    /// The summary; `None` clears it.
    pub summary: Option<String>,
    /// The newest message the summary stands for; `None`: no checkpoint.
    pub covers_through_id: Option<i64>,
    /// The summary's token count (0 to 2^31-1; only with `covers_through_id`).
    pub tokens: Option<i64>,
}

/// Sets or clears a conversation's active persona.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Conversation, StoreError>")]
pub struct SetActivePersona {
    /// The conversation.
    pub conversation_id: i64,
    /// The persona; `None` clears it.
    pub persona_id: Option<String>,
}

/// Gets a conversation's active persona.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Option<String>, StoreError>")]
pub struct GetActivePersona {
    /// The conversation.
    pub conversation_id: i64,
}

/// Whether a user is within a token budget (no conversation: 0 tokens used).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<BudgetStatus, StoreError>")]
pub struct CheckTokenBudget {
    /// The user.
    pub user_key: String,
    /// The budget (>= 0).
    pub budget: i64,
}

/// Where a [`Truncate`] cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Remove every message newer than this message id (one of the conversation's).
    After(i64),
    /// Remove the newest n messages (1 to 100000; fewer when the conversation holds
    /// fewer).
    Last(i64),
}

/// Removes the newest messages of a conversation (the undo of a turn, a regenerated
/// answer, a session's pop). Counters move in the same transaction; a checkpoint whose
/// message goes is cleared.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Truncated, StoreError>")]
pub struct Truncate {
    /// The conversation.
    pub conversation_id: i64,
    /// Where to cut.
    pub cut: Cut,
}

/// What a [`Truncate`] removed, and the conversation after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Truncated {
    /// The removed messages, oldest first.
    pub removed: Vec<StoredMessage>,
    /// The conversation as stored now.
    pub conversation: Conversation,
}

/// Deletes one message of a conversation (moderation, a user's request to forget it).
/// Counters move in the same transaction; a checkpoint on it is cleared. `NotFound`
/// when the conversation holds no such message.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), StoreError>")]
pub struct DeleteMessage {
    /// The conversation.
    pub conversation_id: i64,
    /// The message.
    pub message_id: i64,
}

/// Copies a conversation into a new one (a branch to try another path): a new user key,
/// the source's platform and chat id unless given, and copies of its messages up to
/// `through_id` (all, when `None`) with their roles, contents, tokens, metadata,
/// idempotency keys and times, in one statement. The summary and its checkpoint come
/// along when the checkpoint lies within the copies (a summary without a checkpoint
/// when every message is copied), and so does the persona. The fork's `total_tokens`
/// are its messages' tokens (usage not tied to a message stays with the source).
/// `Conflict` when the user key has a conversation.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Conversation, StoreError>")]
pub struct ForkConversation {
    /// The conversation to copy.
    pub conversation_id: i64,
    /// The new conversation's user (1 to 255 characters, not in use).
    pub user_key: String,
    /// Its platform; `None`: the source's.
    pub platform: Option<String>,
    /// Its chat id; `None`: the source's.
    pub chat_id: Option<String>,
    /// The newest message to copy (one of the source's); `None`: all.
    pub through_id: Option<i64>,
}

/// The context of a turn: what a bot sends its model, in one call.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<TurnContext, StoreError>")]
pub struct LoadContext {
    /// The conversation.
    pub conversation_id: i64,
    /// How much of it.
    pub budget: ContextBudget,
}

/// How large a context a [`LoadContext`] returns (also the query of `GET
/// .../context`). With neither limit, the last `max_history_turns` turns (config, 20).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContextBudget {
    /// The model's budget: the summary's tokens plus the returned messages' tokens stay
    /// within it. 1 to 10^9.
    #[param(minimum = 1, maximum = 1_000_000_000)]
    pub max_tokens: Option<i64>,
    /// At most this many turns, 1 to 10000.
    #[param(minimum = 1, maximum = 10_000)]
    pub max_turns: Option<i64>,
}

/// What a [`LoadContext`] answers: the persona, the summary when a checkpoint is set,
/// and, oldest first, the newest whole turns after the checkpoint (all turns when none
/// is set) that fit the budget. `omitted_turns` and `omitted_tokens` count the whole
/// turns after the checkpoint that did not fit: when they are not 0, summarize them and
/// set a new checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Context)]
pub struct TurnContext {
    /// The conversation.
    pub conversation_id: i64,
    /// The persona the bot plays.
    pub persona_id: Option<String>,
    /// The summary, when a checkpoint is set.
    pub summary: Option<String>,
    /// The checkpoint: the newest message the summary stands for.
    pub summary_covers_through_id: Option<i64>,
    /// The summary's tokens (0 without a checkpoint).
    pub summary_tokens: i64,
    /// The newest whole turns after the checkpoint that fit, oldest first.
    pub messages: Vec<StoredMessage>,
    /// Whole turns after the checkpoint left out.
    pub omitted_turns: i64,
    /// Their tokens.
    pub omitted_tokens: i64,
    /// `summary_tokens` plus the returned messages' tokens.
    pub total_tokens: i64,
}

/// Asks the store whether it answers, touching no database: the watchdog's probe (the
/// process and its actor are alive, whether the database is or not). Answered with why
/// the database is not ready yet, `None` once it is.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Option<String>")]
pub struct Ping;

/// Stops the store once every queued save is committed and answered.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Shutdown;
