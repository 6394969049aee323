//! Queries on the `conversations` table, each written once for every backend, with the
//! backend's own SQL from [`dialect`] where one needs it. Every change to a counter
//! (`message_count`, `total_tokens`) or to the set of conversations goes through a
//! function here, which records it in the connection's ledger; [`store_counters`]
//! writes the ledger to the store-wide totals and the daily activity.

pub mod store_counters;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::QueryResult;
use diesel::sql_types::{BigInt, Timestamp};
use diesel_async::RunQueryDsl;

use super::conn::{DbConn, insert_returning_id, with_conn};
use super::dialect;
use super::ledger::{DayActivity, day_number};
use super::prepared::Prepared;
use super::rows::{ConversationRow, NewConversationRow};
use super::schema::conversations::dsl::*;
use super::target::Backend;
use crate::model::MAX_EXACT_INTEGER;

/// Conversations whose counters one UPDATE moves.
const COUNTERS_PER_UPDATE: usize = 500;

/// Inserts a conversation and returns its id.
pub async fn insert(conn: &mut DbConn<'_>, row: &NewConversationRow<'_>) -> QueryResult<i64> {
    let new_id = insert_returning_id!(conn, diesel::insert_into(conversations).values(row), id)?;
    record_new(conn, row);
    Ok(new_id)
}

/// Inserts a conversation unless its user_key exists; its id, or `None` if it existed.
/// A conflict is no error, so the transaction goes on (PostgreSQL would abort it).
pub async fn insert_new(
    conn: &mut DbConn<'_>,
    row: &NewConversationRow<'_>,
) -> QueryResult<Option<i64>> {
    let new_id = with_conn!(
        conn,
        |c| diesel::insert_into(conversations)
            .values(row)
            .on_conflict_do_nothing()
            .returning(id)
            .get_result(c)
            .await
            .optional(),
        mysql: |c| {
            let inserted = diesel::insert_or_ignore_into(conversations)
                .values(row)
                .execute(c)
                .await?;
            if inserted == 0 {
                return Ok(None);
            }
            diesel::select(dialect::last_insert_id())
                .get_result(c)
                .await
                .map(Some)
        }
    )?;
    if new_id.is_some() {
        record_new(conn, row);
    }
    Ok(new_id)
}

fn record_new(conn: &mut DbConn<'_>, row: &NewConversationRow<'_>) {
    let totals = &mut conn.ledger.totals;
    totals.conversations += 1;
    totals.messages += row.message_count;
    totals.tokens += row.total_tokens;
}

/// The conversation with this id.
pub async fn find(conn: &mut DbConn<'_>, id_: i64) -> QueryResult<Option<ConversationRow>> {
    with_conn!(conn, |c| conversations
        .find(id_)
        .select(ConversationRow::as_select())
        .first(c)
        .await
        .optional())
}

/// The conversation of this user.
pub async fn find_by_user(
    conn: &mut DbConn<'_>,
    key: &str,
) -> QueryResult<Option<ConversationRow>> {
    with_conn!(conn, |c| conversations
        .filter(user_key.eq(key))
        .select(ConversationRow::as_select())
        .first(c)
        .await
        .optional())
}

/// Which of `ids` exist.
pub async fn existing_ids(conn: &mut DbConn<'_>, ids: &[i64]) -> QueryResult<Vec<i64>> {
    with_conn!(conn, |c| conversations
        .filter(id.eq_any(ids))
        .select(id)
        .load(c)
        .await)
}

/// Which of `ids` (sorted, distinct) exist, with their `active_day` and
/// `total_tokens`, in id order, locked until the transaction ends (the counter update
/// that follows would lock them anyway), so that the totals learn what a capped
/// addition really added.
pub async fn lock_for_counters(
    conn: &mut DbConn<'_>,
    ids: &[i64],
) -> QueryResult<Vec<(i64, i64, i64)>> {
    let query =
        conversations
            .filter(id.eq_any(ids))
            .order(id)
            .select((id, active_day, total_tokens));
    with_conn!(
        conn,
        |c| query.for_update().load(c).await,
        sqlite: |c| sqlite_counters_of(c, ids).await
    )
}

/// SQLite: those of `ids` (sorted, distinct) that exist, with their `active_day` and
/// `total_tokens`, in id order, each looked up by a statement prepared once. An `IN`
/// list's SQL changes with its length, and diesel parses such a statement again on
/// every run: in process a lookup per id costs less than that parse.
#[cfg(feature = "sqlite")]
async fn sqlite_counters_of(
    c: &mut super::conn::SqliteConn,
    ids: &[i64],
) -> QueryResult<Vec<(i64, i64, i64)>> {
    let mut found = Vec::with_capacity(ids.len());
    for &one in ids {
        let row: Option<(i64, i64, i64)> = conversations
            .find(one)
            .select((id, active_day, total_tokens))
            .get_result(c)
            .await
            .optional()?;
        found.extend(row);
    }
    Ok(found)
}

/// The counters (id, messages, tokens) of those of `ids` (inactive since before
/// `cutoff`, if given), locked until the transaction ends, so that what is removed is
/// what is subtracted from the totals.
async fn lock_counters(
    conn: &mut DbConn<'_>,
    ids: &[i64],
    cutoff: Option<NaiveDateTime>,
) -> QueryResult<Vec<(i64, i64, i64)>> {
    // No cutoff: the last time every backend can store, later than any activity.
    let no_cutoff = chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|day| day.and_hms_opt(23, 59, 59))
        .expect("a valid time");
    let query = conversations
        .filter(id.eq_any(ids))
        .filter(last_activity.lt(cutoff.unwrap_or(no_cutoff)))
        .order(id)
        .select((id, message_count, total_tokens));
    with_conn!(
        conn,
        |c| query.for_update().load(c).await,
        sqlite: |c| query.load(c).await
    )
}

/// Records in the ledger that the conversations of `locked` (see [`lock_counters`])
/// are going.
fn record_removed(conn: &mut DbConn<'_>, locked: &[(i64, i64, i64)]) {
    let totals = &mut conn.ledger.totals;
    for (_, messages, tokens) in locked {
        totals.conversations -= 1;
        totals.messages -= messages;
        totals.tokens -= tokens;
    }
}

/// Those of `ids` (sorted, distinct) that exist and that no other session holds,
/// locked for this transaction (`FOR UPDATE SKIP LOCKED`, which never waits), with
/// their `active_day` and `total_tokens` as [`lock_for_counters`] gives them. SQLite
/// has one writer and no row locks: there, those that exist.
pub async fn lock_unheld(conn: &mut DbConn<'_>, ids: &[i64]) -> QueryResult<Vec<(i64, i64, i64)>> {
    let query =
        conversations
            .filter(id.eq_any(ids))
            .order(id)
            .select((id, active_day, total_tokens));
    with_conn!(
        conn,
        |c| query.for_update().skip_locked().load(c).await,
        sqlite: |c| sqlite_counters_of(c, ids).await
    )
}

/// Replaces the platform and (when given) the chat id of a conversation; its
/// `last_activity` stays.
pub async fn set_identity(
    conn: &mut DbConn<'_>,
    id_: i64,
    new_platform: &str,
    new_chat_id: Option<&str>,
) -> QueryResult<usize> {
    let target = conversations.find(id_);
    match new_chat_id {
        Some(chat) => with_conn!(conn, |c| diesel::update(target)
            .set((platform.eq(new_platform), chat_id.eq(chat)))
            .execute(c)
            .await),
        None => with_conn!(conn, |c| diesel::update(target)
            .set(platform.eq(new_platform))
            .execute(c)
            .await),
    }
}

/// `total_tokens + added`.
type TokensAdded = diesel::dsl::Add<total_tokens, diesel::dsl::AsExprOf<i64, BigInt>>;

/// `total_tokens + added`, stopping at 2^53 - 1.
type TokensPlus = diesel::dsl::Otherwise<
    diesel::dsl::case_when<diesel::dsl::Gt<TokensAdded, i64>, i64, BigInt>,
    TokensAdded,
>;

/// `total_tokens + added`, stopping at 2^53 - 1, in the same SQL on every backend and
/// without a literal, so that SQLite keeps the statement prepared.
fn tokens_plus(added: i64) -> TokensPlus {
    let sum: TokensAdded = total_tokens + added.into_sql::<BigInt>();
    diesel::dsl::case_when::<_, _, BigInt>(sum.gt(MAX_EXACT_INTEGER), MAX_EXACT_INTEGER)
        .otherwise(sum)
}

/// Adds usage not tied to a message to a conversation's tokens (stopping at 2^53 - 1)
/// and records the activity; the rows touched (0: no such conversation).
pub async fn add_usage(
    conn: &mut DbConn<'_>,
    id_: i64,
    tokens: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let locked = lock_for_counters(conn, &[id_]).await?;
    let Some(&(_, active_day_before, total_tokens_before)) = <[_]>::first(&locked) else {
        return Ok(0);
    };
    let delta = CounterDelta {
        id: id_,
        tokens,
        last_activity: now,
        active_day_before,
        total_tokens_before,
        ..CounterDelta::default()
    };
    record_added(conn, &[delta]);
    let new_tokens = tokens_plus(tokens);
    with_conn!(conn, |c| diesel::update(conversations.find(id_))
        .set((
            total_tokens.eq(new_tokens),
            last_activity.eq(now),
            active_day.eq(delta.active_day_after()),
        ))
        .execute(c)
        .await)
}

/// Adds one batch's saved messages to a conversation's counters (tokens stopping at
/// 2^53 - 1) and records the activity.
async fn add_messages(conn: &mut DbConn<'_>, delta: &CounterDelta) -> QueryResult<usize> {
    let new_tokens = tokens_plus(delta.tokens);
    let update = diesel::update(conversations.find(delta.id)).set((
        message_count.eq(message_count + delta.messages),
        total_tokens.eq(new_tokens),
        message_tokens.eq(message_tokens + delta.tokens),
        user_messages.eq(user_messages + delta.user_messages),
        last_activity.eq(delta.last_activity),
        active_day.eq(delta.active_day_after()),
    ));
    with_conn!(conn, |c| Prepared(update).execute(c).await)
}

/// What one committed batch adds to one conversation.
#[derive(Debug, Clone, Copy, Default)]
pub struct CounterDelta {
    /// The conversation.
    pub id: i64,
    /// Messages added.
    pub messages: i64,
    /// Tokens added.
    pub tokens: i64,
    /// `user` messages (turns) added.
    pub user_messages: i64,
    /// The new last activity.
    pub last_activity: NaiveDateTime,
    /// The conversation's `active_day` before (from [`lock_for_counters`]): a day later
    /// than it makes the conversation one of that day's active ones.
    pub active_day_before: i64,
    /// The conversation's `total_tokens` before (from [`lock_for_counters`]).
    pub total_tokens_before: i64,
}

impl CounterDelta {
    /// The conversation's `active_day` after the update.
    fn active_day_after(&self) -> i64 {
        day_number(self.last_activity).max(self.active_day_before)
    }

    /// What the update adds to `total_tokens`, which stops at 2^53 - 1.
    fn tokens_added(&self) -> i64 {
        (self.total_tokens_before + self.tokens).min(MAX_EXACT_INTEGER) - self.total_tokens_before
    }
}

/// Records the deltas in the ledger: the totals, and the activity of their day.
fn record_added(conn: &mut DbConn<'_>, deltas: &[CounterDelta]) {
    let ledger = &mut conn.ledger;
    for delta in deltas {
        ledger.totals.messages += delta.messages;
        ledger.totals.tokens += delta.tokens_added();
        let day = day_number(delta.last_activity);
        ledger.add_activity(
            day,
            DayActivity {
                messages: delta.messages,
                tokens: delta.tokens,
                active_conversations: i64::from(day > delta.active_day_before),
            },
        );
    }
}

/// Moves the counters and last activity of many conversations. On the server backends
/// one UPDATE (a CASE per column) does it, instead of a round trip per conversation;
/// rows are matched by primary key, so concurrent batches lock them in the same (index)
/// order. SQLite, in process, runs one cached statement per conversation, cheaper than
/// parsing a statement whose text changes with every batch.
pub async fn add_to_counters(conn: &mut DbConn<'_>, deltas: &[CounterDelta]) -> QueryResult<()> {
    record_added(conn, deltas);
    let backend = conn.backend();
    if backend == Backend::Sqlite {
        for delta in deltas {
            add_messages(conn, delta).await?;
        }
        return Ok(());
    }
    for chunk in deltas.chunks(COUNTERS_PER_UPDATE) {
        let statement = dialect::counters_update(backend, chunk.len());
        with_conn!(conn, |c| {
            let mut query = diesel::sql_query(statement.as_str()).into_boxed();
            // In the order of `dialect::COUNTER_COLUMNS`.
            let added: [fn(&CounterDelta) -> i64; 4] = [
                |d| d.messages,
                |d| d.tokens,
                |d| d.tokens,
                |d| d.user_messages,
            ];
            for value in added {
                for delta in chunk {
                    query = query
                        .bind::<BigInt, _>(delta.id)
                        .bind::<BigInt, _>(value(delta));
                }
            }
            for delta in chunk {
                query = query
                    .bind::<BigInt, _>(delta.id)
                    .bind::<Timestamp, _>(delta.last_activity);
            }
            for delta in chunk {
                query = query
                    .bind::<BigInt, _>(delta.id)
                    .bind::<BigInt, _>(delta.active_day_after());
            }
            for delta in chunk {
                query = query.bind::<BigInt, _>(delta.id);
            }
            query.execute(c).await
        })?;
    }
    Ok(())
}

/// The conversation with this id, its row locked until the transaction ends (the
/// server backends lock it `FOR UPDATE`; SQLite's write transaction already holds the
/// whole database), so that an edit and a concurrent group commit to it serialize.
pub async fn lock(conn: &mut DbConn<'_>, id_: i64) -> QueryResult<Option<ConversationRow>> {
    with_conn!(
        conn,
        |c| conversations
            .find(id_)
            .for_update()
            .select(ConversationRow::as_select())
            .first(c)
            .await
            .optional(),
        sqlite: |c| conversations
            .find(id_)
            .select(ConversationRow::as_select())
            .first(c)
            .await
            .optional()
    )
}

/// What removing messages from a conversation does to its checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointChange {
    /// The removed messages all lie after the checkpoint (or none is set).
    Keep,
    /// The checkpoint's message is among them: the checkpoint goes.
    Clear,
    /// Messages before the checkpoint went: they are no longer covered.
    Uncover {
        /// Their tokens.
        tokens: i64,
        /// Their `user` messages.
        user_messages: i64,
    },
}

/// Messages removed from one conversation, as its counters see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removal {
    /// How many.
    pub messages: i64,
    /// Their tokens (only theirs: usage not tied to a message stays counted).
    pub tokens: i64,
    /// How many of them were `user` messages.
    pub user_messages: i64,
    /// What becomes of the checkpoint.
    pub checkpoint: CheckpointChange,
}

/// Takes removed messages out of a conversation's counters (and checkpoint) and the
/// store-wide totals, and records the activity (the day's activity stays: it happened).
pub async fn remove_messages(
    conn: &mut DbConn<'_>,
    id_: i64,
    removal: &Removal,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    conn.ledger.totals.messages -= removal.messages;
    conn.ledger.totals.tokens -= removal.tokens;
    let counters = (
        message_count.eq(message_count - removal.messages),
        total_tokens.eq(total_tokens - removal.tokens),
        message_tokens.eq(message_tokens - removal.tokens),
        user_messages.eq(user_messages - removal.user_messages),
        last_activity.eq(now),
    );
    let target = conversations.find(id_);
    match removal.checkpoint {
        CheckpointChange::Keep => with_conn!(conn, |c| diesel::update(target)
            .set(counters)
            .execute(c)
            .await),
        CheckpointChange::Clear => with_conn!(conn, |c| diesel::update(target)
            .set((counters, no_checkpoint()))
            .execute(c)
            .await),
        CheckpointChange::Uncover {
            tokens,
            user_messages: users,
        } => with_conn!(conn, |c| diesel::update(target)
            .set((
                counters,
                covered_tokens.eq(covered_tokens - tokens),
                covered_user_messages.eq(covered_user_messages - users),
            ))
            .execute(c)
            .await),
    }
}

/// A summary checkpoint as the conversation row holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// The newest message the summary stands for.
    pub through_id: i64,
    /// Tokens of the summary.
    pub summary_tokens: i64,
    /// Tokens of the messages up to `through_id`.
    pub covered_tokens: i64,
    /// `user` messages up to `through_id`.
    pub covered_user_messages: i64,
}

/// The assignments that leave a conversation without a checkpoint.
#[expect(
    clippy::type_complexity,
    reason = "diesel's assignment types, spelt out once here"
)]
fn no_checkpoint() -> (
    diesel::dsl::Eq<summary_covers_through_id, Option<i64>>,
    diesel::dsl::Eq<summary_tokens, i64>,
    diesel::dsl::Eq<covered_tokens, i64>,
    diesel::dsl::Eq<covered_user_messages, i64>,
) {
    (
        summary_covers_through_id.eq(None::<i64>),
        summary_tokens.eq(0i64),
        covered_tokens.eq(0i64),
        covered_user_messages.eq(0i64),
    )
}

/// Sets the summary and its checkpoint; `None` as the summary clears both, and a
/// summary without a checkpoint stands for nothing in particular.
pub async fn set_summary(
    conn: &mut DbConn<'_>,
    id_: i64,
    text: Option<&str>,
    checkpoint: Option<Checkpoint>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let target = conversations.find(id_);
    let set = (summary.eq(text), last_activity.eq(now));
    match checkpoint {
        None => with_conn!(conn, |c| diesel::update(target)
            .set((set, no_checkpoint()))
            .execute(c)
            .await),
        Some(point) => with_conn!(conn, |c| diesel::update(target)
            .set((
                set,
                summary_covers_through_id.eq(Some(point.through_id)),
                summary_tokens.eq(point.summary_tokens),
                covered_tokens.eq(point.covered_tokens),
                covered_user_messages.eq(point.covered_user_messages),
            ))
            .execute(c)
            .await),
    }
}

/// Sets the active persona; `None` clears it.
pub async fn set_persona(
    conn: &mut DbConn<'_>,
    id_: i64,
    persona: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    with_conn!(conn, |c| diesel::update(conversations.find(id_))
        .set((active_persona_id.eq(persona), last_activity.eq(now)))
        .execute(c)
        .await)
}

/// Resets counters, summary and checkpoint, before the messages are cleared (the
/// conversation is locked first); the rows touched (0: no such conversation).
pub async fn reset(conn: &mut DbConn<'_>, id_: i64, now: NaiveDateTime) -> QueryResult<usize> {
    let locked = lock_counters(conn, &[id_], None).await?;
    if locked.is_empty() {
        return Ok(0);
    }
    record_removed(conn, &locked);
    // The conversation stays; only its counters go.
    conn.ledger.totals.conversations += 1;
    with_conn!(conn, |c| diesel::update(conversations.find(id_))
        .set((
            (
                message_count.eq(0i64),
                total_tokens.eq(0i64),
                message_tokens.eq(0i64),
                user_messages.eq(0i64),
            ),
            summary.eq(None::<String>),
            no_checkpoint(),
            last_activity.eq(now),
        ))
        .execute(c)
        .await)
}

/// Gives conversation `id_` every field of `row` (a replace-import: the id stays, so
/// callers that kept it still find it), and the totals its counters.
pub async fn replace(
    conn: &mut DbConn<'_>,
    id_: i64,
    row: &NewConversationRow<'_>,
) -> QueryResult<usize> {
    let locked = lock_counters(conn, &[id_], None).await?;
    if locked.is_empty() {
        return Ok(0);
    }
    record_removed(conn, &locked);
    record_new(conn, row);
    with_conn!(conn, |c| diesel::update(conversations.find(id_))
        .set(row)
        .execute(c)
        .await)
}

/// Deletes conversations (their messages go with them); how many went.
pub async fn delete(conn: &mut DbConn<'_>, ids: &[i64]) -> QueryResult<usize> {
    let locked = lock_counters(conn, ids, None).await?;
    delete_locked(conn, &locked).await
}

/// Deletes the conversations of `locked` (see [`lock_counters`]) and records it.
async fn delete_locked(conn: &mut DbConn<'_>, locked: &[(i64, i64, i64)]) -> QueryResult<usize> {
    if locked.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = locked.iter().map(|(i, _, _)| *i).collect();
    let deleted = with_conn!(conn, |c| diesel::delete(
        conversations.filter(id.eq_any(&ids))
    )
    .execute(c)
    .await)?;
    record_removed(conn, locked);
    Ok(deleted)
}

diesel::define_sql_function! {
    /// SQL `substr(text, start, count)`: `count` characters (bytes of a binary string)
    /// from the 1-based `start`.
    fn substr(text: diesel::sql_types::Text, start: diesel::sql_types::Integer, count: diesel::sql_types::Integer) -> diesel::sql_types::Text;
}

diesel::define_sql_function! {
    /// SQL `length(text)`: characters on SQLite and PostgreSQL, bytes on MySQL.
    fn length(text: diesel::sql_types::Text) -> diesel::sql_types::Integer;
}

/// What [`list`] filters on.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    /// Only this user.
    pub user_key: Option<String>,
    /// Only users whose key starts with this.
    pub user_key_prefix: Option<String>,
    /// Only this platform.
    pub platform: Option<String>,
    /// Only conversations after this one in the order (last_activity desc, id desc).
    pub after: Option<(NaiveDateTime, i64)>,
}

/// Conversations, most recently active first.
pub async fn list(
    conn: &mut DbConn<'_>,
    filter: &ListFilter,
    limit: i64,
) -> QueryResult<Vec<ConversationRow>> {
    with_conn!(conn, |c| {
        let mut query = conversations
            .select(ConversationRow::as_select())
            .order((last_activity.desc(), id.desc()))
            .limit(limit)
            .into_boxed();
        if let Some(key) = &filter.user_key {
            query = query.filter(user_key.eq(key.clone()));
        }
        if let Some(prefix) = &filter.user_key_prefix {
            // Not LIKE: SQLite's ignores ASCII case. `length` counts what `substr` cuts
            // (characters; bytes on MySQL's binary user_key), so this is an exact
            // prefix on every backend. It uses no index: a rare prefix reads the table.
            query = query.filter(substr(user_key, 1, length(prefix.clone())).eq(prefix.clone()));
        }
        if let Some(name) = &filter.platform {
            query = query.filter(platform.eq(name.clone()));
        }
        if let Some((activity, after_id)) = filter.after {
            query = query.filter(
                last_activity
                    .lt(activity)
                    .or(last_activity.eq(activity).and(id.lt(after_id))),
            );
        }
        query.load(c).await
    })
}

/// Conversations by id, after `after_id`, for streaming them all out.
pub async fn page_by_id(
    conn: &mut DbConn<'_>,
    after_id: i64,
    limit: i64,
) -> QueryResult<Vec<ConversationRow>> {
    with_conn!(conn, |c| conversations
        .filter(id.gt(after_id))
        .order(id)
        .limit(limit)
        .select(ConversationRow::as_select())
        .load(c)
        .await)
}

/// Ids of up to `limit` conversations inactive since before `cutoff`.
pub async fn inactive_ids(
    conn: &mut DbConn<'_>,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    with_conn!(conn, |c| conversations
        .filter(last_activity.lt(cutoff))
        .order(last_activity)
        .limit(limit)
        .select(id)
        .load(c)
        .await)
}

/// The user and message count of the longest conversation (the oldest of equals): the
/// largest counter, then the first conversation with it, each one probe of the
/// (message_count, id) index however many conversations tie.
pub async fn longest(conn: &mut DbConn<'_>) -> QueryResult<Option<(String, i64)>> {
    let other = diesel::alias!(super::schema::conversations as other);
    let most = other
        .select(diesel::dsl::max(other.field(message_count)))
        .single_value();
    with_conn!(conn, |c| conversations
        .filter(message_count.nullable().eq(most))
        .order(id)
        .select((user_key, message_count))
        .first(c)
        .await
        .optional())
}

/// Deletes those of `ids` still inactive since before `cutoff` (one touched since it
/// was picked survives); their messages go with them.
pub async fn delete_inactive(
    conn: &mut DbConn<'_>,
    ids: &[i64],
    cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    let locked = lock_counters(conn, ids, Some(cutoff)).await?;
    delete_locked(conn, &locked).await
}
