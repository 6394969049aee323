//! Maintenance routes for operators: cleanup of old conversations, the backend's
//! maintenance, the scheduler's jobs.

use actix_web::web::Data;
use actix_web::{HttpResponse, get, post};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ask::ask;
use super::error::ApiError;
use super::error::ErrorResponses;
use super::extract::Params;
use super::state::ApiState;
use crate::scheduler::{GetSchedule, JobStatus};
use crate::store::requests::{CleanupOldConversations, MaintenanceReport, Vacuum};

/// Query of `POST /admin/cleanup`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CleanupQuery {
    /// Delete conversations inactive for more than this many days (default: the
    /// configured one); 0 to 36500.
    #[param(minimum = 0, maximum = 36_500)]
    pub days: Option<i64>,
}

/// What `POST /admin/cleanup` did.
#[derive(Debug, Serialize, ToSchema)]
pub struct CleanupReport {
    /// Conversations deleted.
    pub deleted: u64,
}

/// The scheduler's jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct Schedule {
    /// Each job: cron, next run, last run, last result (empty without a scheduler).
    pub jobs: Vec<JobStatus>,
    /// The age limit, in days, of a cleanup that names none.
    pub cleanup_days: i64,
    /// Whether a cleanup first archives what it deletes (`schedule.archive_dir` is set).
    pub cleanup_archives: bool,
}

/// Deletes conversations inactive for more than `days` days.
#[utoipa::path(
    tag = "admin",
    params(CleanupQuery),
    responses((status = 200, description = "OK", body = CleanupReport), ErrorResponses)
)]
#[post("/admin/cleanup")]
pub async fn cleanup(
    state: Data<ApiState>,
    Params(query): Params<CleanupQuery>,
) -> Result<HttpResponse, ApiError> {
    let days = query.days.unwrap_or(state.settings.cleanup_days);
    let deleted = ask(&state, CleanupOldConversations { days }).await?;
    Ok(HttpResponse::Ok().json(CleanupReport { deleted }))
}

/// Runs the backend's maintenance (VACUUM, ANALYZE, OPTIMIZE).
#[utoipa::path(tag = "admin", responses((status = 200, description = "OK", body = MaintenanceReport), ErrorResponses))]
#[post("/admin/vacuum")]
pub async fn vacuum(state: Data<ApiState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ask(&state, Vacuum).await?))
}

/// The scheduled jobs: cron, next run, last run, last result.
#[utoipa::path(tag = "admin", responses((status = 200, description = "OK", body = Schedule), ErrorResponses))]
#[get("/admin/schedule")]
pub async fn schedule(state: Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let jobs = jobs(&state).await?;
    Ok(HttpResponse::Ok().json(Schedule {
        jobs,
        cleanup_days: state.settings.cleanup_days,
        cleanup_archives: state.settings.cleanup_archives,
    }))
}

/// The scheduler's jobs; none when the daemon runs without a scheduler.
pub async fn jobs(state: &ApiState) -> Result<Vec<JobStatus>, ApiError> {
    match &state.scheduler {
        Some(scheduler) => Ok(scheduler.send(GetSchedule).await?),
        None => Ok(Vec::new()),
    }
}
