//! Integration tests: the store driven through its messages, on every backend.

#[macro_use]
mod helpers;
mod support;

mod api;
mod archive;
mod bad_input;
mod concurrency;
mod conversations;
mod crash;
mod daemon;
mod history;
mod locking;
mod maintenance;
mod outage;
mod properties;
mod saving;
mod scheduler;
mod shape;
mod soak;
mod transfer;
mod validation;
