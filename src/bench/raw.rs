//! The ceiling: the benchmark's inserts through one plain synchronous SQLite connection,
//! in 1,000-row transactions, with the store's schema and durability settings.

use std::path::Path;
use std::time::Instant;

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::BenchArgs;
use super::workload::content;
use crate::db::models::NewMessageRow;
use crate::db::schema::{conversations, messages};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const ROWS_PER_TRANSACTION: usize = 1_000;

/// Messages per second inserted that way.
pub fn batched_insert_rate(
    path: &Path,
    args: &BenchArgs,
) -> Result<f64, Box<dyn std::error::Error>> {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
    conn.batch_execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
    )?;
    conn.run_pending_migrations(MIGRATIONS)
        .map_err(|e| format!("raw ceiling migrations: {e}"))?;
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
                let row = NewMessageRow {
                    conversation_id: 1,
                    role: if (written + i) % 2 == 0 {
                        "user"
                    } else {
                        "assistant"
                    }
                    .into(),
                    content: text.clone(),
                    timestamp: now,
                    tokens: 30,
                    metadata_json: None,
                    idempotency_key: None,
                };
                diesel::insert_into(messages::table)
                    .values(&row)
                    .execute(conn)?;
            }
            Ok(())
        })?;
        written += rows;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

use diesel::ExpressionMethods;
