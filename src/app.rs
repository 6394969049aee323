//! `convstore serve`: opens the store, starts the scheduler and the HTTP server, tells
//! systemd, and shuts down gracefully on SIGTERM/SIGINT (actix-web stops accepting,
//! lets in-flight requests finish; then every queued write is committed before exit).

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_web::{App, HttpServer};
use tracing::{info, warn};

use crate::api::{self, ApiState};
use crate::config::{Config, ConfigError};
use crate::error::StoreError;
use crate::metrics::Metrics;
use crate::scheduler::{JobKind, JobSpec, SchedulerActor};
use crate::store::StoreActor;
use crate::store::requests::GetConversationByUser;
use crate::systemd;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The configuration is invalid.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The database could not be opened or migrated.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The socket could not be bound, or the server failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A setting is refused for safety.
    #[error("{0}")]
    Refused(String),
}

/// Runs the daemon until SIGTERM/SIGINT.
pub async fn serve(config: Config) -> Result<(), AppError> {
    if !config.enabled {
        info!("conversation persistence is disabled (enabled = false): not serving");
        return Ok(());
    }
    let bind = config.bind_addr()?;
    let token = config.token()?;
    if token.is_none() && !bind.ip().is_loopback() {
        return Err(AppError::Refused(format!(
            "refusing to listen on {bind} without a token: set http.token, http.token_file or CONVSTORE_TOKEN"
        )));
    }
    systemd::extend_startup(Duration::from_secs(120));
    let db_settings = config.db_settings()?;
    info!(database = ?db_settings.target, "opening the store");
    let store = StoreActor::open(db_settings, config.store_settings()).await?;
    let scheduler = SchedulerActor::new(
        store.clone(),
        config.cleanup_days,
        vec![
            JobSpec {
                kind: JobKind::Cleanup,
                cron: config.schedule.cleanup.clone(),
            },
            JobSpec {
                kind: JobKind::Maintenance,
                cron: config.schedule.maintenance.clone(),
            },
        ],
    )
    .map_err(|e| AppError::Config(ConfigError::Invalid(e)))?
    .start();

    let state = ApiState {
        store: store.clone(),
        scheduler: Some(scheduler.recipient()),
        settings: config.api_settings(token),
        metrics: Arc::new(Metrics::default()),
    };
    let server = HttpServer::new(move || App::new().configure(api::configure(state.clone())))
        .workers(config.http.workers)
        .client_request_timeout(Duration::from_secs(config.http.client_request_timeout_secs))
        .client_disconnect_timeout(Duration::from_secs(5))
        .keep_alive(Duration::from_secs(config.http.keep_alive_secs))
        .shutdown_timeout(config.http.shutdown_timeout_secs)
        .bind(bind)?
        .run();
    info!(%bind, "listening");
    systemd::ready();
    if let Some(interval) = systemd::watchdog_interval() {
        actix::spawn(pet_watchdog(store.clone(), interval));
    }
    server.await?;
    systemd::stopping();
    info!("HTTP server stopped; committing queued writes");
    drain(store).await;
    info!("shut down cleanly");
    Ok(())
}

/// Pets the systemd watchdog while the store answers a read, so a wedged database
/// gets the service restarted.
async fn pet_watchdog(store: Addr<StoreActor>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    loop {
        ticks.tick().await;
        let probe = GetConversationByUser {
            user_key: "convstore:watchdog".into(),
        };
        match tokio::time::timeout(interval, store.send(probe)).await {
            Ok(Ok(Ok(_))) => systemd::watchdog(),
            outcome => warn!(?outcome, "the store did not answer the watchdog probe"),
        }
    }
}

/// Stops the store once its queued writes are committed. In-flight requests are done
/// by now, so the queue only holds writes whose answers nobody awaits any more — they
/// were not acknowledged, but they are committed all the same.
async fn drain(store: Addr<StoreActor>) {
    store.do_send(crate::store::requests::Shutdown);
    while store.connected() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
