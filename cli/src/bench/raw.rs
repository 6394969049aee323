//! The ceiling: the benchmark's inserts through one plain synchronous SQLite connection,
//! in 1,000-row transactions, with the store's schema and durability settings.

use std::path::Path;
use std::time::Instant;

use convstore::db::schema::{conversations, messages};
use convstore::db::{Db, DbSettings, DbTarget};
use diesel::connection::SimpleConnection;
use diesel::{Connection, ExpressionMethods, RunQueryDsl, SqliteConnection};

use super::args::BenchArgs;
use super::workload::content;

const ROWS_PER_TRANSACTION: usize = 1_000;

/// Messages per second inserted that way into a new file at `path`.
pub async fn batched_insert_rate(
    path: &Path,
    args: &BenchArgs,
) -> Result<f64, Box<dyn std::error::Error>> {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    // The store creates the file and its schema; then it is closed again.
    drop(Db::open(DbSettings::new(DbTarget::Sqlite(path.to_path_buf()))).await?);
    let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
    conn.batch_execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
    )?;
    let now = chrono::Utc::now().naive_utc();
    diesel::insert_into(conversations::table)
        .values((
            conversations::user_key.eq("raw"),
            conversations::platform.eq("bench"),
            conversations::created_at.eq(now),
            conversations::last_activity.eq(now),
        ))
        .execute(&mut conn)?;
    let total = args.conversations * args.messages;
    let text = content(args.content_bytes);
    let started = Instant::now();
    let mut written = 0;
    while written < total {
        let rows = ROWS_PER_TRANSACTION.min(total - written);
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            for i in 0..rows {
                let role = if (written + i).is_multiple_of(2) {
                    "user"
                } else {
                    "assistant"
                };
                diesel::insert_into(messages::table)
                    .values((
                        messages::conversation_id.eq(1),
                        messages::role.eq(role),
                        messages::content.eq(&text),
                        messages::timestamp.eq(now),
                        messages::tokens.eq(30),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })?;
        written += rows;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}
