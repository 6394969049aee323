//! Talking to systemd (`Type=notify`): READY, STOPPING, EXTEND_TIMEOUT, STATUS and the
//! watchdog. Every call is a no-op when the process was not started by systemd
//! (no `NOTIFY_SOCKET`).

use std::time::Duration;

use sd_notify::NotifyState;
use tracing::debug;

fn notify(states: &[NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(error) = sd_notify::notify(false, states) {
        debug!(%error, "systemd notification failed");
    }
}

/// Asks systemd for more start-up time (migrations may take a while).
pub fn extend_startup(by: Duration) {
    let micros = u32::try_from(by.as_micros()).unwrap_or(u32::MAX);
    notify(&[NotifyState::ExtendTimeoutUsec(micros)]);
}

/// Tells systemd the service is ready: the database is migrated and the socket bound.
pub fn ready() {
    notify(&[NotifyState::Ready, NotifyState::Status("serving")]);
}

/// Tells systemd the service is stopping.
pub fn stopping() {
    notify(&[NotifyState::Stopping, NotifyState::Status("shutting down")]);
}

/// Sets the status line `systemctl status` shows.
pub fn status(line: &str) {
    notify(&[NotifyState::Status(line)]);
}

/// Pets the watchdog.
pub fn watchdog() {
    notify(&[NotifyState::Watchdog]);
}

/// The interval at which to pet the watchdog (half of `WATCHDOG_USEC`), if systemd set
/// one for this process.
pub fn watchdog_interval() -> Option<Duration> {
    let micros: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    let pid = std::env::var("WATCHDOG_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok());
    if pid.is_some_and(|pid| pid != std::process::id()) {
        return None;
    }
    (micros > 0).then(|| Duration::from_micros(micros / 2))
}
