//! `convstore serve`: opens the store (migrating it), starts the scheduler and the HTTP
//! server ([`App`]), tells systemd, pets its watchdog, and shuts down gracefully on
//! SIGTERM/SIGINT: once the server has let in-flight requests finish, every queued write
//! is committed before exit.

use std::time::Duration;

use actix::prelude::*;
use tracing::{info, warn};

use crate::api::ApiState;
use crate::app::App;
use crate::config::{Config, ConfigError};
use crate::error::StoreError;
use crate::scheduler::{JobKind, JobSpec, SchedulerActor};
use crate::store::StoreActor;
use crate::store::requests::{GetConversationByUser, Shutdown};
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
    let http = config.http_settings()?;
    let token = config.token()?;
    if token.is_none() && !http.bind.ip().is_loopback() {
        return Err(AppError::Refused(format!(
            "refusing to listen on {} without a token: set http.token, http.token_file or CONVSTORE_TOKEN",
            http.bind
        )));
    }
    systemd::extend_startup(Duration::from_secs(120));
    let db_settings = config.db_settings()?;
    info!(database = ?db_settings.target, "opening the store");
    let store = StoreActor::open(db_settings, config.store_settings()).await?;
    let jobs = vec![
        JobSpec {
            kind: JobKind::Cleanup,
            cron: config.schedule.cleanup.clone(),
        },
        JobSpec {
            kind: JobKind::Maintenance,
            cron: config.schedule.maintenance.clone(),
        },
    ];
    let scheduler = SchedulerActor::new(store.clone(), config.cleanup_days, jobs)
        .map_err(|e| AppError::Config(ConfigError::Invalid(e)))?
        .start();
    let state = ApiState::new(
        store.clone(),
        Some(scheduler.recipient()),
        config.api_settings(token),
    );
    let app = App::build(state, &http)?;
    systemd::ready();
    if let Some(interval) = systemd::watchdog_interval() {
        actix::spawn(pet_watchdog(store.clone(), interval));
    }
    app.run().await?;
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
    store.do_send(Shutdown);
    while store.connected() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
