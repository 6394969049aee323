//! The `convstore` binary as a process (`fixtures::daemon`): start-up, systemd
//! notifications, refusals, clean shutdown, crash safety under SIGKILL, a database
//! outage under systemd's watchdog, a soak, the README's bot loop over HTTP, and the
//! shape of `convstore bench`'s reports.

mod bench;
mod bot_loop;
mod crash;
mod lifecycle;
mod outage;
mod refusals;
mod soak;
