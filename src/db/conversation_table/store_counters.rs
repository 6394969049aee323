//! The store-wide counters: the totals in `store_totals` and each UTC day's activity in
//! `daily_activity`, both in [`SHARDS`] rows (per day) that write transactions spread
//! over, so that concurrent writers, of one daemon or several, rarely wait for the same
//! row. A transaction writes what its ledger holds as its last statements, holding the
//! shard's row lock only for the commit; a read sums the shards.

use std::sync::atomic::{AtomicU32, Ordering};

use diesel::prelude::*;
use diesel::result::QueryResult;
use diesel_async::RunQueryDsl;

use crate::db::conn::{DbConn, with_conn};
use crate::db::ledger::{DayActivity, Totals};
use crate::db::prepared::Prepared;
use crate::db::schema::{daily_activity, store_totals};
use crate::model::MAX_EXACT_INTEGER;

/// Rows `store_totals` has (the migration creates them), and rows per day of
/// `daily_activity` at most.
pub const SHARDS: u32 = 16;

/// The shard of the next transaction: round robin from a start that differs between
/// processes, so that two daemons do not walk the shards in step.
fn next_shard() -> i32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let turn = NEXT.fetch_add(1, Ordering::Relaxed);
    (std::process::id().wrapping_mul(7).wrapping_add(turn) % SHARDS) as i32
}

/// Writes the connection's ledger to one shard and empties it; nothing when it is
/// empty. Runs as the last statements of a write transaction.
pub async fn write(conn: &mut DbConn<'_>) -> QueryResult<()> {
    let ledger = std::mem::take(&mut conn.ledger);
    if ledger.is_empty() {
        return Ok(());
    }
    let shard = next_shard();
    if !ledger.totals.is_zero() {
        add_totals(conn, shard, ledger.totals).await?;
    }
    for (day, activity) in ledger.days {
        add_activity(conn, shard, day, activity).await?;
    }
    Ok(())
}

async fn add_totals(conn: &mut DbConn<'_>, shard: i32, delta: Totals) -> QueryResult<()> {
    use store_totals::dsl as t;
    let update = diesel::update(t::store_totals.find(shard)).set((
        t::conversations.eq(t::conversations + delta.conversations),
        t::messages.eq(t::messages + delta.messages),
        t::tokens.eq(t::tokens + delta.tokens),
    ));
    with_conn!(conn, |c| Prepared(update).execute(c).await)?;
    Ok(())
}

async fn add_activity(
    conn: &mut DbConn<'_>,
    shard: i32,
    day: i64,
    delta: DayActivity,
) -> QueryResult<()> {
    use daily_activity::dsl as d;
    let row = (
        d::day.eq(day),
        d::shard.eq(shard),
        d::messages.eq(delta.messages),
        d::tokens.eq(delta.tokens),
        d::active_conversations.eq(delta.active_conversations),
    );
    let added = (
        d::messages.eq(d::messages + delta.messages),
        d::tokens.eq(d::tokens + delta.tokens),
        d::active_conversations.eq(d::active_conversations + delta.active_conversations),
    );
    with_conn!(
        conn,
        |c| Prepared(
            diesel::insert_into(d::daily_activity)
                .values(row)
                .on_conflict((d::day, d::shard))
                .do_update()
                .set(added)
        )
        .execute(c)
        .await,
        mysql: |c| Prepared(
            diesel::insert_into(d::daily_activity)
                .values(row)
                .on_conflict(diesel::dsl::DuplicatedKeys)
                .do_update()
                .set(added)
        )
        .execute(c)
        .await
    )?;
    Ok(())
}

/// The store-wide totals: the sums of the shards, each stopping at 2^53 - 1.
pub async fn totals(conn: &mut DbConn<'_>) -> QueryResult<Totals> {
    use store_totals::dsl as t;
    let shards: Vec<(i64, i64, i64)> = with_conn!(conn, |c| t::store_totals
        .select((t::conversations, t::messages, t::tokens))
        .load(c)
        .await)?;
    // Summed wide, reported up to 2^53 - 1 as every other figure.
    let sum = |pick: fn(&(i64, i64, i64)) -> i64| {
        let total: i128 = shards.iter().map(|shard| i128::from(pick(shard))).sum();
        total.min(i128::from(MAX_EXACT_INTEGER)) as i64
    };
    Ok(Totals {
        conversations: sum(|s| s.0),
        messages: sum(|s| s.1),
        tokens: sum(|s| s.2),
    })
}

/// The activity of the days `first..=last` (day numbers) that had any, by day, oldest
/// first: the sums of each day's shards.
pub async fn activity(
    conn: &mut DbConn<'_>,
    first: i64,
    last: i64,
) -> QueryResult<Vec<(i64, DayActivity)>> {
    use daily_activity::dsl as d;
    let rows: Vec<(i64, i64, i64, i64)> = with_conn!(conn, |c| d::daily_activity
        .filter(d::day.between(first, last))
        .order(d::day)
        .select((d::day, d::messages, d::tokens, d::active_conversations))
        .load(c)
        .await)?;
    let mut days: Vec<(i64, DayActivity)> = Vec::new();
    for (day, messages, tokens, active_conversations) in rows {
        if days.last().is_none_or(|(last_day, _)| *last_day != day) {
            days.push((day, DayActivity::default()));
        }
        if let Some((_, sum)) = days.last_mut() {
            sum.messages += messages;
            sum.tokens += tokens;
            sum.active_conversations += active_conversations;
        }
    }
    Ok(days)
}
