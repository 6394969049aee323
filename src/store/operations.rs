//! The store's operations on conversations, each run on one connection (and, where it
//! writes more than one statement, in one transaction).

use chrono::{Duration, NaiveDateTime};

use super::archive::Archive;
use super::cursor;
use super::requests::{ConversationPage, Obtained};
use crate::db::conn::DbConn;
use crate::db::conversation_table::store_counters;
use crate::db::ledger::{DayActivity, Totals, day_number};
use crate::db::rows::{ConversationRow, NewConversationRow};
use crate::db::{conversation_table, message_table};
use crate::error::StoreError;
use crate::model::{Conversation, DailyStats, DayStats, Stats, StoredMessage};
use crate::transfer::ExportDocument;

/// Conversations deleted per transaction by a cleanup.
pub const CLEANUP_BATCH: i64 = 500;
/// Messages read per query by an export.
const EXPORT_PAGE: i64 = 1_000;

/// The conversation `id`, or `NotFound`.
pub async fn conversation(conn: &mut DbConn<'_>, id: i64) -> Result<Conversation, StoreError> {
    conversation_table::find(conn, id)
        .await?
        .map(Conversation::from)
        .ok_or_else(|| StoreError::conversation_not_found(id))
}

/// The conversation `id` after an update that touched `rows` rows (0: it does not exist).
pub async fn updated(
    conn: &mut DbConn<'_>,
    id: i64,
    rows: usize,
) -> Result<Conversation, StoreError> {
    if rows == 0 {
        return Err(StoreError::conversation_not_found(id));
    }
    conversation(conn, id).await
}

/// Where a listing continues: after conversation `after_id` in the listing's order
/// (last activity, then id, both descending); invalid input when it does not exist.
pub async fn list_position(
    conn: &mut DbConn<'_>,
    after_id: Option<i64>,
) -> Result<Option<(NaiveDateTime, i64)>, StoreError> {
    let Some(id) = after_id else {
        return Ok(None);
    };
    let row = conversation_table::find(conn, id).await?.ok_or_else(|| {
        StoreError::invalid("after_id", format!("conversation {id} does not exist"))
    })?;
    Ok(Some((row.last_activity, row.id)))
}

/// Up to `limit` conversations that `filter` lets through, most recently active first,
/// and where the next page starts.
pub async fn list(
    conn: &mut DbConn<'_>,
    filter: &conversation_table::ListFilter,
    limit: i64,
) -> Result<ConversationPage, StoreError> {
    let rows = conversation_table::list(conn, filter, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let conversations: Vec<Conversation> = rows
        .into_iter()
        .take(limit as usize)
        .map(Conversation::from)
        .collect();
    let last = conversations.last().filter(|_| more);
    Ok(ConversationPage {
        next_after_id: last.map(|c| c.id),
        next_cursor: last.map(|c| cursor::encode(c.last_activity.naive_utc(), c.id)),
        conversations,
    })
}

/// Whether get-or-create with `platform` and `chat_id` would change `row`: a platform
/// that differs, or a chat id given that differs.
pub fn identity_changes(row: &ConversationRow, platform: &str, chat_id: Option<&str>) -> bool {
    row.platform != platform || chat_id.is_some_and(|chat| row.chat_id.as_deref() != Some(chat))
}

/// The conversation of `user_key` with `platform` and, when given, `chat_id` in place of
/// the stored ones, or `None` if it does not exist. It writes only when one of them
/// differs (one UPDATE, which needs no transaction of its own); get-or-create does not
/// move `last_activity` (API.md names the calls that do).
pub async fn touch_existing(
    conn: &mut DbConn<'_>,
    user_key: &str,
    platform: &str,
    chat_id: Option<&str>,
) -> Result<Option<Obtained>, StoreError> {
    let Some(existing) = conversation_table::find_by_user(conn, user_key).await? else {
        return Ok(None);
    };
    if !identity_changes(&existing, platform, chat_id) {
        return Ok(Some(Obtained {
            conversation: existing.into(),
            created: false,
        }));
    }
    conversation_table::set_identity(conn, existing.id, platform, chat_id).await?;
    Ok(Some(Obtained {
        conversation: conversation(conn, existing.id).await?,
        created: false,
    }))
}

/// Creates the conversation of `user_key` (inside the caller's transaction, which
/// counts it); `None` if another process created it meanwhile. Race-free across
/// processes: the UNIQUE user_key decides, and the loser of a race then takes the
/// winner's conversation with [`touch_existing`], after this transaction: on MySQL a
/// lock on the winner's row taken here would deadlock with the other losers.
pub async fn create(
    conn: &mut DbConn<'_>,
    user_key: &str,
    platform: &str,
    chat_id: Option<&str>,
    now: NaiveDateTime,
) -> Result<Option<Obtained>, StoreError> {
    let row = NewConversationRow {
        user_key,
        platform,
        chat_id,
        created_at: now,
        last_activity: now,
        summary: None,
        total_tokens: 0,
        message_count: 0,
        active_persona_id: None,
        summary_covers_through_id: None,
        summary_tokens: 0,
        message_tokens: 0,
        user_messages: 0,
        covered_tokens: 0,
        covered_user_messages: 0,
    };
    match conversation_table::insert_new(conn, &row).await? {
        Some(id) => Ok(Some(Obtained {
            conversation: conversation(conn, id).await?,
            created: true,
        })),
        None => Ok(None),
    }
}

/// Deletes the messages of `id` and resets its counters and summary; returns how many
/// messages went. The conversation row is updated (locked) first, so that a concurrent
/// save either lands before the clear or after it, never half-counted.
pub async fn clear(conn: &mut DbConn<'_>, id: i64, now: NaiveDateTime) -> Result<u64, StoreError> {
    if conversation_table::reset(conn, id, now).await? == 0 {
        return Err(StoreError::conversation_not_found(id));
    }
    Ok(message_table::delete_in(conn, &[id]).await? as u64)
}

/// Deletes conversation `id` and its messages.
pub async fn delete(conn: &mut DbConn<'_>, id: i64) -> Result<(), StoreError> {
    if conversation_table::delete(conn, &[id]).await? == 0 {
        return Err(StoreError::conversation_not_found(id));
    }
    Ok(())
}

/// What one cleanup batch did.
#[derive(Debug, Default, Clone, Copy)]
pub struct CleanupBatch {
    /// Conversations picked as inactive; fewer than [`CLEANUP_BATCH`]: the cleanup is done.
    pub picked: usize,
    /// Conversations deleted (one touched since it was picked survives).
    pub deleted: usize,
}

/// Deletes one batch of conversations inactive since before `cutoff` (inside the
/// caller's transaction). With `archive`, the batch is first appended to the day's
/// archive file and fsynced, so nothing is deleted that is not on disk elsewhere.
pub async fn cleanup_batch(
    conn: &mut DbConn<'_>,
    cutoff: NaiveDateTime,
    archive: Option<&Archive>,
) -> Result<CleanupBatch, StoreError> {
    let ids = conversation_table::inactive_ids(conn, cutoff, CLEANUP_BATCH).await?;
    if ids.is_empty() {
        return Ok(CleanupBatch::default());
    }
    if let Some(archive) = archive {
        archive.append(conn, &ids).await?;
    }
    let deleted = conversation_table::delete_inactive(conn, &ids, cutoff).await?;
    Ok(CleanupBatch {
        picked: ids.len(),
        deleted,
    })
}

/// The cutoff of a cleanup of conversations older than `days` days.
pub fn cleanup_cutoff(now: NaiveDateTime, days: i64) -> NaiveDateTime {
    now - Duration::days(days)
}

/// The guide's statistics, from the store-wide totals (which move in the same
/// transactions as the rows) and one probe of the conversations' message_count index.
pub async fn stats(conn: &mut DbConn<'_>) -> Result<Stats, StoreError> {
    let Totals {
        conversations: count,
        messages,
        tokens,
    } = store_counters::totals(conn).await?;
    let longest = if count > 0 {
        conversation_table::longest(conn).await?
    } else {
        None
    };
    let average = |total: i64| {
        if count == 0 {
            0.0
        } else {
            total as f64 / count as f64
        }
    };
    Ok(Stats {
        total_conversations: count,
        total_messages: messages,
        total_tokens: tokens,
        average_messages_per_conversation: average(messages),
        average_tokens_per_conversation: average(tokens),
        longest_conversation_messages: longest.as_ref().map_or(0, |(_, n)| *n),
        longest_conversation_user: longest.map(|(user, _)| user),
    })
}

/// The activity of the `days` UTC days up to the day of `now`, newest first, days
/// without any as zeros: one read of the daily counters.
pub async fn daily(
    conn: &mut DbConn<'_>,
    now: NaiveDateTime,
    days: i64,
) -> Result<DailyStats, StoreError> {
    let today = day_number(now);
    let first = today - (days - 1);
    let mut written = store_counters::activity(conn, first, today).await?;
    let epoch = chrono::DateTime::UNIX_EPOCH.date_naive();
    let mut entries = Vec::with_capacity(days as usize);
    for day in (first..=today).rev() {
        let activity = match written.last() {
            Some((last, activity)) if *last == day => {
                let activity = *activity;
                written.pop();
                activity
            }
            _ => DayActivity::default(),
        };
        entries.push(DayStats {
            date: (epoch + Duration::days(day)).format("%Y-%m-%d").to_string(),
            messages: activity.messages,
            tokens: activity.tokens,
            active_conversations: activity.active_conversations,
        });
    }
    Ok(DailyStats { days: entries })
}

/// The export document of `row`'s conversation.
pub async fn export(
    conn: &mut DbConn<'_>,
    row: ConversationRow,
) -> Result<ExportDocument, StoreError> {
    let mut all: Vec<StoredMessage> = Vec::new();
    let mut after = 0;
    loop {
        let page = message_table::page(conn, row.id, after, EXPORT_PAGE).await?;
        let full = page.len() as i64 == EXPORT_PAGE;
        for message in page {
            after = message.id;
            all.push(StoredMessage::try_from(message)?);
        }
        if !full {
            break;
        }
    }
    Ok(ExportDocument::new(row.into(), all))
}
