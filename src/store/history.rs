//! History windows: which tail of a conversation a `LoadHistory` returns.
//!
//! The tail is read backwards in growing chunks from the (conversation_id, id) index,
//! and reading stops as soon as the window is full, so the cost of a read follows the
//! window, never the length of the conversation. Whatever the limits, a window reads at
//! most [`MAX_WINDOW_MESSAGES`] messages and holds at most [`MAX_WINDOW_BYTES`] of content.

use super::requests::HistoryWindow;
use super::validate;
use crate::db::conn::DbConn;
use crate::db::message_table;
use crate::db::rows::MessageRow;
use crate::error::StoreError;
use crate::model::{Role, StoredMessage};

/// Largest chunk read at once.
const MAX_CHUNK: i64 = 1_000;

/// Most messages one window reads, whatever its limits: a `max_turns` or `max_tokens`
/// window over a conversation without `user` messages stops here (holding the whole
/// turns read so far) instead of reading the conversation to its start.
pub const MAX_WINDOW_MESSAGES: i64 = validate::MAX_MESSAGES;
/// Most content bytes one window holds: it stops at the newest whole turns within
/// them, so that no answer's size follows the data.
pub const MAX_WINDOW_BYTES: usize = 64 << 20;

impl HistoryWindow {
    fn exceeded(&self, messages: i64, turns: i64, tokens: i64, bytes: usize) -> bool {
        self.max_messages.is_some_and(|max| messages > max)
            || self.max_turns.is_some_and(|max| turns > max)
            || self.max_tokens.is_some_and(|max| tokens > max)
            || messages > MAX_WINDOW_MESSAGES
            || bytes > MAX_WINDOW_BYTES
    }

    /// Whether the window may start at `role`. Turn and token windows start on a turn
    /// (a `user` message); a message window may start anywhere but at a tool result,
    /// which would be cut off from its call.
    fn may_start_at(&self, role: Role) -> bool {
        if self.max_turns.is_some() || self.max_tokens.is_some() {
            role == Role::User
        } else {
            role != Role::Tool
        }
    }

    fn first_chunk(&self) -> i64 {
        let guess = match (self.max_messages, self.max_turns) {
            (Some(messages), _) => messages + 1,
            (None, Some(turns)) => turns * 2 + 2,
            (None, None) => 64,
        };
        guess.clamp(1, MAX_CHUNK)
    }
}

/// The messages of `conversation_id` in `window` (checked, with at least one limit),
/// oldest first.
pub async fn load(
    conn: &mut DbConn<'_>,
    conversation_id: i64,
    window: HistoryWindow,
) -> Result<Vec<StoredMessage>, StoreError> {
    Ok(scan(conn, conversation_id, window, None).await?.messages)
}

/// A window read from the tail of a conversation.
#[derive(Debug, Clone)]
pub struct Window {
    /// Its messages, oldest first.
    pub messages: Vec<StoredMessage>,
    /// Whether it holds every message of the range read: nothing was left out.
    pub complete: bool,
}

/// The messages of `conversation_id` in `window` that are newer than `after` (all, when
/// `None`), oldest first. The oldest message of that range starts a window whatever its
/// role.
pub async fn scan(
    conn: &mut DbConn<'_>,
    conversation_id: i64,
    window: HistoryWindow,
    after: Option<i64>,
) -> Result<Window, StoreError> {
    // Newest first while reading; `fit` is how many of them make the best window so far.
    let mut newest_first: Vec<MessageRow> = Vec::new();
    let mut fit = 0;
    let (mut turns, mut tokens, mut bytes) = (0i64, 0i64, 0usize);
    let mut cursor = window.before_id;
    let mut chunk = window.first_chunk();
    let mut complete = false;
    'reading: loop {
        let rows = message_table::tail(conn, conversation_id, cursor, after, chunk).await?;
        let reached_start = (rows.len() as i64) < chunk;
        for row in rows {
            tokens += i64::from(row.tokens);
            bytes += row.content.len();
            if row.role == Role::User {
                turns += 1;
            }
            if window.exceeded(newest_first.len() as i64 + 1, turns, tokens, bytes) {
                break 'reading;
            }
            cursor = Some(row.id);
            let starts_window = window.may_start_at(row.role);
            newest_first.push(row);
            if starts_window {
                fit = newest_first.len();
            }
        }
        if reached_start {
            fit = newest_first.len();
            complete = true;
            break;
        }
        chunk = (chunk * 2).min(MAX_CHUNK);
    }
    newest_first.truncate(fit);
    newest_first.reverse();
    let messages = newest_first
        .into_iter()
        .map(StoredMessage::try_from)
        .collect::<Result<_, _>>()?;
    Ok(Window { messages, complete })
}
