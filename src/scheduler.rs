//! The scheduler actor: fires cleanup and maintenance on cron schedules.

use actix::prelude::*;
use serde::{Deserialize, Serialize};

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
    pub next_run: Option<String>,
    /// When the last run started (RFC 3339, UTC).
    pub last_run: Option<String>,
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
