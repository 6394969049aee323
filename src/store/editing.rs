//! Edits of a conversation's messages (truncate, delete one), its summary checkpoint,
//! and forks, each inside the caller's transaction. Each locks the conversation row first, as a
//! group commit does, so that an edit and a batch of saves to the same conversation
//! serialize, and moves the counters and the checkpoint with the rows.

use chrono::NaiveDateTime;
use diesel::result::DatabaseErrorKind;

use super::checked::CheckedCheckpoint;
use super::operations::conversation;
use super::requests::{Cut, Truncated};
use super::validate;
use crate::db::conn::DbConn;
use crate::db::conversation_table::{self, Checkpoint, CheckpointChange, Removal};
use crate::db::message_table::{self, Totals};
use crate::db::rows::{ConversationRow, MessageRow, NewConversationRow};
use crate::error::StoreError;
use crate::model::{Conversation, Role, StoredMessage};

/// The conversation `id`, locked for an edit, or `NotFound`.
async fn locked(conn: &mut DbConn<'_>, id: i64) -> Result<ConversationRow, StoreError> {
    conversation_table::lock(conn, id)
        .await?
        .ok_or_else(|| StoreError::conversation_not_found(id))
}

/// Invalid input in `field` unless message `message` belongs to conversation `id`.
async fn own_message(
    conn: &mut DbConn<'_>,
    id: i64,
    field: &str,
    message: i64,
) -> Result<MessageRow, StoreError> {
    message_table::find_in(conn, id, message)
        .await?
        .ok_or_else(|| {
            StoreError::invalid(
                field,
                format!("message {message} is not a message of conversation {id}"),
            )
        })
}

/// Removes the newest messages of conversation `id` as `cut` says.
pub async fn truncate(
    conn: &mut DbConn<'_>,
    id: i64,
    cut: Cut,
    now: NaiveDateTime,
) -> Result<Truncated, StoreError> {
    let row = locked(conn, id).await?;
    let removed = match cut {
        Cut::After(after) => {
            own_message(conn, id, "after_id", after).await?;
            let limit = validate::MAX_MESSAGES;
            let rows = message_table::page(conn, id, after, limit + 1).await?;
            if rows.len() as i64 > limit {
                return Err(StoreError::invalid(
                    "after_id",
                    format!("would remove more than {limit} messages; truncate in steps"),
                ));
            }
            rows
        }
        Cut::Last(n) => {
            let mut rows = message_table::tail(conn, id, None, None, n).await?;
            rows.reverse();
            rows
        }
    };
    let Some(first) = removed.first().map(|m| m.id) else {
        return Ok(Truncated {
            removed: Vec::new(),
            conversation: row.into(),
        });
    };
    let checkpoint = match row.summary_covers_through_id {
        Some(through) if through >= first => CheckpointChange::Clear,
        _ => CheckpointChange::Keep,
    };
    let removal = Removal {
        messages: removed.len() as i64,
        tokens: removed.iter().map(|m| i64::from(m.tokens)).sum(),
        user_messages: removed.iter().filter(|m| m.role == Role::User).count() as i64,
        checkpoint,
    };
    let deleted = message_table::delete_from(conn, id, first).await?;
    if deleted != removed.len() {
        return Err(StoreError::Internal(format!(
            "a truncate read {} messages to remove and deleted {deleted}",
            removed.len()
        )));
    }
    conversation_table::remove_messages(conn, id, &removal, now).await?;
    Ok(Truncated {
        removed: removed
            .into_iter()
            .map(StoredMessage::try_from)
            .collect::<Result<_, _>>()?,
        conversation: conversation(conn, id).await?,
    })
}

/// Deletes message `message_id` of conversation `id`; `NotFound` when it holds none.
pub async fn delete_message(
    conn: &mut DbConn<'_>,
    id: i64,
    message_id: i64,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let row = locked(conn, id).await?;
    let message = message_table::find_in(conn, id, message_id)
        .await?
        .ok_or_else(|| {
            StoreError::NotFound(format!("message {message_id} of conversation {id}"))
        })?;
    let tokens = i64::from(message.tokens);
    let user_messages = i64::from(message.role == Role::User);
    let checkpoint = match row.summary_covers_through_id {
        Some(through) if through == message_id => CheckpointChange::Clear,
        Some(through) if message_id < through => CheckpointChange::Uncover {
            tokens,
            user_messages,
        },
        _ => CheckpointChange::Keep,
    };
    message_table::delete_one(conn, message_id).await?;
    let removal = Removal {
        messages: 1,
        tokens,
        user_messages,
        checkpoint,
    };
    conversation_table::remove_messages(conn, id, &removal, now).await?;
    Ok(())
}

/// Sets the summary of conversation `id` and, when asked, its checkpoint, whose message
/// must be one of the conversation's. What the checkpoint covers is counted from the
/// messages after it (those a context call reads), not from the older ones.
pub async fn set_summary(
    conn: &mut DbConn<'_>,
    id: i64,
    summary: Option<&str>,
    checkpoint: Option<CheckedCheckpoint>,
    now: NaiveDateTime,
) -> Result<Conversation, StoreError> {
    let row = locked(conn, id).await?;
    let checkpoint = match checkpoint {
        None => None,
        Some(asked) => {
            own_message(conn, id, "covers_through_id", asked.through_id).await?;
            let after = message_table::totals(conn, id, Some(asked.through_id), None).await?;
            Some(Checkpoint {
                through_id: asked.through_id,
                summary_tokens: asked.tokens,
                covered_tokens: row.message_tokens - after.tokens,
                covered_user_messages: row.user_messages - after.user_messages,
            })
        }
    };
    conversation_table::set_summary(conn, id, summary, checkpoint, now).await?;
    conversation(conn, id).await
}

/// A fork checked field by field (see [`ForkConversation`](super::requests::ForkConversation)).
#[derive(Debug, Clone)]
pub struct Fork {
    /// The new conversation's user.
    pub user_key: String,
    /// Its platform; `None`: the source's.
    pub platform: Option<String>,
    /// Its chat id; `None`: the source's.
    pub chat_id: Option<String>,
    /// The newest message to copy; `None`: all.
    pub through_id: Option<i64>,
}

/// Copies conversation `source_id` (up to `fork.through_id`) into a new conversation of
/// `fork.user_key`, its messages in one INSERT ... SELECT; `Conflict` when that user
/// has a conversation.
pub async fn fork(
    conn: &mut DbConn<'_>,
    source_id: i64,
    fork: Fork,
    now: NaiveDateTime,
) -> Result<Conversation, StoreError> {
    let source = locked(conn, source_id).await?;
    let through = fork.through_id;
    if let Some(through) = through {
        own_message(conn, source_id, "through_id", through).await?;
    }
    let conflict = || {
        StoreError::Conflict(format!(
            "user_key {:?} has a conversation already",
            fork.user_key
        ))
    };
    if conversation_table::find_by_user(conn, &fork.user_key)
        .await?
        .is_some()
    {
        return Err(conflict());
    }
    let copied = match through {
        None => Totals {
            messages: source.message_count,
            tokens: source.message_tokens,
            user_messages: source.user_messages,
        },
        Some(through) => message_table::totals(conn, source_id, None, Some(through)).await?,
    };
    let carried = source
        .summary_covers_through_id
        .filter(|checkpoint| through.is_none_or(|through| *checkpoint <= through));
    let summary = source
        .summary
        .as_deref()
        .filter(|_| carried.is_some() || through.is_none());
    let row = NewConversationRow {
        user_key: &fork.user_key,
        platform: fork.platform.as_deref().unwrap_or(&source.platform),
        chat_id: fork.chat_id.as_deref().or(source.chat_id.as_deref()),
        created_at: now,
        last_activity: now,
        summary,
        total_tokens: copied.tokens,
        message_count: copied.messages,
        active_persona_id: source.active_persona_id.as_deref(),
        summary_covers_through_id: None,
        summary_tokens: 0,
        message_tokens: copied.tokens,
        user_messages: copied.user_messages,
        covered_tokens: 0,
        covered_user_messages: 0,
    };
    let id = match conversation_table::insert(conn, &row).await {
        Ok(id) => id,
        Err(diesel::result::Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            return Err(conflict());
        }
        Err(error) => return Err(error.into()),
    };
    let rows = message_table::copy(conn, source_id, id, through).await?;
    if rows as i64 != copied.messages {
        return Err(StoreError::Internal(format!(
            "a fork counted {} messages to copy and copied {rows}",
            copied.messages
        )));
    }
    if let Some(checkpoint) = carried {
        // The copies keep the order of the originals: the checkpoint's copy is at its
        // original's position.
        let before = message_table::totals(conn, source_id, None, Some(checkpoint - 1)).await?;
        let copy = message_table::id_at(conn, id, before.messages)
            .await?
            .ok_or_else(|| StoreError::Internal("a fork lost its checkpoint's copy".into()))?;
        let point = Checkpoint {
            through_id: copy,
            summary_tokens: source.summary_tokens,
            covered_tokens: source.covered_tokens,
            covered_user_messages: source.covered_user_messages,
        };
        conversation_table::set_summary(conn, id, summary, Some(point), now).await?;
    }
    conversation(conn, id).await
}
