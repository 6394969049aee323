//! Handlers of the requests on the whole store: statistics, daily activity, cleanup of
//! old conversations, the backend's maintenance, the watchdog's ping, shutdown.

use std::time::Instant;

use actix::prelude::*;

use super::{Answer, checked};
use crate::db::conn::{Access, DbConn};
use crate::db::maintenance;
use crate::error::StoreError;
use crate::model::{DailyStats, Stats, now};
use crate::store::requests::*;
use crate::store::{StoreActor, operations, validate};

impl Handler<GetStats> for StoreActor {
    type Result = Answer<Stats>;

    fn handle(&mut self, _: GetStats, _: &mut Self::Context) -> Self::Result {
        self.read(async |c: &mut DbConn<'_>| operations::stats(c).await)
    }
}

impl Handler<GetDailyStats> for StoreActor {
    type Result = Answer<DailyStats>;

    fn handle(&mut self, msg: GetDailyStats, _: &mut Self::Context) -> Self::Result {
        let check = validate::optional_range("days", Some(msg.days), validate::MAX_DAILY_DAYS);
        let now = now().naive_utc();
        checked(check, |_| {
            self.read(async move |c: &mut DbConn<'_>| operations::daily(c, now, msg.days).await)
        })
    }
}

impl Handler<CleanupOldConversations> for StoreActor {
    type Result = Answer<u64>;

    fn handle(&mut self, msg: CleanupOldConversations, _: &mut Self::Context) -> Self::Result {
        let check = if (0..=validate::MAX_CLEANUP_DAYS).contains(&msg.days) {
            Ok(operations::cleanup_cutoff(now().naive_utc(), msg.days))
        } else {
            Err(StoreError::invalid(
                "days",
                format!("must be between 0 and {}", validate::MAX_CLEANUP_DAYS),
            ))
        };
        let archive = self.archive();
        let db = self.db.clone();
        checked(check, |cutoff| {
            // One transaction per batch: saves get the writer between batches.
            Answer::future(async move {
                let mut deleted = 0u64;
                loop {
                    let archive = archive.clone();
                    let batch = db
                        .write_tx(async move |c: &mut DbConn<'_>| {
                            operations::cleanup_batch(c, cutoff, archive.as_ref()).await
                        })
                        .await?;
                    deleted += batch.deleted as u64;
                    if (batch.picked as i64) < operations::CLEANUP_BATCH {
                        return Ok(deleted);
                    }
                }
            })
        })
    }
}

impl Handler<Vacuum> for StoreActor {
    type Result = Answer<MaintenanceReport>;

    fn handle(&mut self, _: Vacuum, _: &mut Self::Context) -> Self::Result {
        let backend = self.db.backend().name().to_string();
        // A VACUUM of a large database takes as long as it takes: no query timeout.
        let db = self.db.without_query_timeout();
        Answer::future(async move {
            db.run(Access::Write, async move |c: &mut DbConn<'_>| {
                let started = Instant::now();
                maintenance::run(c).await?;
                Ok(MaintenanceReport {
                    backend,
                    duration_ms: started.elapsed().as_millis() as u64,
                })
            })
            .await
        })
    }
}

impl Handler<Ping> for StoreActor {
    type Result = Option<String>;

    fn handle(&mut self, _: Ping, _: &mut Self::Context) -> Self::Result {
        self.db.waiting_for()
    }
}

impl Handler<Shutdown> for StoreActor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Self::Context) {
        // `stopping` keeps the actor alive until the write queue is empty.
        ctx.stop();
    }
}
