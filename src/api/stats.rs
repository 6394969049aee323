//! Read-only figures: the store's statistics, its daily activity and a user's token
//! budget.

use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, get};
use serde::Deserialize;
use utoipa::IntoParams;

use super::ask::ask;
use super::error::ApiError;
use super::error::ErrorResponses;
use super::extract::Params;
use super::state::ApiState;
use crate::model::{BudgetStatus, DailyStats, Stats};
use crate::store::requests::{CheckTokenBudget, GetDailyStats, GetStats};
use crate::store::validate;

/// Query of `GET /v1/budget/{user_key}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BudgetQuery {
    /// The budget in tokens (>= 0).
    #[param(minimum = 0)]
    pub budget: i64,
}

/// The guide's statistics over the whole store (zeros on an empty store).
#[utoipa::path(tag = "stats", responses((status = 200, description = "OK", body = Stats), ErrorResponses))]
#[get("/v1/stats")]
pub async fn stats(state: Data<ApiState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ask(&state, GetStats).await?))
}

/// Query of `GET /v1/stats/daily`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DailyQuery {
    /// How many UTC days, today included (1 to 366, default 30).
    #[param(minimum = 1, maximum = 366)]
    pub days: Option<i64>,
}

/// Messages, tokens and active conversations of each of the last `days` UTC days, newest
/// first, from per-day counters (no scan of the messages).
#[utoipa::path(tag = "stats", params(DailyQuery), responses((status = 200, description = "OK", body = DailyStats), ErrorResponses))]
#[get("/v1/stats/daily")]
pub async fn daily(
    state: Data<ApiState>,
    Params(query): Params<DailyQuery>,
) -> Result<HttpResponse, ApiError> {
    let days = query.days.unwrap_or(validate::DEFAULT_DAILY_DAYS);
    Ok(HttpResponse::Ok().json(ask(&state, GetDailyStats { days }).await?))
}

/// Whether a user's conversation is within a token budget (no conversation: 0 used).
#[utoipa::path(
    tag = "stats",
    params(("user_key" = String, Path, description = "The user key, URL-encoded", min_length = 1, max_length = 255, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"), BudgetQuery),
    responses((status = 200, description = "OK", body = BudgetStatus), ErrorResponses)
)]
#[get("/v1/budget/{user_key}")]
pub async fn budget(
    state: Data<ApiState>,
    user_key: Path<String>,
    Params(query): Params<BudgetQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = CheckTokenBudget {
        user_key: user_key.into_inner(),
        budget: query.budget,
    };
    Ok(HttpResponse::Ok().json(ask(&state, request).await?))
}
