//! Queries on the `messages` table, each written once for every backend, with the
//! backend's own SQL where one needs it (the id of a new row, multi-row inserts).

use diesel::prelude::*;
use diesel::result::QueryResult;
use diesel_async::RunQueryDsl;

#[cfg(any(feature = "postgres", feature = "mysql"))]
use super::conn::Link;
use super::conn::{DbConn, insert_returning_id, with_conn};
use super::dialect;
use super::rows::{MessageRow, NewMessageRow};
use super::schema::messages::dsl::*;

/// Rows per multi-row INSERT on the server backends.
const ROWS_PER_INSERT: usize = 500;

/// Inserts a message and returns its id.
pub async fn insert(conn: &mut DbConn<'_>, row: &NewMessageRow<'_>) -> QueryResult<i64> {
    insert_returning_id!(conn, diesel::insert_into(messages).values(row), id)
}

/// Inserts messages and returns their ids, in the order of `rows`. PostgreSQL and
/// MariaDB take them in multi-row INSERTs that return the ids (one round trip per
/// chunk); SQLite, in process, one prepared statement per row, and MySQL, whose
/// multi-row inserts do not report every id, one INSERT and `LAST_INSERT_ID()` per row.
pub async fn insert_returning_ids(
    conn: &mut DbConn<'_>,
    rows: &[NewMessageRow<'_>],
) -> QueryResult<Vec<i64>> {
    let returning = conn.returns_inserted_ids;
    let mut all = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let insert = diesel::insert_into(messages).values(chunk);
        let mut ids: Vec<i64> = match &mut conn.link {
            #[cfg(feature = "postgres")]
            Link::Postgres(c) => insert.returning(id).get_results(&mut **c).await?,
            #[cfg(feature = "mysql")]
            Link::Mysql(c) if returning => ReturningIds(insert).load(&mut **c).await?,
            _ => {
                for row in chunk {
                    all.push(self::insert(conn, row).await?);
                }
                continue;
            }
        };
        // One INSERT draws its ids row by row, in VALUES order.
        ids.sort_unstable();
        if ids.len() != chunk.len() {
            return Err(diesel::result::Error::DeserializationError(
                format!("{} rows inserted, {} ids returned", chunk.len(), ids.len()).into(),
            ));
        }
        all.extend(ids);
    }
    Ok(all)
}

/// `INSERT ... RETURNING id` for MariaDB, which diesel's MySQL backend does not write:
/// the wrapped INSERT, then the clause.
#[cfg(feature = "mysql")]
#[derive(diesel::query_builder::QueryId)]
struct ReturningIds<I>(I);

#[cfg(feature = "mysql")]
impl<I> diesel::query_builder::QueryFragment<diesel::mysql::Mysql> for ReturningIds<I>
where
    I: diesel::query_builder::QueryFragment<diesel::mysql::Mysql>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::mysql::Mysql>,
    ) -> QueryResult<()> {
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(" RETURNING id");
        Ok(())
    }
}

#[cfg(feature = "mysql")]
impl<I> diesel::query_builder::Query for ReturningIds<I> {
    type SqlType = diesel::sql_types::BigInt;
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

/// Up to `limit` messages of a conversation, newest first, older than `before` and newer
/// than `after` if given. Reads the tail of the (conversation_id, id) index: the cost
/// follows `limit`, not the length of the conversation.
pub async fn tail(
    conn: &mut DbConn<'_>,
    conversation: i64,
    before: Option<i64>,
    after: Option<i64>,
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
        if let Some(after) = after {
            query = query.filter(id.gt(after));
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

/// The message `message` if it belongs to `conversation`.
pub async fn find_in(
    conn: &mut DbConn<'_>,
    conversation: i64,
    message: i64,
) -> QueryResult<Option<MessageRow>> {
    with_conn!(conn, |c| messages
        .filter(id.eq(message))
        .filter(conversation_id.eq(conversation))
        .select(MessageRow::as_select())
        .first(c)
        .await
        .optional())
}

/// Counts over a range of a conversation's messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Queryable)]
pub struct Totals {
    /// Messages.
    pub messages: i64,
    /// Their tokens.
    pub tokens: i64,
    /// Their `user` messages.
    pub user_messages: i64,
}

/// Message count, tokens and `user` messages of a conversation's messages newer than
/// `after` (all, when `None`) and at most `through` (no bound, when `None`). Reads the
/// range of the (conversation_id, id) index it counts.
pub async fn totals(
    conn: &mut DbConn<'_>,
    conversation: i64,
    after: Option<i64>,
    through: Option<i64>,
) -> QueryResult<Totals> {
    let backend = conn.backend();
    with_conn!(conn, |c| {
        let mut query = messages
            .filter(conversation_id.eq(conversation))
            .select((
                diesel::dsl::count_star(),
                dialect::sum_bigint(backend, "tokens"),
                dialect::sum_bigint(backend, "CASE WHEN role = 'user' THEN 1 ELSE 0 END"),
            ))
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(id.gt(after));
        }
        if let Some(through) = through {
            query = query.filter(id.le(through));
        }
        query.get_result(c).await
    })
}

/// Deletes the messages of `conversation` from the id `from` on; returns how many went.
pub async fn delete_from(
    conn: &mut DbConn<'_>,
    conversation: i64,
    from: i64,
) -> QueryResult<usize> {
    with_conn!(conn, |c| diesel::delete(
        messages
            .filter(conversation_id.eq(conversation))
            .filter(id.ge(from))
    )
    .execute(c)
    .await)
}

/// Deletes one message; returns how many went (0 or 1).
pub async fn delete_one(conn: &mut DbConn<'_>, message: i64) -> QueryResult<usize> {
    with_conn!(conn, |c| diesel::delete(messages.find(message))
        .execute(c)
        .await)
}

/// Copies the messages of `from` up to `through` (all, when `None`) into `to`, in
/// their order, in one INSERT ... SELECT: roles, contents, times, tokens, metadata and
/// idempotency keys. Returns how many were copied.
pub async fn copy(
    conn: &mut DbConn<'_>,
    from: i64,
    to: i64,
    through: Option<i64>,
) -> QueryResult<usize> {
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    with_conn!(conn, |c| {
        let mut source = messages
            .filter(conversation_id.eq(from))
            .order(id)
            .select((
                sql::<BigInt>("").bind::<BigInt, _>(to),
                role,
                content,
                timestamp,
                tokens,
                metadata_json,
                idempotency_key,
            ))
            .into_boxed();
        if let Some(through) = through {
            source = source.filter(id.le(through));
        }
        diesel::insert_into(messages)
            .values(source)
            .into_columns((
                conversation_id,
                role,
                content,
                timestamp,
                tokens,
                metadata_json,
                idempotency_key,
            ))
            .execute(c)
            .await
    })
}

/// The id of the message at 0-based `position` in `conversation`, by id.
pub async fn id_at(
    conn: &mut DbConn<'_>,
    conversation: i64,
    position: i64,
) -> QueryResult<Option<i64>> {
    with_conn!(conn, |c| messages
        .filter(conversation_id.eq(conversation))
        .order(id)
        .offset(position)
        .select(id)
        .first(c)
        .await
        .optional())
}

/// Deletes every message of the given conversations; returns how many went.
pub async fn delete_in(conn: &mut DbConn<'_>, conversations: &[i64]) -> QueryResult<usize> {
    with_conn!(conn, |c| diesel::delete(
        messages.filter(conversation_id.eq_any(conversations))
    )
    .execute(c)
    .await)
}
