//! Routes for the machinery around the daemon: liveness, readiness, metrics. (The
//! OpenAPI document is served by `routes`, which lists every route.)

use std::time::Duration;

use actix_web::web::Data;
use actix_web::{HttpResponse, get};
use serde::Serialize;
use utoipa::ToSchema;

use super::admin::jobs;
use super::ask::ask;
use super::error::ErrorResponses;
use super::error::{ApiError, ErrorBody};
use super::state::ApiState;
use crate::store::requests::GetConversationByUser;

/// How long the readiness probe waits for the database.
const READINESS_TIMEOUT: Duration = Duration::from_secs(5);
/// The user key the readiness probe looks up: one indexed read, whether it exists or not.
const PROBE_USER_KEY: &str = "convstore:readiness-probe";

/// The body of the health answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` (alive) or `ready` (the database answers).
    pub status: &'static str,
}

/// The process is alive. Needs no token.
#[utoipa::path(tag = "operations", security(()), responses((status = 200, description = "OK", body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The database answers (a cheap indexed read, within 5 s); else 503. Needs no token.
#[utoipa::path(
    tag = "operations",
    security(()),
    responses((status = 200, description = "OK", body = Health), ErrorResponses)
)]
#[get("/readyz")]
pub async fn readyz(state: Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let probe = GetConversationByUser {
        user_key: PROBE_USER_KEY.to_string(),
    };
    match actix_rt::time::timeout(READINESS_TIMEOUT, ask(&state, probe)).await {
        Ok(Ok(_)) => Ok(HttpResponse::Ok().json(Health { status: "ready" })),
        Ok(Err(ApiError::Unavailable(detail) | ApiError::Internal(detail))) => {
            Err(ApiError::Unavailable(detail))
        }
        Ok(Err(other)) => Err(ApiError::Unavailable(other.to_string())),
        Err(_) => Err(ApiError::Unavailable(format!(
            "readiness probe: no answer within {READINESS_TIMEOUT:?}"
        ))),
    }
}

/// Counters in the Prometheus text format.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String),
        (status = 401, description = "A token is configured and was not presented", body = ErrorBody),
    )
)]
#[get("/metrics")]
pub async fn metrics(state: Data<ApiState>) -> HttpResponse {
    // Metrics stay available when the scheduler does not answer; its runs are left out.
    let jobs = jobs(&state)
        .await
        .inspect_err(ApiError::log)
        .unwrap_or_default();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&jobs))
}
