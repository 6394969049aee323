//! `convstore serve`: opens the store (migrating it), starts the scheduler and the HTTP
//! server ([`App`]), tells systemd, pets its watchdog while the store actor answers (not
//! while the database does: an outage answers 503, the daemon stays up, and the
//! connection and migrations are retried in the background), and shuts down gracefully on
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
use crate::store::requests::{Ping, Shutdown};
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
    let store_settings = config.store_settings();
    if let Some(dir) = &store_settings.archive_dir {
        check_archive_dir(dir);
    }
    info!(database = ?db_settings.target, "opening the store");
    let store = StoreActor::open_retrying(db_settings, store_settings).await?;
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
    actix::spawn(watch_liveness(store.clone(), systemd::watchdog_interval()));
    app.run().await?;
    systemd::stopping();
    info!("HTTP server stopped; committing queued writes");
    drain(store).await;
    info!("shut down cleanly");
    Ok(())
}

/// How often the store is pinged when systemd set no watchdog (for the STATUS= line).
const STATUS_INTERVAL: Duration = Duration::from_secs(5);

/// Pings the store actor (no database) every `watchdog` interval, or every
/// [`STATUS_INTERVAL`] without one: each answer pets the watchdog, so the process and
/// its actor are proven alive whether the database is up or not (an outage is answered
/// with 503, not a restart loop), and the systemd status line shows whether the
/// database is ready.
async fn watch_liveness(store: Addr<StoreActor>, watchdog: Option<Duration>) {
    let interval = watchdog.unwrap_or(STATUS_INTERVAL);
    let mut ticks = tokio::time::interval(interval);
    let mut shown: Option<String> = None;
    loop {
        ticks.tick().await;
        match tokio::time::timeout(interval, store.send(Ping)).await {
            Ok(Ok(waiting_for)) => {
                if watchdog.is_some() {
                    systemd::watchdog();
                }
                if waiting_for != shown {
                    systemd::status(&match &waiting_for {
                        Some(cause) => format!("waiting for the database: {cause}"),
                        None => "serving".to_string(),
                    });
                    shown = waiting_for;
                }
            }
            outcome => warn!(?outcome, "the store did not answer the watchdog's ping"),
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

/// Says clearly in the log, at start, when cleanups cannot archive: the folder cannot be
/// created or written (say, outside the unit's writable paths under systemd). The daemon
/// serves all the same; a cleanup then fails before it deletes anything.
fn check_archive_dir(dir: &std::path::Path) {
    let probe = dir.join(format!(".convstore-write-check-{}", std::process::id()));
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&probe, b""))
        .and_then(|()| std::fs::remove_file(&probe));
    match written {
        Ok(()) => info!(archive_dir = %dir.display(), "cleanups archive to this folder"),
        Err(error) => tracing::error!(
            archive_dir = %dir.display(),
            %error,
            "schedule.archive_dir is not writable: every cleanup will fail, deleting nothing, \
             until it is (under systemd, add the folder to ReadWritePaths=)"
        ),
    }
}
