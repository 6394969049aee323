//! The `convstore` binary as a process (`fixtures::daemon`): start-up, systemd
//! notifications, refusals, clean shutdown, crash safety under SIGKILL, and a soak.

mod crash;
mod lifecycle;
mod refusals;
mod soak;
