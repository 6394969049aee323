//! Queries on the `messages` table, each written once for every backend.

use diesel::prelude::*;
use diesel::result::QueryResult;
use diesel_async::RunQueryDsl;

use super::models::MessageRow;
use super::schema::messages::dsl::*;
use super::{DbConn, with_conn};

/// Up to `limit` messages of a conversation, newest first, older than `before` if given.
/// Reads the tail of the (conversation_id, id) index: the cost follows `limit`, not the
/// length of the conversation.
pub async fn tail(
    conn: &mut DbConn<'_>,
    conversation: i64,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<MessageRow>> {
    // Without `before`, no `id < ?` bound at all: SQLite (STAT4) re-prepares a statement
    // whose range bound changes, which would cost every read a parse.
    with_conn!(conn, |c| {
        let mut query = messages
            .filter(conversation_id.eq(conversation))
            .order(id.desc())
            .limit(limit)
            .select(MessageRow::as_select())
            .into_boxed();
        if let Some(before) = before {
            query = query.filter(id.lt(before));
        }
        query.load(c).await
    })
}

/// Messages of a conversation after `after_id`, oldest first: a page of an export.
pub async fn page(
    conn: &mut DbConn<'_>,
    conversation: i64,
    after_id: i64,
    limit: i64,
) -> QueryResult<Vec<MessageRow>> {
    with_conn!(conn, |c| messages
        .filter(conversation_id.eq(conversation))
        .filter(id.gt(after_id))
        .order(id)
        .limit(limit)
        .select(MessageRow::as_select())
        .load(c)
        .await)
}

/// Stored messages of the given conversations that carry one of the given idempotency
/// keys (the caller matches pairs).
pub async fn with_keys(
    conn: &mut DbConn<'_>,
    conversations: &[i64],
    keys: &[String],
) -> QueryResult<Vec<MessageRow>> {
    with_conn!(conn, |c| messages
        .filter(conversation_id.eq_any(conversations))
        .filter(idempotency_key.eq_any(keys))
        .select(MessageRow::as_select())
        .load(c)
        .await)
}

/// Deletes every message of the given conversations; returns how many went.
pub async fn delete_in(conn: &mut DbConn<'_>, conversations: &[i64]) -> QueryResult<usize> {
    with_conn!(conn, |c| diesel::delete(
        messages.filter(conversation_id.eq_any(conversations))
    )
    .execute(c)
    .await)
}
