//! What every handler reads: the store, the scheduler, the limits, the metrics.

use std::sync::Arc;

use actix::{Addr, Recipient};

use crate::StoreActor;
use crate::metrics::Metrics;
use crate::scheduler::GetSchedule;

/// Everything the HTTP layer needs. Cheap to clone (one per worker).
#[derive(Clone)]
pub struct ApiState {
    /// The store every route talks to.
    pub store: Addr<StoreActor>,
    /// The scheduler, for `GET /admin/schedule` and the job counters of `/metrics`;
    /// `None` when the daemon runs without one.
    pub scheduler: Option<Recipient<GetSchedule>>,
    /// Limits and defaults.
    pub settings: ApiSettings,
    /// The counters `/metrics` shows; shared by every worker.
    pub(crate) metrics: Arc<Metrics>,
}

impl ApiState {
    /// The state of an API over `store`, with fresh metrics.
    pub fn new(
        store: Addr<StoreActor>,
        scheduler: Option<Recipient<GetSchedule>>,
        settings: ApiSettings,
    ) -> ApiState {
        ApiState {
            store,
            scheduler,
            settings,
            metrics: Arc::new(Metrics::default()),
        }
    }
}

/// Limits and defaults of the HTTP layer; the defaults are the configuration's
/// (`ApiSettings::default()` is `Config::default().api_settings(None)`).
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// The bearer token every route but `/healthz`, `/readyz` and the console's page and
    /// files requires; `None`: no authentication.
    pub token: Option<String>,
    /// Largest JSON body, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// Largest NDJSON body of `POST /admin/import`, in bytes; it is read as a stream,
    /// not held in memory.
    pub max_import_bytes: usize,
    /// Largest line of an NDJSON import, in bytes; a longer line is reported as failed.
    pub max_line_bytes: usize,
    /// The age limit of `POST /admin/cleanup` when it names no `days`.
    pub cleanup_days: i64,
    /// Whether cleanups first archive what they delete (`schedule.archive_dir` is set);
    /// `GET /admin/schedule` says so.
    pub cleanup_archives: bool,
    /// Whether `/console` serves the operator console.
    pub console: bool,
}
