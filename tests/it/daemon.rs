//! The `convstore` binary as a process (`fixtures::daemon`): start-up, systemd
//! notifications, refusals, clean shutdown, crash safety under SIGKILL, a database
//! outage under systemd's watchdog, writes waiting for the SQLite writer (no thread
//! each), memory that stays flat on a large store, a soak, the README's bot loop over
//! HTTP, and the shape of `convstore bench`'s reports.

mod bench;
mod bot_loop;
mod crash;
mod lifecycle;
mod memory;
mod outage;
mod pile_up;
mod refusals;
mod soak;
