//! The scheduler actor: fires cleanup and maintenance on cron schedules, and keeps
//! the last run of each job for `GET /admin/schedule` and the metrics.

use std::time::Instant;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::model::timestamp;
use crate::store::StoreActor;
use crate::store::requests::{CleanupOldConversations, Vacuum};

/// The state of one scheduled job, as `GET /admin/schedule` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobStatus {
    /// `cleanup` or `maintenance`.
    pub name: String,
    /// The cron expression; empty when the job is disabled.
    pub cron: String,
    /// Whether the job runs at all.
    pub enabled: bool,
    /// Next fire time (RFC 3339, UTC), if enabled.
    #[serde(with = "timestamp::option")]
    #[schema(value_type = Option<String>)]
    pub next_run: Option<DateTime<Utc>>,
    /// When the last run started (RFC 3339, UTC).
    #[serde(with = "timestamp::option")]
    #[schema(value_type = Option<String>)]
    pub last_run: Option<DateTime<Utc>>,
    /// How long the last run took.
    pub last_duration_ms: Option<u64>,
    /// `ok: ...` or `error: ...` of the last run.
    pub last_result: Option<String>,
    /// Runs that succeeded since start.
    pub runs_ok: u64,
    /// Runs that failed since start.
    pub runs_failed: u64,
}

/// Asks the scheduler for the state of every job.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Vec<JobStatus>")]
pub struct GetSchedule;

/// A job the scheduler knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Deletes conversations idle for `cleanup_days` (archiving them first if set).
    Cleanup,
    /// Runs the backend's maintenance (VACUUM ...).
    Maintenance,
}

impl JobKind {
    /// The job's name in logs, metrics and the admin API.
    pub fn name(self) -> &'static str {
        match self {
            JobKind::Cleanup => "cleanup",
            JobKind::Maintenance => "maintenance",
        }
    }
}

/// One job's schedule: what to run and when (an empty cron expression disables it).
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// What the job does.
    pub kind: JobKind,
    /// The cron expression as configured.
    pub cron: String,
}

struct Job {
    kind: JobKind,
    schedule: Option<cron::Schedule>,
    status: JobStatus,
}

/// Fires cleanup and maintenance on their cron schedules by sending the store
/// `CleanupOldConversations` and `Vacuum`. Runs of one job never overlap: the next one
/// is armed only when a run ends.
pub struct SchedulerActor {
    store: Addr<StoreActor>,
    cleanup_days: i64,
    jobs: Vec<Job>,
}

impl SchedulerActor {
    /// A scheduler for `jobs`; fails naming the job whose cron expression is bad.
    pub fn new(
        store: Addr<StoreActor>,
        cleanup_days: i64,
        jobs: Vec<JobSpec>,
    ) -> Result<SchedulerActor, String> {
        let jobs = jobs
            .into_iter()
            .map(|spec| {
                let expression = spec.cron.trim();
                let schedule = if expression.is_empty() {
                    None
                } else {
                    Some(
                        parse_cron(expression)
                            .map_err(|e| format!("schedule.{}: {e}", spec.kind.name()))?,
                    )
                };
                Ok(Job {
                    kind: spec.kind,
                    status: JobStatus {
                        name: spec.kind.name().to_string(),
                        cron: expression.to_string(),
                        enabled: schedule.is_some(),
                        next_run: None,
                        last_run: None,
                        last_duration_ms: None,
                        last_result: None,
                        runs_ok: 0,
                        runs_failed: 0,
                    },
                    schedule,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(SchedulerActor {
            store,
            cleanup_days,
            jobs,
        })
    }

    /// Sleeps until the job's next fire time.
    fn arm(&mut self, index: usize, ctx: &mut Context<Self>) {
        let job = &mut self.jobs[index];
        let Some(schedule) = &job.schedule else {
            return;
        };
        let now = Utc::now();
        let Some(next) = schedule.after(&now).next() else {
            job.status.next_run = None;
            return;
        };
        job.status.next_run = Some(next);
        let delay = (next - now).to_std().unwrap_or_default();
        ctx.run_later(delay, move |actor, ctx| actor.fire(index, ctx));
    }

    /// Runs the job, records the outcome, arms the next run.
    fn fire(&mut self, index: usize, ctx: &mut Context<Self>) {
        let kind = self.jobs[index].kind;
        let started_at = Utc::now();
        let started = Instant::now();
        let store = self.store.clone();
        let days = self.cleanup_days;
        info!(job = kind.name(), "scheduled job started");
        let run = async move {
            match kind {
                JobKind::Cleanup => match store.send(CleanupOldConversations { days }).await {
                    Ok(Ok(deleted)) => Ok(format!("deleted {deleted} conversations")),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(e) => Err(e.to_string()),
                },
                JobKind::Maintenance => match store.send(Vacuum).await {
                    Ok(Ok(report)) => Ok(format!("{} maintenance done", report.backend)),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(e) => Err(e.to_string()),
                },
            }
        };
        ctx.spawn(run.into_actor(self).map(move |result, actor, ctx| {
            let elapsed = started.elapsed();
            let status = &mut actor.jobs[index].status;
            status.last_run = Some(started_at);
            status.last_duration_ms = Some(elapsed.as_millis() as u64);
            match result {
                Ok(outcome) => {
                    info!(job = kind.name(), duration_ms = elapsed.as_millis() as u64, %outcome, "scheduled job finished");
                    status.runs_ok += 1;
                    status.last_result = Some(format!("ok: {outcome}"));
                }
                Err(error) => {
                    warn!(job = kind.name(), duration_ms = elapsed.as_millis() as u64, %error, "scheduled job failed");
                    status.runs_failed += 1;
                    status.last_result = Some(format!("error: {error}"));
                }
            }
            actor.arm(index, ctx);
        }));
    }
}

/// Parses a cron expression; the classic five fields get a leading `0` seconds field.
pub fn parse_cron(expression: &str) -> Result<cron::Schedule, String> {
    let expression = expression.trim();
    let full = if expression.split_whitespace().count() == 5 {
        format!("0 {expression}")
    } else {
        expression.to_string()
    };
    full.parse::<cron::Schedule>()
        .map_err(|e| format!("{expression:?} is not a cron expression: {e}"))
}

impl Actor for SchedulerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        for index in 0..self.jobs.len() {
            self.arm(index, ctx);
        }
    }
}

impl Handler<GetSchedule> for SchedulerActor {
    type Result = MessageResult<GetSchedule>;

    fn handle(&mut self, _: GetSchedule, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.jobs.iter().map(|job| job.status.clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_field_cron_is_accepted() {
        assert!(parse_cron("0 3 * * *").is_ok());
        assert!(parse_cron("0 0 3 * * *").is_ok());
        assert!(parse_cron("whenever").is_err());
    }
}
