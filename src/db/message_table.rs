//! Queries on the `messages` table, each written once for every backend, with the
//! backend's own SQL where one needs it (the id of a new row, multi-row inserts).

use diesel::prelude::*;
use diesel::result::QueryResult;
use diesel_async::RunQueryDsl;

use super::conn::{DbConn, insert_returning_id, with_conn};
use super::rows::{MessageRow, NewMessageRow};
use super::schema::messages::dsl::*;

/// Rows per multi-row INSERT on the server backends.
const ROWS_PER_INSERT: usize = 500;

/// Inserts a message and returns its id.
pub async fn insert(conn: &mut DbConn<'_>, row: &NewMessageRow<'_>) -> QueryResult<i64> {
    insert_returning_id!(conn, diesel::insert_into(messages).values(row), id)
}

/// Inserts messages and returns their ids, in the order of `rows`. PostgreSQL takes
/// them in multi-row INSERTs (one round trip per chunk); SQLite, in process, and MySQL,
/// whose multi-row inserts do not report every id, one statement per row.
pub async fn insert_returning_ids(
    conn: &mut DbConn<'_>,
    rows: &[NewMessageRow<'_>],
) -> QueryResult<Vec<i64>> {
    #[cfg(feature = "postgres")]
    if let DbConn::Postgres(c) = conn {
        let mut all = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut ids: Vec<i64> = diesel::insert_into(messages)
                .values(chunk)
                .returning(id)
                .get_results(&mut **c)
                .await?;
            // One INSERT draws its ids from the sequence row by row, in VALUES order.
            ids.sort_unstable();
            all.extend(ids);
        }
        return Ok(all);
    }
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        ids.push(insert(conn, row).await?);
    }
    Ok(ids)
}

/// Inserts many messages whose ids are not needed. The server backends take them in
/// multi-row INSERTs; SQLite, in process, one prepared statement per row (diesel cannot
/// insert several rows at once there).
pub async fn insert_all(conn: &mut DbConn<'_>, rows: &[NewMessageRow<'_>]) -> QueryResult<()> {
    with_conn!(
        conn,
        |c| {
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                diesel::insert_into(messages).values(chunk).execute(c).await?;
            }
            Ok(())
        },
        sqlite: |c| {
            for row in rows {
                diesel::insert_into(messages).values(row).execute(c).await?;
            }
            Ok(())
        }
    )
}

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
