//! The context of a turn (`LoadContext`): the persona, the summary with its checkpoint,
//! and the newest whole turns after the checkpoint that fit the budget, read on one
//! snapshot. The window is read from the tail, as a history window is; what it leaves
//! out is told by the conversation's counters (its messages' tokens and turns, and
//! those up to the checkpoint), so the cost follows the window, not the conversation.

use super::history;
use super::requests::{ContextBudget, HistoryWindow, TurnContext};
use crate::db::conn::DbConn;
use crate::db::{conversation_table, message_table};
use crate::error::StoreError;
use crate::model::Role;

/// The context of conversation `id` within `budget` (checked); with no limit at all,
/// the last `default_turns` turns.
pub async fn load(
    conn: &mut DbConn<'_>,
    id: i64,
    budget: ContextBudget,
    default_turns: i64,
) -> Result<TurnContext, StoreError> {
    conn.read_snapshot(async |c: &mut DbConn<'_>| {
        let row = conversation_table::find(c, id)
            .await?
            .ok_or_else(|| StoreError::conversation_not_found(id))?;
        let checkpoint = row.summary_covers_through_id;
        let summary_tokens = if checkpoint.is_some() {
            row.summary_tokens
        } else {
            0
        };
        let window = HistoryWindow {
            max_turns: match (budget.max_turns, budget.max_tokens) {
                (None, None) => Some(default_turns),
                (turns, _) => turns,
            },
            max_tokens: budget.max_tokens.map(|max| max - summary_tokens),
            max_messages: None,
            before_id: None,
        };
        let window = history::scan(c, id, window, checkpoint).await?;
        let window_tokens: i64 = window.messages.iter().map(|m| i64::from(m.tokens)).sum();
        let (omitted_turns, omitted_tokens) = if window.complete {
            (0, 0)
        } else {
            // Left out: everything after the checkpoint but the window, which starts at a
            // turn. Messages before the first user message after the checkpoint (the
            // end of a turn it cut) make a turn of their own.
            let window_turns = window
                .messages
                .iter()
                .filter(|m| m.role == Role::User)
                .count() as i64;
            let first = message_table::page(c, id, checkpoint.unwrap_or(0), 1).await?;
            let leading = i64::from(first.first().is_some_and(|m| m.role != Role::User));
            (
                row.user_messages - row.covered_user_messages - window_turns + leading,
                row.message_tokens - row.covered_tokens - window_tokens,
            )
        };
        Ok(TurnContext {
            conversation_id: id,
            persona_id: row.active_persona_id,
            summary: checkpoint.and(row.summary),
            summary_covers_through_id: checkpoint,
            summary_tokens,
            messages: window.messages,
            omitted_turns,
            omitted_tokens,
            total_tokens: summary_tokens + window_tokens,
        })
    })
    .await
}
